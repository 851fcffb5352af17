"""Calibration error: the reported extrinsics of the perturbed cameras off by a fixed distance and angle.

Per episode a direction (for the position error) and a rotation axis (for the orientation error) are drawn;
the magnitudes are exactly ``calibration_error_mm`` and ``calibration_error_deg``.  Intrinsics are kept.
Only what ``env.calibration()`` reports changes; ``env.true_calibration()`` stays the ground truth.
"""

from __future__ import annotations

import numpy as np

from envs.cameras import Calibration
from envs.factors import Effect, register

MM_PER_M = 1000.0


def unit_vector(rng: np.random.Generator) -> np.ndarray:
    v = rng.normal(size=3)
    return v / np.linalg.norm(v)


def axis_angle(axis: np.ndarray, angle_rad: float) -> np.ndarray:
    """Rotation matrix of ``angle_rad`` about the unit ``axis`` (Rodrigues)."""
    k = np.array([[0.0, -axis[2], axis[1]], [axis[2], 0.0, -axis[0]], [-axis[1], axis[0], 0.0]])
    return np.eye(3) + np.sin(angle_rad) * k + (1.0 - np.cos(angle_rad)) * k @ k


@register
class CalibrationNoise(Effect):
    stream = 8
    axes = ("calibration_error_mm", "calibration_error_deg")

    def bind(self, env) -> None:
        self.cameras = tuple(env.perturbed_cameras)
        self.offset, self.rotation = np.zeros(3), np.eye(3)

    def reset(self, env, rng: np.random.Generator) -> None:
        c = self.config
        self.offset = unit_vector(rng) * c.calibration_error_mm / MM_PER_M
        self.rotation = axis_angle(unit_vector(rng), np.deg2rad(c.calibration_error_deg))

    def calibration(self, camera: str, calibration: Calibration) -> Calibration:
        if camera not in self.cameras:
            return calibration
        T = calibration.T_world_cam.copy()
        T[:3, :3] = T[:3, :3] @ self.rotation  # turned about an axis of the camera's own frame
        T[:3, 3] = T[:3, 3] + self.offset
        return Calibration(calibration.name, calibration.K.copy(), T, calibration.width, calibration.height)
