"""place_rel, sort, tower, gather, pick_ref and place_ref: success checks on hand-placed states, scenes that
always have one answer."""

import gymnasium as gym
import mujoco
import numpy as np
import pytest

import envs
from envs.scene import BLOCK_HALF_SIZE_M, SMALL_BLOCK_HALF_SIZE_M, TABLE_TOP_Z_M, TRAY_HALF_SIZE_M, block_color
from envs.tasks.gather import TRAY_SLOTS_M, on_tray
from envs.tasks.place_rel import DIRECTIONS, in_region
from envs.tasks.refer import KINDS, MARGIN_M, NEXT_TO_M, Expression, SceneCube, resolve

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
    _put(u, ref, ref_xy)
    _put(u, block, ref_xy + [0.0, 0.07], REST_Z + 0.05)  # dropped from 5 cm over the region
    cond = _settle(u, steps=5)
    assert cond["in_region"] and not cond["on_table"] and not cond["static"]  # still falling
    cond = _settle(u, steps=500)
    assert cond["in_region"] and cond["on_table"] and cond["static"]  # landed and at rest


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


def test_gather_counts_the_cubes_on_the_tray():
    u = _env("gather")
    tray, blocks = u.handle.tray_pos()[:2], u.task.blocks
    for c, slot in zip(blocks, TRAY_SLOTS_M):
        _put(u, c, tray + slot)
    cond = _settle(u)
    assert cond["all_placed"] and cond["placed_3_of_3"] and cond["released"] and cond["static"]
    _put(u, blocks[0], tray + [TRAY_HALF_SIZE_M + 0.03, 0.0])  # just off the tray's edge
    cond = _settle(u)
    assert not cond["all_placed"] and cond["placed_2_of_3"] and not cond["placed_3_of_3"]
    assert on_tray(np.array([TRAY_HALF_SIZE_M - 0.001, -TRAY_HALF_SIZE_M + 0.001]))
    assert not on_tray(np.array([TRAY_HALF_SIZE_M + 0.001, 0.0])) and not on_tray(np.array([0.0, -0.071]))


def _cube(i, color, x, y, half=BLOCK_HALF_SIZE_M):
    return SceneCube(i, color, np.array([x, y]), half)


def test_resolve_picks_the_one_cube_each_expression_names_and_refuses_close_calls():
    cubes = [_cube("red", "red", 0.25, 0.10), _cube("red_2", "red", 0.25, -0.05), _cube("blue", "blue", 0.30, 0.0)]
    mats = {"green": np.array([0.20, -0.12])}
    assert resolve(Expression("extreme", None, "left"), cubes, mats) == ["red"]  # robot's left is +y
    assert resolve(Expression("extreme", None, "right"), cubes, mats) == ["red_2"]
    assert resolve(Expression("extreme", "red", "far"), cubes, mats) == []  # both reds 0.27 m away: a tie
    assert resolve(Expression("extreme", None, "far"), cubes, mats) == ["blue"]
    assert resolve(Expression("ordinal", None, "left"), cubes, mats) == ["blue"]  # y order: red, blue, red_2
    assert resolve(Expression("mat_distance", None, "near", "green"), cubes, mats) == ["red_2"]
    assert resolve(Expression("next_to", "red", None, "green"), cubes, mats) == ["red_2"]  # 8.6 cm vs 23 cm
    assert resolve(Expression("next_to", "blue", None, "green"), cubes, mats) == []  # 16 cm: not next to it
    assert resolve(Expression("size", "red", size="small"), cubes, mats) == []  # one size only
    small = [cubes[0], _cube("red_small", "red", 0.2, -0.1, SMALL_BLOCK_HALF_SIZE_M), cubes[2]]
    assert resolve(Expression("size", "red", size="small"), small, mats) == ["red_small"]
    assert resolve(Expression("size", "red", size="big"), small, mats) == ["red"]
    close = [_cube("red", "red", 0.25, 0.10), _cube("red_2", "red", 0.30, 0.08)]  # 2 cm apart in y: no margin
    assert resolve(Expression("extreme", None, "left"), close, mats) == []


