"""Success checks on hand-placed states: each sub-condition flips when it should."""

import mujoco
import numpy as np
import pytest

from agents.oracle import grasp_yaw
from envs.geometry import euler_to_mat
from envs.scene import BLOCK_HALF_SIZE_M, MAT_RADIUS_M

H = BLOCK_HALF_SIZE_M


def _env(make_env, task):
    env = make_env(task=task, control_mode="joint_pos", obs_cameras=())
    env.reset(seed=7)
    return env, env.unwrapped


def _step(env, n, gripper=1.0):
    u = env.unwrapped
    q = u.data.ctrl[u.robot.arm_act].copy()
    for _ in range(n):
        _, _, terminated, _, info = env.step(np.r_[q, gripper].astype(np.float32))
    return info["eval"], terminated


def _park_arm_high(u):
    """Move the arm up and out of the way (teleport), commands matching."""
    q, _ = u.robot.ik(np.array([0.15, -0.2, 0.3]), euler_to_mat(0, np.pi / 2, 0), u.robot.arm_qpos(u.data))
    u.data.qpos[u.robot.arm_qadr] = q
    u.data.ctrl[u.robot.arm_act] = q
    mujoco.mj_forward(u.model, u.data)


def _grasp_in_air(u, color, pos):
    """Teleport the open gripper around ``color``'s cube held at ``pos``; return arm q."""
    yaw = grasp_yaw(u.handle.block_rot(color), pos[:2])
    q, err = u.robot.ik(pos, euler_to_mat(0.0, np.pi / 2, yaw), u.robot.arm_qpos(u.data))
    assert err < 1e-3
    u.data.qpos[u.robot.arm_qadr] = q
    u.data.ctrl[u.robot.arm_act] = q
    u.handle.set_block_pose(color, pos, yaw)
    mujoco.mj_forward(u.model, u.data)


def test_place_on_target_released_settled_succeeds(make_env):
    env, u = _env(make_env, "place")
    block, target = u.task.roles["block"], u.task.roles["target"]
    _park_arm_high(u)
    u.handle.set_block_pose(block, u.handle.mat_pos(target) + [0.02, 0.0, H], 0.3)
    ev, _ = _step(env, 1)
    assert ev["on_target"] and ev["on_table"] and ev["released"] and not ev["success"]  # not settled yet
    ev, terminated = _step(env, u.task.config.settle_steps - 1)
    assert ev["success"] and terminated


def test_place_off_target_fails(make_env):
    env, u = _env(make_env, "place")
    block, target = u.task.roles["block"], u.task.roles["target"]
    _park_arm_high(u)
    u.handle.set_block_pose(block, u.handle.mat_pos(target) + [MAT_RADIUS_M + 0.01, 0.0, H], 0.0)
    ev, _ = _step(env, 5)
    assert not ev["on_target"] and ev["released"] and not ev["success"]


def test_place_held_over_target_is_not_released(make_env):
    env, u = _env(make_env, "place")
    block, target = u.task.roles["block"], u.task.roles["target"]
    _grasp_in_air(u, block, u.handle.mat_pos(target) + [0, 0, H + 0.003])
    ev, _ = _step(env, 8, gripper=0.0)
    assert ev["is_grasped"] and not ev["released"] and ev["on_target"] and not ev["success"]


def test_pick_resting_block_is_not_lifted(make_env):
    env, u = _env(make_env, "pick")
    ev, _ = _step(env, 5)
    assert not ev["lifted"] and not ev["is_grasped"] and not ev["success"]


def test_pick_grasped_and_lifted_succeeds(make_env):
    env, u = _env(make_env, "pick")
    block = u.task.roles["block"]
    p = u.handle.block_pos(block)
    _grasp_in_air(u, block, np.array([p[0], p[1], 0.12]))
    ev, terminated = _step(env, 10, gripper=0.0)
    assert ev["is_grasped"] and ev["lifted"] and ev["success"] and terminated
    assert u.handle.block_pos(block)[2] > 0.1  # the grasp really holds the cube against gravity


def test_pick_falling_block_is_lifted_but_not_grasped(make_env):
    env, u = _env(make_env, "pick")
    block = u.task.roles["block"]
    _park_arm_high(u)
    u.handle.set_block_pose(block, u.handle.block_pos(block) + [0, 0, 0.25], 0.0)
    mujoco.mj_forward(u.model, u.data)
    ev = u.task.evaluate(u.handle)
    assert ev["lifted"] and not ev["is_grasped"] and not ev["success"]


def test_pick_released_in_air_drops_and_fails(make_env):
    env, u = _env(make_env, "pick")
    block = u.task.roles["block"]
    p = u.handle.block_pos(block)
    _grasp_in_air(u, block, np.array([p[0], p[1], 0.12]))
    _step(env, 8, gripper=0.0)
    ev, _ = _step(env, 10, gripper=1.0)
    assert not ev["is_grasped"] and not ev["lifted"] and not ev["success"]


