"""Small rigid-body helpers: rotations, homogeneous transforms, look-at frames.

Euler angles follow BridgeData / Interbotix: ``R = Rz(yaw) @ Ry(pitch) @ Rx(roll)``
(static x-y-z axes), all in radians.
"""

from __future__ import annotations

import math

import numpy as np


def norm(v: np.ndarray) -> float:
    """``np.linalg.norm`` of a 1-D float vector (the same sqrt(v . v), bit for bit) without its
    per-call overhead, for the per-step paths."""
    return math.sqrt(v.dot(v))


def rot_x(a: float) -> np.ndarray:
    c, s = np.cos(a), np.sin(a)
    return np.array([[1.0, 0, 0], [0, c, -s], [0, s, c]])


def rot_y(a: float) -> np.ndarray:
    c, s = np.cos(a), np.sin(a)
    return np.array([[c, 0, s], [0, 1.0, 0], [-s, 0, c]])


def rot_z(a: float) -> np.ndarray:
    c, s = np.cos(a), np.sin(a)
    return np.array([[c, -s, 0], [s, c, 0], [0, 0, 1.0]])


def euler_to_mat(roll: float, pitch: float, yaw: float) -> np.ndarray:
    return rot_z(yaw) @ rot_y(pitch) @ rot_x(roll)


def mat_to_euler(R: np.ndarray) -> np.ndarray:
    """Inverse of :func:`euler_to_mat`; at pitch = +-pi/2 roll is set to 0."""
    sy = -R[2, 0]
    pitch = np.arcsin(min(max(sy, -1.0), 1.0))  # np.clip's value, without its per-call overhead
    if abs(sy) < 1.0 - 1e-9:
        roll = np.arctan2(R[2, 1], R[2, 2])
        yaw = np.arctan2(R[1, 0], R[0, 0])
    else:  # gimbal lock: only yaw - sign*roll is defined
        roll = 0.0
        yaw = np.arctan2(-R[0, 1], R[1, 1])
    return np.array([roll, pitch, yaw])


def mat_to_quat(R: np.ndarray) -> np.ndarray:
    """Rotation matrix to unit quaternion (w, x, y, z), MuJoCo's order."""
    import mujoco

    q = np.zeros(4)
    mujoco.mju_mat2Quat(q, np.asarray(R, dtype=float).reshape(9))
    return q


def quat_to_mat(q: np.ndarray) -> np.ndarray:
    import mujoco

    R = np.zeros(9)
    mujoco.mju_quat2Mat(R, np.asarray(q, dtype=float))
    return R.reshape(3, 3)


def make_T(R: np.ndarray, t: np.ndarray) -> np.ndarray:
    T = np.eye(4)
    T[:3, :3] = R
    T[:3, 3] = t
    return T


def rotation_error(R_target: np.ndarray, R: np.ndarray) -> np.ndarray:
    """Axis-angle vector (world frame) that rotates ``R`` onto ``R_target``."""
    return quat_error(mat_to_quat(R_target), mat_to_quat(R))


def quat_error(q_target: np.ndarray, q: np.ndarray) -> np.ndarray:
    """Axis-angle vector (world frame) that rotates unit quaternion ``q`` onto ``q_target``."""
    import mujoco

    q_conj, q_err, v = np.empty(4), np.empty(4), np.empty(3)
    mujoco.mju_negQuat(q_conj, q)
    mujoco.mju_mulQuat(q_err, q_target, q_conj)
    mujoco.mju_quat2Vel(v, q_err, 1.0)
    return v


def look_at(eye, target, up=(0.0, 0.0, 1.0)) -> np.ndarray:
    """World-from-camera rotation in OpenCV axes (x right, y down, z forward)."""
    eye, target, up = (np.asarray(v, dtype=float) for v in (eye, target, up))
    z = target - eye
    if np.linalg.norm(z) < 1e-9:
        raise ValueError("look_at: eye and target coincide")
    z /= np.linalg.norm(z)
    x = np.cross(z, up)
    if np.linalg.norm(x) < 1e-9:
        raise ValueError("look_at: viewing direction is parallel to 'up'")
    x /= np.linalg.norm(x)
    y = np.cross(z, x)
    return np.column_stack([x, y, z])


def yaw_of_box(R: np.ndarray) -> float:
    """Yaw of a box about world z, folded into [-pi/4, pi/4) (a cube's symmetry)."""
    yaw = np.arctan2(R[1, 0], R[0, 0])
    return float((yaw + np.pi / 4) % (np.pi / 2) - np.pi / 4)
