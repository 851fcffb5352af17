"""Privileged scripted agent: reads ground truth and drives ``ee_pose`` actions.

It is the bench's upper bound and its sanity check: if it fails, the env or
the task is wrong.  It is the only agent allowed to read the simulator.

Motion: top-down grasps with the fingers across a pair of cube faces, the wrist
yaw chosen closest to the arm's heading; straight-line moves of the commanded
pose at a bounded speed; each waypoint is left once the commanded pose has
arrived and the measured end effector is within tolerance (or after a timeout).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping

import numpy as np

from envs.cameras import Calibration
from envs.geometry import yaw_of_box
from envs.scene import BLOCK_HALF_SIZE_M, TABLE_TOP_Z_M

TOP_DOWN_PITCH_RAD = np.pi / 2  # gripper x axis pointing straight down


@dataclass(frozen=True)
class Waypoint:
    pos: np.ndarray
    yaw: float
    gripper: float  # opening in [0, 1]
    speed_m_s: float
    hold_steps: int = 0  # steps to stay after arriving (gripper motion, settling)


@dataclass(frozen=True)
class OracleSettings:
    travel_z_m: float = 0.12  # height of moves between objects
    fast_m_s: float = 0.25
    slow_m_s: float = 0.10  # final approach and lift
    grip_steps: int = 5  # steps to close or open the gripper
    arrive_tol_m: float = 0.006
    timeout_steps: int = 40  # give up waiting for a waypoint after this many steps
    place_clearance_m: float = 0.008  # release height above the resting pose


def grasp_yaw(block_R: np.ndarray, xy: np.ndarray) -> float:
    """Wrist yaw across a pair of cube faces, closest to the arm's heading."""
    heading = float(np.arctan2(xy[1], xy[0]))
    base = yaw_of_box(block_R)
    k = np.round((heading - base) / (np.pi / 2))
    return float(base + k * np.pi / 2)


class OracleAgent:
    """Scripted pick / place / stack from ground truth (privileged)."""

    privileged = True

    def __init__(self, env=None, settings: OracleSettings = OracleSettings(), control_freq: int | None = None):
        self.settings = settings
        self.env = None
        self.plan: list[Waypoint] = []
        if env is not None:
            self.bind(env)

    def bind(self, env) -> "OracleAgent":
        """Give the oracle the env it may read ground truth from."""
        self.env = env.unwrapped
        self.dt = 1.0 / self.env.control_freq
        return self

    def reset(self, instruction: str, calibration: Mapping[str, Calibration] | None = None) -> None:
        if self.env is None:
            raise RuntimeError("OracleAgent needs the env: call agent.bind(env) before reset()")
        self.plan = self._make_plan()
        self._i, self._steps_here, self._held = 0, 0, 0
        pos, _ = self.env.robot.ee_pose(self.env.data)
        self._cmd = pos.copy()

    # --- planning ----------------------------------------------------------
    def _make_plan(self) -> list[Waypoint]:
        env, s = self.env, self.settings
        task, scene = env.task, env.handle
        block = task.roles["block"]
        p = scene.block_pos(block)
        yaw = grasp_yaw(scene.block_rot(block), p[:2])
        plan = self._pick(p, yaw)
        if task.name == "place":
            goal = scene.mat_pos(task.roles["target"])
            goal[2] = TABLE_TOP_Z_M + BLOCK_HALF_SIZE_M
            plan += self._put(goal, yaw)
        elif task.name == "stack":
            goal = scene.block_pos(task.roles["base"])
            goal[2] += 2 * BLOCK_HALF_SIZE_M
            plan += self._put(goal, yaw)
        return plan

    def _pick(self, p: np.ndarray, yaw: float) -> list[Waypoint]:
        s = self.settings
        above = np.array([p[0], p[1], s.travel_z_m])
        return [
            Waypoint(above, yaw, 1.0, s.fast_m_s),
            Waypoint(p.copy(), yaw, 1.0, s.slow_m_s, hold_steps=1),
            Waypoint(p.copy(), yaw, 0.0, s.slow_m_s, hold_steps=s.grip_steps),
            Waypoint(above + [0, 0, 0.03], yaw, 0.0, s.slow_m_s, hold_steps=2),
        ]

    def _put(self, goal: np.ndarray, yaw: float) -> list[Waypoint]:
        s = self.settings
        above = np.array([goal[0], goal[1], s.travel_z_m + 0.03])
        release = goal + [0, 0, s.place_clearance_m]
        return [
            Waypoint(above, yaw, 0.0, s.fast_m_s),
            Waypoint(release, yaw, 0.0, s.slow_m_s, hold_steps=2),
            Waypoint(release, yaw, 1.0, s.slow_m_s, hold_steps=s.grip_steps),
            Waypoint(above, yaw, 1.0, s.slow_m_s),
        ]

    # --- acting ------------------------------------------------------------
    def act(self, obs: dict) -> np.ndarray:
        wp = self.plan[self._i]
        step = wp.speed_m_s * self.dt
        delta = wp.pos - self._cmd
        dist = np.linalg.norm(delta)
        self._cmd = wp.pos.copy() if dist <= step else self._cmd + delta * (step / dist)
        self._advance(wp, arrived=dist <= step)
        return np.array([*self._cmd, 0.0, TOP_DOWN_PITCH_RAD, wp.yaw, wp.gripper], dtype=np.float32)

    def _advance(self, wp: Waypoint, arrived: bool) -> None:
        self._steps_here += 1
        measured, _ = self.env.robot.ee_pose(self.env.data)
        close = np.linalg.norm(measured - wp.pos) < self.settings.arrive_tol_m
        if arrived and (close or self._steps_here > self.settings.timeout_steps):
            self._held += 1
        if self._held > wp.hold_steps and self._i < len(self.plan) - 1:
            self._i, self._steps_here, self._held = self._i + 1, 0, 0
