"""Bounded-speed straight-line motion of a commanded end-effector position.

Shared by the oracle and the tool agents: the command moves toward a target at
most ``speed * dt`` per control step; a waypoint counts as reached once the
command has arrived and the *measured* end effector (``obs["state"][:3]``) is
within tolerance, or after a timeout (a blocked or unreachable target must not
stall an episode).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

TOP_DOWN_PITCH_RAD = np.pi / 2  # gripper x axis pointing straight down (R = Rz(yaw) Ry(pitch))

# Grasp defaults shared by the oracle and the tool agent (each exposes them in its settings).
TRAVEL_Z_M = 0.12  # height of moves between objects
CARRY_EXTRA_Z_M = 0.03  # travel this much higher while holding a cube
PLACE_CLEARANCE_M = 0.008  # release height above the resting pose
GRIP_STEPS = 5  # control steps to close or open the gripper


@dataclass(frozen=True)
class MotionSettings:
    fast_m_s: float = 0.25  # free-space moves
    slow_m_s: float = 0.10  # final approach, lift, place
    arrive_tol_m: float = 0.006
    timeout_steps: int = 40


class BoundedMotion:
    def __init__(self, control_freq: float, settings: MotionSettings = MotionSettings()):
        self.dt, self.settings = 1.0 / control_freq, settings
        self.cmd = np.zeros(3)
        self._steps = 0

    def reset(self, pos: np.ndarray) -> None:
        self.cmd = np.asarray(pos, float).copy()
        self._steps = 0

    def new_target(self) -> None:
        self._steps = 0

    def step(self, target: np.ndarray, speed: float, measured: np.ndarray) -> bool:
        """Advance the command toward ``target``; True once the waypoint is reached."""
        self._steps += 1
        delta = np.asarray(target, float) - self.cmd
        dist, reach = float(np.linalg.norm(delta)), speed * self.dt
        self.cmd = np.asarray(target, float).copy() if dist <= reach else self.cmd + delta * (reach / dist)
        arrived = dist <= reach
        close = np.linalg.norm(np.asarray(measured) - target) < self.settings.arrive_tol_m
        return bool(arrived and (close or self._steps > self.settings.timeout_steps))

    def action(self, yaw: float, gripper: float) -> np.ndarray:
        """A top-down ``ee_pose`` action at the current command."""
        return np.array([*self.cmd, 0.0, TOP_DOWN_PITCH_RAD, yaw, gripper], dtype=np.float32)


def closest_face_yaw(box_yaw: float, xy: np.ndarray) -> float:
    """``box_yaw`` + k * 90 deg closest to the heading from the robot base to ``xy``."""
    heading = float(np.arctan2(xy[1], xy[0]))
    k = np.round((heading - box_yaw) / (np.pi / 2))
    return float(box_yaw + k * np.pi / 2)
