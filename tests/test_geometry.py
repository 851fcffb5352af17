"""Rotation conventions (BridgeData's R = Rz(yaw) Ry(pitch) Rx(roll)) and small helpers."""

import numpy as np
import pytest

from envs.geometry import euler_to_mat, look_at, mat_to_euler, mat_to_quat, quat_to_mat, rotation_error, yaw_of_box


def test_euler_round_trip_and_convention():
    rng = np.random.default_rng(0)
    for _ in range(50):
        rpy = rng.uniform([-np.pi, -1.5, -np.pi], [np.pi, 1.5, np.pi])
        np.testing.assert_allclose(mat_to_euler(euler_to_mat(*rpy)), rpy, atol=1e-9)
    # yaw turns x toward y; pitch +90 deg points x straight down
    np.testing.assert_allclose(euler_to_mat(0, 0, np.pi / 2)[:, 0], [0, 1, 0], atol=1e-12)
    np.testing.assert_allclose(euler_to_mat(0, np.pi / 2, 0)[:, 0], [0, 0, -1], atol=1e-12)


def test_gimbal_lock_keeps_the_rotation():
    for yaw in (-2.0, 0.3, 1.4):
        R = euler_to_mat(0.0, np.pi / 2, yaw)
        rpy = mat_to_euler(R)
        np.testing.assert_allclose(euler_to_mat(*rpy), R, atol=1e-9)
        assert rpy[2] == pytest.approx(yaw)


def test_quaternion_and_rotation_error():
    R = euler_to_mat(0.1, -0.4, 2.0)
    np.testing.assert_allclose(quat_to_mat(mat_to_quat(R)), R, atol=1e-12)
    err = rotation_error(euler_to_mat(0.1, -0.4, 2.3), R)
    np.testing.assert_allclose(err, [0, 0, 0.3], atol=1e-9)


def test_look_at_and_box_yaw():
    R = look_at((0, 0, 1), (0, 0, 0), up=(0, 1, 0))
    np.testing.assert_allclose(R[:, 2], [0, 0, -1])
    with pytest.raises(ValueError):
        look_at((0, 0, 1), (0, 0, 0))  # straight down with world-z up is degenerate
    assert yaw_of_box(euler_to_mat(0, 0, np.pi / 2 + 0.1)) == pytest.approx(0.1)
    assert yaw_of_box(euler_to_mat(0, 0, -np.pi + 0.2)) == pytest.approx(0.2)
