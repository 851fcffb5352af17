"""Privileged scripted agent: reads ground truth and drives ``ee_pose`` actions.

It is the bench's upper bound and its sanity check: if it fails, the env or
the task is wrong.  It is the only agent allowed to read the simulator.

Motion: top-down grasps with the fingers across a pair of cube faces, the wrist
yaw chosen closest to the arm's heading; straight-line moves at a bounded speed
(:mod:`agents.motion`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping

import numpy as np

from agents.base import PrivilegedAgent
from agents.errors import AgentError
from agents.motion import (
    CARRY_EXTRA_Z_M,
    GRIP_STEPS,
    PLACE_CLEARANCE_M,
    TRAVEL_Z_M,
    BoundedMotion,
    MotionSettings,
    closest_face_yaw,
)
from envs.cameras import Calibration
from envs.geometry import yaw_of_box
from envs.scene import TABLE_TOP_Z_M

REPLAN_TOLERANCE_M = 0.01  # the cube moved farther than this from where the plan grasps it: plan again
CLOSE_WAYPOINT = 2  # index of the "close the gripper" waypoint in a plan from _make_plan


@dataclass(frozen=True)
class Waypoint:
    pos: np.ndarray
    yaw: float
    gripper: float  # opening in [0, 1]
    speed_m_s: float
    hold_steps: int = 0  # steps to stay after arriving (gripper motion, settling)


@dataclass(frozen=True)
class OracleSettings:
    travel_z_m: float = TRAVEL_Z_M
    carry_extra_z_m: float = CARRY_EXTRA_Z_M
    grip_steps: int = GRIP_STEPS
    place_clearance_m: float = PLACE_CLEARANCE_M
    motion: MotionSettings = MotionSettings()


def grasp_yaw(block_R: np.ndarray, xy: np.ndarray) -> float:
    """Wrist yaw across a pair of cube faces, closest to the arm's heading."""
    return closest_face_yaw(yaw_of_box(block_R), xy)


class OracleAgent(PrivilegedAgent):
    """Scripted pick-and-place steps (the task's subgoals, in order) from ground truth (privileged)."""

    def __init__(self, env=None, settings: OracleSettings = OracleSettings()):
        self.settings = settings
        self.env: Any = None  # the unwrapped WidowXTabletopEnv, once bound
        self._i = self._held = 0
        self.plan: list[Waypoint] = []
        if env is not None:
            self.bind(env)

    def bind(self, env) -> OracleAgent:
        """Give the oracle the env it may read ground truth from."""
        self.env = env.unwrapped
        self.motion = BoundedMotion(self.env.control_freq, self.settings.motion)
        return self

    def reset(self, instruction: str, calibration: Mapping[str, Calibration] | None = None) -> None:
        if self.env is None:
            raise AgentError("OracleAgent needs the env: call agent.bind(env) before reset()")
        self.subgoals, self._k = self.env.task.subgoals(), 0
        self.plan = self._make_plan()
        self._i, self._held = 0, 0
        self.replans, self._close_at = 0, CLOSE_WAYPOINT
        self.motion.reset(self.env.robot.ee_pose(self.env.data)[0])

    # --- planning ----------------------------------------------------------
    def _make_plan(self) -> list[Waypoint]:
        """Pick and put of the current subgoal, from where things are now."""
        sg, scene = self.subgoals[self._k], self.env.handle
        p = scene.block_pos(sg.block)
        self._grasp_xy = p[:2].copy()
        yaw = grasp_yaw(scene.block_rot(sg.block), p[:2])
        plan = self._pick(p, yaw)
        half = scene.block_half(sg.block)
        if sg.onto == "mat":  # onto the named mat
            goal = scene.mat_pos(sg.ref)
            goal[2] = TABLE_TOP_Z_M + half
        elif sg.onto == "block":  # onto the named cube
            goal = scene.block_pos(sg.ref)
            goal[2] += scene.block_half(sg.ref) + half
        elif sg.onto == "point":  # onto the table at a spot
            goal = np.array([*sg.xy, TABLE_TOP_Z_M + half])
        else:  # lift it and hold it (pick)
            return plan
        return plan + self._put(goal, yaw)

    def _pick(self, p: np.ndarray, yaw: float) -> list[Waypoint]:
        s, m = self.settings, self.settings.motion
        above = np.array([p[0], p[1], s.travel_z_m])
        return [
            Waypoint(above, yaw, 1.0, m.fast_m_s),
            Waypoint(p.copy(), yaw, 1.0, m.slow_m_s, hold_steps=1),
            Waypoint(p.copy(), yaw, 0.0, m.slow_m_s, hold_steps=s.grip_steps),
            Waypoint(above + [0, 0, s.carry_extra_z_m], yaw, 0.0, m.slow_m_s, hold_steps=2),
        ]

    def _put(self, goal: np.ndarray, yaw: float) -> list[Waypoint]:
        s, m = self.settings, self.settings.motion
        above = np.array([goal[0], goal[1], s.travel_z_m + s.carry_extra_z_m])
        release = goal + [0, 0, s.place_clearance_m]
        return [
            Waypoint(above, yaw, 0.0, m.fast_m_s),
            Waypoint(release, yaw, 0.0, m.slow_m_s, hold_steps=2),
            Waypoint(release, yaw, 1.0, m.slow_m_s, hold_steps=s.grip_steps),
            Waypoint(above, yaw, 1.0, m.slow_m_s),
        ]

    # --- acting ------------------------------------------------------------
    def act(self, obs: dict) -> np.ndarray:
        self._follow_the_cube()
        wp = self.plan[self._i]
        if self.motion.step(wp.pos, wp.speed_m_s, obs["state"][:3]):
            self._held += 1
        if self._held > wp.hold_steps and self._i < len(self.plan) - 1:
            self._i, self._held = self._i + 1, 0
            self.motion.new_target()
        elif self._held > wp.hold_steps and self._k < len(self.subgoals) - 1:  # next step of a multi-step task
            self._k += 1
            self.plan, self._i, self._held, self._close_at = self._make_plan(), 0, 0, CLOSE_WAYPOINT
            self.motion.new_target()
        return self.motion.action(wp.yaw, wp.gripper)

    def _follow_the_cube(self) -> None:
        """Re-read the cube every step until the gripper closes on it; if it moved (pushed, knocked), rise
        from where the gripper is and plan the rest again from the world as it is now."""
        if self._i >= self._close_at:
            return
        xy = self.env.handle.block_pos(self.subgoals[self._k].block)[:2]
        if np.linalg.norm(xy - self._grasp_xy) <= REPLAN_TOLERANCE_M:
            return
        here, wp = self.motion.cmd, self.plan[self._i]
        rise = Waypoint(np.array([here[0], here[1], max(here[2], self.settings.travel_z_m)]), wp.yaw, 1.0,
                        self.settings.motion.slow_m_s)
        self.plan = [rise, *self._make_plan()]
        self._i, self._held, self._close_at = 0, 0, CLOSE_WAYPOINT + 1
        self.replans += 1
        self.motion.new_target()