def _independent_answer(expr, cubes, mats):
    """The referent by a direct reading of the expression (written apart from resolve()), or None."""
    pool = [c for c in cubes if expr.color in (None, c.color)]
    if expr.kind == "size":
        want = min if expr.size == "small" else max
        sizes = [c.half for c in pool]
        return next(c.id for c in pool if c.half == want(sizes)) if len(set(sizes)) == len(pool) == 2 else None
    if expr.kind == "next_to":
        d = sorted((np.hypot(*(c.xy - mats[expr.mat])), c.id) for c in pool)
        ok = d[0][0] <= NEXT_TO_M and all(v >= NEXT_TO_M + MARGIN_M for v, _ in d[1:])
        return d[0][1] if ok else None
    if expr.kind == "mat_distance":
        key = {c.id: np.hypot(*(c.xy - mats[expr.mat])) * (1 if expr.direction == "far" else -1) for c in pool}
    elif expr.direction in ("left", "right"):
        key = {c.id: c.xy[1] * (1 if expr.direction == "left" else -1) for c in pool}
    else:
        key = {c.id: np.hypot(*c.xy) * (1 if expr.direction == "far" else -1) for c in pool}
    order = sorted(key, key=key.get, reverse=True)
    k = 1 if expr.kind == "ordinal" else 0
    neighbours = [order[j] for j in (k - 1, k + 1) if 0 <= j < len(order)]
    return order[k] if all(key[order[k]] - key[n] >= MARGIN_M - 1e-9 if key[order[k]] > key[n] else
                           key[n] - key[order[k]] >= MARGIN_M - 1e-9 for n in neighbours) else None


@pytest.mark.parametrize("task", ["pick_ref", "place_ref"])
def test_a_thousand_referring_scenes_each_have_exactly_one_answer(task):
    u = _env(task)
    kinds = set()
    for seed in range(1000):
        u.task.initialize_episode(u.handle, np.random.default_rng(seed))
        t, h = u.task, u.handle
        referent, expr = t.roles["block"], t.expression
        cubes = [SceneCube(b, block_color(b), h.placed_xy(b), h.block_half(b)) for b in h.active_blocks]
        mats = {m: h.mat_pos(m)[:2] for m in h.active_mats}
        # colour alone is ambiguous: another cube shares the referent's colour
        assert sum(c.color == block_color(referent) for c in cubes) >= 2, seed
        assert _independent_answer(expr, cubes, mats) == referent, (seed, t.instruction)
        assert resolve(expr, cubes, mats) == [referent], (seed, t.instruction)
        if task == "place_ref":  # the target mat is named by a colour no cube has
            assert t.roles["target"] in h.active_mats and t.roles["target"] not in {c.color for c in cubes}
        kinds.add(expr.kind)
        instruction, roles = t.instruction, dict(t.roles)
        u.task.initialize_episode(u.handle, np.random.default_rng(seed))
        assert u.task.instruction == instruction and u.task.roles == roles  # seeded
    assert kinds == set(KINDS)


def test_a_thousand_gather_scenes_are_seeded_and_start_unsolved():
    u = _env("gather")
    for seed in range(1000):
        u.task.initialize_episode(u.handle, np.random.default_rng(seed))
        tray, blocks = u.handle.tray_pos()[:2], u.task.blocks
        assert len(set(blocks)) == 3 and not any(on_tray(u.handle.placed_xy(c) - tray) for c in blocks), seed
        roles = dict(u.task.roles)
        u.task.initialize_episode(u.handle, np.random.default_rng(seed))
        assert u.task.roles == roles and np.allclose(u.handle.tray_pos()[:2], tray)


def test_pick_ref_and_place_ref_score_the_referent_not_its_twin():
    u = _env("pick_ref")
    referent = u.task.roles["block"]
    twin = next(b for b in u.handle.active_blocks if b != referent and block_color(b) == block_color(referent))
    _put(u, twin, u.handle.placed_xy(twin), 0.09)  # the twin up in the air: not what was asked
    mujoco.mj_forward(u.model, u.data)
    assert not u.task.conditions(u.handle)["lifted"]
    _put(u, referent, u.handle.placed_xy(referent), 0.09)
    mujoco.mj_forward(u.model, u.data)
    cond = u.task.conditions(u.handle)
    assert cond["lifted"] and not cond["is_grasped"]  # lifted, but not held: pick needs both
    u = _env("place_ref")
    referent, target = u.task.roles["block"], u.task.roles["target"]
    twin = next(b for b in u.handle.active_blocks if b != referent and block_color(b) == block_color(referent))
    _put(u, twin, u.handle.mat_pos(target)[:2], TABLE_TOP_Z_M + u.handle.block_half(twin))
    assert not _settle(u)["on_target"]
    _put(u, twin, [0.34, 0.15], TABLE_TOP_Z_M + u.handle.block_half(twin))
    _put(u, referent, u.handle.mat_pos(target)[:2], TABLE_TOP_Z_M + u.handle.block_half(referent))
    cond = _settle(u)
    assert cond["on_target"] and cond["on_table"] and cond["released"] and cond["static"]
