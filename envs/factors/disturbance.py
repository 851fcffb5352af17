"""Dynamic disturbance: the task's cube pushed ``disturbance_cm`` sideways when the gripper first nears it.

The seed article's tool agent planned once and could not react to a world that changes; this axis tests
exactly that.  Per episode a horizontal direction is drawn; the first time the end effector comes within
``TRIGGER_DISTANCE_M`` of the cube (and the cube is not held), the cube jumps that far in that direction,
keeping its height and orientation.  A landing spot on another cube, on the task's goal mat or off the
widened workspace is turned by 30 degree steps (nearest first) until one is free; if none is, the cube stays
(the episode says so in ``info["factors"]["disturbance"]``).  Other mats are flat: the cube may land on one.
"""

from __future__ import annotations

import mujoco
import numpy as np

from envs.factors import Effect, register
from envs.scene import MAT_RADIUS_M
from envs.tasks.base import BLOCK_FOOTPRINT_RADIUS_M

TRIGGER_DISTANCE_M = 0.08  # end effector to cube centre, 3-D: early in a top-down approach's descent
WORKSPACE_MARGIN_M = 0.05  # the cube may land this far outside the task's layout workspace
TURNS_RAD = tuple(np.deg2rad([0, 30, -30, 60, -60, 90, -90, 120, -120, 150, -150, 180]))  # nearest first
CM_PER_M = 100.0


@register
class Disturbance(Effect):
    stream = 6
    axes = ("disturbance_cm",)

    def reset(self, env, rng: np.random.Generator) -> None:
        self.angle = rng.uniform(0.0, 2 * np.pi)
        self.state = "armed"  # armed -> moved | blocked (nowhere free) | held (grasped before it triggered)

    def after_step(self, env) -> None:
        if self.state != "armed" or "block" not in env.task.roles:
            return
        color, scene = env.task.roles["block"], env.handle
        p = scene.block_pos(color)
        if np.linalg.norm(env.robot.ee_pose(env.data)[0] - p) >= TRIGGER_DISTANCE_M:
            return
        if env.task.grip(scene, color)[0]:
            self.state = "held"
        else:
            xy = self._landing(env, color, p[:2])
            self.state = "blocked" if xy is None else "moved"
            if xy is not None:
                scene.move_block(color, xy)
                mujoco.mj_forward(env.model, env.data)

    def info(self) -> dict:
        return {"disturbance": self.state}

    def _landing(self, env, color: str, xy: np.ndarray) -> np.ndarray | None:
        d = self.config.disturbance_cm / CM_PER_M
        ws, scene = env.task.config.workspace, env.handle
        others = [(scene.block_pos(c)[:2], 2 * BLOCK_FOOTPRINT_RADIUS_M) for c in scene.active_blocks if c != color]
        goals = set(env.task.roles.values())
        others += [(scene.mat_pos(c)[:2], MAT_RADIUS_M + BLOCK_FOOTPRINT_RADIUS_M) for c in scene.active_mats
                   if c in goals]
        for turn in TURNS_RAD:
            a = self.angle + turn
            q = xy + d * np.array([np.cos(a), np.sin(a)])
            free = all(np.linalg.norm(q - o) >= r + ws.clearance_m for o, r in others)
            if free and ws.contains(q, WORKSPACE_MARGIN_M):
                return q
        return None
