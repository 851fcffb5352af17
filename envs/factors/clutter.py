"""Clutter: non-task objects of other shapes on the table, in palette colours that may share a target's.

"The red block" next to a red cylinder: a colour alone no longer names the object.  Each of the
``clutter`` slots holds one free body per shape (compiled once, parked on the hidden shelf); per episode a
slot draws its shape, a palette colour and a yaw, and lands on the table clear of the task's objects and of
the other clutter (rejection sampling in the task's workspace widened by ``WORKSPACE_MARGIN_M``), with room
for open fingers around each cube.
"""

from __future__ import annotations

from dataclasses import dataclass

import mujoco
import numpy as np

from envs.errors import SimulationError
from envs.factors import Effect, register
from envs.randomization import LAYOUT_MAX_TRIES
from envs.scene import COLORS, MAT_RADIUS_M, SHELF_Z_M, TABLE_TOP_Z_M, WORLD_CONAFFINITY, WORLD_CONTYPE
from envs.tasks.base import BLOCK_FOOTPRINT_RADIUS_M

WORKSPACE_MARGIN_M = 0.05  # clutter may stand this far outside the task's layout workspace
GRASP_CLEARANCE_M = 0.02  # extra room kept around each cube for open fingers: clutter confuses, it does not wall in
MASS_KG = 0.05
FRICTION = (1.0, 0.02, 0.002)
# Parking spots on the hidden shelf, clear of the cubes' column at x = 0.22 m.
PARK_X_M = (-0.05, 0.08, 0.36, 0.49)
PARK_Y_M = (-0.3, -0.18, -0.06, 0.06, 0.18, 0.3)


@dataclass(frozen=True)
class Shape:
    name: str
    geom: int  # mujoco.mjtGeom
    size: tuple[float, float, float]
    centre_z_m: float  # height of the centre above the table when resting
    footprint_m: float  # radius of the circle around its footprint, for spacing


SHAPES = (
    Shape("cylinder", mujoco.mjtGeom.mjGEOM_CYLINDER, (0.018, 0.02, 0.0), 0.02, 0.018),
    Shape("sphere", mujoco.mjtGeom.mjGEOM_SPHERE, (0.02, 0.0, 0.0), 0.02, 0.02),
    Shape("low_box", mujoco.mjtGeom.mjGEOM_BOX, (0.025, 0.015, 0.0075), 0.0075, float(np.hypot(0.025, 0.015))),
)


def body_name(slot: int, shape: Shape) -> str:
    return f"clutter_{slot}_{shape.name}"


@register
class Clutter(Effect):
    stream = 4
    axes = ("clutter",)

    @property
    def slots(self) -> int:
        return int(self.config.clutter)

    def build(self, spec: mujoco.MjSpec) -> None:
        for slot in range(self.slots):
            for k, shape in enumerate(SHAPES):
                body = spec.worldbody.add_body(name=body_name(slot, shape), pos=list(self._park(slot, k)))
                body.add_freejoint(name=body_name(slot, shape))
                body.add_geom(name=body_name(slot, shape), type=shape.geom, size=list(shape.size), mass=MASS_KG,
                              rgba=[0.5, 0.5, 0.5, 1.0], contype=WORLD_CONTYPE, conaffinity=WORLD_CONAFFINITY,
                              condim=4, friction=list(FRICTION))

    def _park(self, slot: int, k: int) -> tuple[float, float, float]:
        i = slot * len(SHAPES) + k
        shape = SHAPES[k]
        return PARK_X_M[i // len(PARK_Y_M)], PARK_Y_M[i % len(PARK_Y_M)], SHELF_Z_M + shape.centre_z_m

    def bind(self, env) -> None:
        m = env.model
        self.model, self.data = m, env.data
        self.qadr = {(s, k): m.joint(body_name(s, sh)).qposadr[0] for s in range(self.slots)
                     for k, sh in enumerate(SHAPES)}
        self.dadr = {(s, k): m.joint(body_name(s, sh)).dofadr[0] for s in range(self.slots)
                     for k, sh in enumerate(SHAPES)}
        self.geom = {(s, k): m.geom(body_name(s, sh)).id for s in range(self.slots) for k, sh in enumerate(SHAPES)}
        self.placed: list[tuple[int, int, str]] = []  # (slot, shape index, colour)

    def _set(self, key: tuple[int, int], pos, yaw: float) -> None:
        a, v = self.qadr[key], self.dadr[key]
        self.data.qpos[a:a + 3] = pos
        self.data.qpos[a + 3:a + 7] = [np.cos(yaw / 2), 0.0, 0.0, np.sin(yaw / 2)]
        self.data.qvel[v:v + 6] = 0.0

    def reset(self, env, rng: np.random.Generator) -> None:
        for (s, k) in self.qadr:
            self._set((s, k), self._park(s, k), 0.0)
        scene, ws = env.handle, env.task.config.workspace
        taken = [(scene.placed_xy(c), BLOCK_FOOTPRINT_RADIUS_M + GRASP_CLEARANCE_M) for c in scene.active_blocks]
        taken += [(scene.mat_pos(c)[:2], MAT_RADIUS_M) for c in scene.active_mats]
        colors = list(COLORS)
        self.placed = []
        for slot in range(self.slots):
            k = int(rng.integers(len(SHAPES)))
            color = colors[int(rng.integers(len(colors)))]
            yaw = rng.uniform(-np.pi, np.pi)
            shape = SHAPES[k]
            xy = self._free_spot(rng, ws, taken, shape.footprint_m)
            taken.append((xy, shape.footprint_m))
            self.model.geom_rgba[self.geom[(slot, k)]] = COLORS[color]
            self._set((slot, k), [xy[0], xy[1], TABLE_TOP_Z_M + shape.centre_z_m], yaw)
            self.placed.append((slot, k, color))

    @staticmethod
    def _free_spot(rng, ws, taken, radius: float) -> np.ndarray:
        lo, hi = ws.bounds(WORKSPACE_MARGIN_M)
        for _ in range(LAYOUT_MAX_TRIES):
            xy = rng.uniform(lo, hi)
            if all(np.linalg.norm(xy - p) >= r + radius + ws.clearance_m for p, r in taken):
                return xy
        raise SimulationError(f"could not place clutter among {len(taken)} objects in the workspace after "
                              f"{LAYOUT_MAX_TRIES} tries; lower factors.clutter or the task's distractors")

    def info(self) -> dict:
        poses = {}
        for slot, k, color in self.placed:
            body = self.model.body(body_name(slot, SHAPES[k])).id
            poses[body_name(slot, SHAPES[k])] = {"color": color, "pos": self.data.xpos[body].tolist(),
                                                 "quat": self.data.xquat[body].tolist()}
        return {"clutter": poses}