@pytest.mark.parametrize("offset, stacked", [
    ((0.0, 0.0), True), ((0.012, -0.008), True), ((0.06, 0.0), False)])
def test_stack_on_top_or_beside(make_env, offset, stacked):
    env, u = _env(make_env, "stack")
    block, base = u.task.roles["block"], u.task.roles["base"]
    _park_arm_high(u)
    base_pos = u.handle.block_pos(base)
    u.handle.set_block_pose(base, base_pos, 0.0)
    u.handle.set_block_pose(block, base_pos + [offset[0], offset[1], 2 * H + 0.001], 0.0)
    ev, _ = _step(env, 6)
    assert ev["on_top"] is stacked and ev["base_on_table"]
    assert ev["success"] is stacked


def test_stack_held_above_base_is_not_stacked(make_env):
    env, u = _env(make_env, "stack")
    block, base = u.task.roles["block"], u.task.roles["base"]
    _grasp_in_air(u, block, u.handle.block_pos(base) + [0, 0, 2 * H + 0.03])
    ev, _ = _step(env, 8, gripper=0.0)
    assert ev["is_grasped"] and not ev["on_top"] and not ev["released"] and not ev["success"]


def test_success_needs_consecutive_steps(make_env):
    env, u = _env(make_env, "place")
    block, target = u.task.roles["block"], u.task.roles["target"]
    _park_arm_high(u)
    u.handle.set_block_pose(block, u.handle.mat_pos(target) + [0, 0, H], 0.0)
    ev, _ = _step(env, 1)
    assert ev["conditions_met"] and ev["held_steps"] == 1
    u.handle.set_block_pose(block, u.handle.mat_pos(target) + [0.2, 0, H], 0.0)  # knocked off
    ev, _ = _step(env, 1)
    assert ev["held_steps"] == 0 and not ev["success"]
    # evaluate() again in the same step does not advance the counter
    assert u.task.evaluate(u.handle)["held_steps"] == 0


def _rest(u, block, xy):
    u.handle.set_block_pose(block, np.array([xy[0], xy[1], u.handle.block_half(block)]), 0.0)


@pytest.mark.parametrize("task", ["sort", "gather", "tower", "place_ref", "pick_ref", "place_rel"])
def test_a_cube_still_in_the_gripper_holds_back_every_new_task(make_env, task):
    """Every step done but the last cube still held at its goal (it may slide down onto it between the
    fingers): grasped, not released, no success (pick_ref: held up high is its success)."""
    env, u = _env(make_env, task)
    _park_arm_high(u)
    t, h = u.task, u.handle
    if task == "sort":
        *done, last = t.pairs
        for c in done:
            _rest(u, c, h.mat_pos(c)[:2])
        goal = h.mat_pos(last)[:3] + [0, 0, H + 0.01]
    elif task == "gather":
        from envs.tasks.gather import TRAY_SLOTS_M
        *done, last = t.blocks
        for c, slot in zip(done, TRAY_SLOTS_M):
            _rest(u, c, h.tray_pos()[:2] + slot)
        goal = np.r_[h.tray_pos()[:2] + TRAY_SLOTS_M[2], H + 0.01]
    elif task == "tower":
        bottom, middle, last = (t.roles[r] for r in ("bottom", "middle", "top"))
        _rest(u, bottom, [0.26, 0.0])
        h.set_block_pose(middle, np.array([0.26, 0.0, 3 * H]), 0.0)
        goal = np.array([0.26, 0.0, 5 * H + 0.01])
    elif task == "place_rel":
        from envs.tasks.place_rel import DIRECTIONS
        last = t.roles["block"]
        goal = np.r_[h.block_pos(t.roles["reference"])[:2] + 0.07 * np.array(DIRECTIONS[t.relation]), H + 0.01]
    else:
        last = t.roles["block"]
        goal = (h.mat_pos(t.roles["target"])[:3] + [0, 0, h.block_half(last) + 0.01] if task == "place_ref"
                else np.r_[h.placed_xy(last), 0.09])
    mujoco.mj_forward(u.model, u.data)
    _grasp_in_air(u, last, goal)
    ev, _ = _step(env, 8, gripper=0.0)
    assert ev["is_grasped"]
    if task == "pick_ref":
        assert ev["lifted"] and ev["success"]
        return
    assert not ev["released"] and not ev["success"]
    if task in ("sort", "gather"):
        k = len(t.pairs if task == "sort" else t.blocks)
        assert ev[f"placed_{k - 1}_of_{k}"]  # the steps done still count
    elif task == "tower":
        assert ev["middle_on_bottom"] and ev["bottom_on_table"]
    elif task == "place_rel":
        assert ev["in_region"] and ev["reference_kept"]
    else:
        assert ev["on_target"]
