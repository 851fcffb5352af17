"""place_rel, sort and tower: success checks on hand-placed states, scenes that always have one answer."""

import gymnasium as gym
import mujoco
import numpy as np
import pytest

import envs
from envs.scene import BLOCK_HALF_SIZE_M, TABLE_TOP_Z_M
from envs.tasks.place_rel import DIRECTIONS, in_region

REST_Z = TABLE_TOP_Z_M + BLOCK_HALF_SIZE_M


def _env(task):
    env = gym.make(envs.ENV_ID, task=task, obs_cameras=())
    env.reset(seed=0)
    return env.unwrapped


def _put(u, color, xy, z=REST_Z):
    u.handle.set_block_pose(color, np.array([xy[0], xy[1], z]), 0.0)


def _settle(u, steps=100):
    mujoco.mj_step(u.model, u.data, nstep=steps)
    return u.task.conditions(u.handle)


@pytest.mark.parametrize("relation", sorted(DIRECTIONS))
def test_place_rel_region_in_centimetres(relation):
    d = np.array(DIRECTIONS[relation])
    across = np.array([-d[1], d[0]])
    assert in_region(0.07 * d, relation) and in_region(0.041 * d + 0.039 * across, relation)
    assert not in_region(0.035 * d, relation) and not in_region(0.125 * d, relation)
    assert not in_region(0.07 * d + 0.045 * across, relation) and not in_region(-0.07 * d, relation)


def test_place_rel_conditions_on_a_hand_placed_scene():
    u = _env("place_rel")
    task, block, ref = u.task, u.task.roles["block"], u.task.roles["reference"]
    task.relation, ref_xy = "left", np.array([0.26, -0.05])
    task.reference_start = ref_xy
    for c in u.handle.active_blocks:  # distractors out of the way
        if c not in (block, ref):
            _put(u, c, [0.32, 0.14])
    _put(u, ref, ref_xy)
    _put(u, block, ref_xy + [0.0, 0.07])  # 7 cm to the robot's left (+y)
    cond = _settle(u)
    assert cond["in_region"] and cond["on_table"] and cond["released"] and cond["static"] and cond["reference_kept"]
    _put(u, block, ref_xy + [0.0, -0.07])  # to its right instead
    assert not _settle(u)["in_region"]
    _put(u, block, ref_xy + [0.0, 0.07])
    _put(u, ref, ref_xy + [0.03, 0.0])  # the reference pushed 3 cm
    cond = _settle(u)
    assert not cond["reference_kept"]


def test_sort_counts_the_pairs_that_hold():
    u = _env("sort")
    pairs = u.task.pairs
    k = len(pairs)
    for c in pairs:
        _put(u, c, u.handle.mat_pos(c)[:2])
    cond = _settle(u)
    assert cond["all_placed"] and cond[f"placed_{k}_of_{k}"] and cond["released"] and cond["static"]
    _put(u, pairs[0], u.handle.mat_pos(pairs[1])[:2] + [0.0, 0.03])  # first cube beside another colour's mat
    cond = _settle(u)
    assert not cond["all_placed"] and cond[f"placed_{k - 1}_of_{k}"] and not cond[f"placed_{k}_of_{k}"]


def test_tower_needs_each_level_in_order():
    u = _env("tower")
    bottom, middle, top = (u.task.roles[r] for r in ("bottom", "middle", "top"))
    xy = np.array([0.26, 0.0])
    _put(u, bottom, xy)
    _put(u, middle, xy, REST_Z + 2 * BLOCK_HALF_SIZE_M)
    _put(u, top, xy, REST_Z + 4 * BLOCK_HALF_SIZE_M)
    cond = _settle(u)
    assert cond["middle_on_bottom"] and cond["top_on_middle"] and cond["bottom_on_table"] and cond["static"]
    _put(u, top, [0.2, 0.1])  # one level only
    cond = _settle(u)
    assert cond["middle_on_bottom"] and not cond["top_on_middle"]
    _put(u, middle, [0.3, -0.1])  # the wrong order: top on bottom
    _put(u, top, xy, REST_Z + 2 * BLOCK_HALF_SIZE_M)
    cond = _settle(u)
    assert not cond["middle_on_bottom"] and not cond["top_on_middle"]


@pytest.mark.parametrize("task", ["place_rel", "sort", "tower"])
def test_a_thousand_scenes_each_have_one_answer_and_are_seeded(task):
    u = _env(task)
    seen = set()
    for seed in range(1000):
        rng = np.random.default_rng(seed)
        u.task.initialize_episode(u.handle, rng)
        roles = dict(u.task.roles)
        if task == "place_rel":
            mujoco.mj_kinematics(u.model, u.data)
            offset = u.handle.block_pos(roles["block"])[:2] - u.handle.block_pos(roles["reference"])[:2]
            assert not in_region(offset, u.task.relation), seed  # never solved at the start
            assert roles["block"] != roles["reference"]
            seen.add(u.task.relation)
        elif task == "sort":
            assert len(set(u.task.pairs)) == len(u.task.pairs) and set(u.task.pairs) <= set(u.handle.active_mats)
            seen.add(len(u.task.pairs))
        else:
            assert len({roles["bottom"], roles["middle"], roles["top"]}) == 3
            seen.add(roles["bottom"])
        instruction = u.task.instruction
        u.task.initialize_episode(u.handle, np.random.default_rng(seed))
        assert u.task.instruction == instruction and u.task.roles == roles  # seeded
    assert len(seen) >= (4 if task == "place_rel" else 2)  # every relation, both pair counts, several bases
