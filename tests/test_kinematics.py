"""The arm matches Menagerie's trossen_wx250s tree; IK reaches the workspace; grasps hold."""

import mujoco
import numpy as np
import pytest

from envs.cameras import DEFAULT_CAMERAS
from envs.geometry import euler_to_mat, rot_x, rot_y, rot_z, rotation_error
from envs.robot import ARM_JOINTS, Robot
from envs.scene import SceneConfig, build_model

# Menagerie trossen_wx250s/wx250s.xml, read independently of our XML:
# (body, parent offset (m), joint, axis, range)
MENAGERIE_CHAIN = [
    ("wx250s/shoulder_link", (0, 0, 0.072), "waist", "z", (-3.14158, 3.14158)),
    ("wx250s/upper_arm_link", (0, 0, 0.03865), "shoulder", "y", (-1.88496, 1.98968)),
    ("wx250s/upper_forearm_link", (0.04975, 0, 0.25), "elbow", "y", (-2.14675, 1.6057)),
    ("wx250s/lower_forearm_link", (0.175, 0, 0), "forearm_roll", "x", (-3.14158, 3.14158)),
    ("wx250s/wrist_link", (0.075, 0, 0), "wrist_angle", "y", (-1.74533, 2.14675)),
    ("wx250s/gripper_link", (0.065, 0, 0), "wrist_rotate", "x", (-3.14158, 3.14158)),
]
AXES = {"x": (1, 0, 0), "y": (0, 1, 0), "z": (0, 0, 1)}
ROT = {"x": rot_x, "y": rot_y, "z": rot_z}


@pytest.fixture(scope="module")
def model():
    return build_model(SceneConfig(), DEFAULT_CAMERAS)


def _reference_fk(q):
    """Body positions/rotations from the Menagerie chain table, plain numpy."""
    R, p, out = np.eye(3), np.zeros(3), {}
    for (body, offset, _, axis, _), qi in zip(MENAGERIE_CHAIN, q):
        p = p + R @ np.array(offset, float)
        R = R @ ROT[axis](qi)
        out[body] = (p.copy(), R.copy())
    return out


def test_model_parameters_match_menagerie(model):
    for body, offset, joint, axis, rng in MENAGERIE_CHAIN:
        np.testing.assert_allclose(model.body(body).pos, offset, atol=1e-12)
        j = model.joint(joint)
        assert model.body(j.bodyid[0]).name == body
        np.testing.assert_allclose(j.axis, AXES[axis])
        np.testing.assert_allclose(j.range, rng)
        assert j.armature[0] == pytest.approx(0.1) and j.frictionloss[0] == pytest.approx(0.1)
    for finger, rng in (("left_finger", (0.015, 0.037)), ("right_finger", (-0.037, -0.015))):
        np.testing.assert_allclose(model.joint(finger).range, rng)
        np.testing.assert_allclose(model.body(f"wx250s/{finger}_link").pos, (0.066, 0, 0))
    for name in ARM_JOINTS + ("gripper",):
        a = model.actuator(name)
        assert a.gainprm[0] == pytest.approx(200 if name == "gripper" else 50)
        np.testing.assert_allclose(a.forcerange, (-35, 35))
    eq = model.eq(0)
    np.testing.assert_allclose(eq.data[:5], (0, -1, 0, 0, 0))
    assert model.opt.timestep == pytest.approx(0.002)
    assert model.opt.integrator == mujoco.mjtIntegrator.mjINT_IMPLICITFAST


def test_forward_kinematics_agree_with_menagerie_tree(model):
    data = mujoco.MjData(model)
    robot = Robot(model)
    rng = np.random.default_rng(0)
    for _ in range(20):
        q = rng.uniform(robot.arm_range[:, 0], robot.arm_range[:, 1])
        data.qpos[robot.arm_qadr] = q
        mujoco.mj_kinematics(model, data)
        for body, (p, R) in _reference_fk(q).items():
            np.testing.assert_allclose(data.body(body).xpos, p, atol=1e-9)
            np.testing.assert_allclose(data.body(body).xmat.reshape(3, 3), R, atol=1e-9)
        # the end-effector site: 0.108 m along gripper_link's x
        p_g, R_g = _reference_fk(q)["wx250s/gripper_link"]
        np.testing.assert_allclose(robot.ee_pose(data)[0], p_g + R_g[:, 0] * 0.108, atol=1e-9)


def test_ik_reaches_top_down_poses_across_the_workspace(model):
    robot = Robot(model)
    rng = np.random.default_rng(1)
    q0 = robot.arm_qpos(mujoco.MjData(model))
    for _ in range(100):
        pos = np.array([rng.uniform(0.16, 0.36), rng.uniform(-0.17, 0.17), rng.uniform(0.015, 0.18)])
        R = euler_to_mat(0.0, np.pi / 2, np.arctan2(pos[1], pos[0]) + rng.uniform(-0.7, 0.7))
        q, err = robot.ik(pos, R, q0)
        assert err < 1e-3
        assert np.linalg.norm(rotation_error(R, robot.fk(q)[1])) < 1e-2
        assert np.all(q >= robot.arm_range[:, 0]) and np.all(q <= robot.arm_range[:, 1])


def test_ik_respects_joint_limits_on_unreachable_target(model):
    robot = Robot(model)
    q, err = robot.ik(np.array([1.0, 0.0, 0.2]), np.eye(3), robot.arm_qpos(mujoco.MjData(model)))
    assert err > 0.3
    assert np.all(q >= robot.arm_range[:, 0] - 1e-12) and np.all(q <= robot.arm_range[:, 1] + 1e-12)
