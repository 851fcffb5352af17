"""SceneHandle: the object-level view of the simulation that tasks use.

Tasks place, read and test objects only through this handle, so the same
success check serves every agent and every camera.
"""

from __future__ import annotations

import mujoco
import numpy as np

from envs.errors import SimulationError
from envs.geometry import norm, quat_to_mat
from envs.robot import Robot
from envs.scene import (
    COLORS,
    SHELF_Z_M,
    TABLE_TOP_Z_M,
    TRAY_NAME,
    TRAY_PARK_M,
    WORLD_CONAFFINITY,
    WORLD_CONTYPE,
    block_color,
    block_name,
    mat_name,
    parking_position,
)

PAD_GEOMS = ("left_pad", "right_pad")


class SceneHandle:
    """Cubes by id, mats by colour, the tray, finger contacts, and the current control step.

    A cube's id is its colour for the palette's 4 cm cubes (``"red"``) and ``<colour>_<variant>`` for the
    extras a task compiles in (``"red_2"``, ``"red_small"``; :class:`envs.scene.ExtraObjects`).
    """

    def __init__(self, model: mujoco.MjModel, data: mujoco.MjData, robot: Robot):
        self.model, self.data, self.robot = model, data, robot
        self.step_count = 0
        prefix = block_name("")
        self.blocks = [model.joint(j).name[len(prefix):] for j in range(model.njnt)
                       if model.joint(j).name.startswith(prefix)]  # every compiled cube id, in parking order
        self._block_qadr = {c: model.joint(block_name(c)).qposadr[0] for c in self.blocks}
        self._block_dadr = {c: model.joint(block_name(c)).dofadr[0] for c in self.blocks}
        self._block_body = {c: model.body(block_name(c)).id for c in self.blocks}
        self._block_geom = {c: model.geom(block_name(c)).id for c in self.blocks}
        self._block_half = {c: float(model.geom_size[self._block_geom[c], 0]) for c in self.blocks}
        self._extras = [c for c in self.blocks if c not in COLORS]  # a task's extra cubes (ExtraObjects)
        self._mat_mocap = {c: model.body(mat_name(c)).mocapid[0] for c in COLORS}
        tray = mujoco.mj_name2id(model, mujoco.mjtObj.mjOBJ_BODY, TRAY_NAME)
        self._tray_mocap = int(model.body_mocapid[tray]) if tray >= 0 else None
        self._pad_geoms = tuple(model.geom(g).id for g in PAD_GEOMS)
        self.active_blocks: list[str] = []
        self.active_mats: list[str] = []
        self.tray_active = False

    # --- placement ---------------------------------------------------------
    def park_all(self) -> None:
        for i, c in enumerate(self.blocks):
            park = parking_position(i)
            self.set_block_pose(c, np.array([park[0], park[1], SHELF_Z_M + self._block_half[c]]), 0.0)
        for c in self._extras:  # parked extras float without contacts: a dozen resting cubes cost the solver
            self._set_active(c, False)
        for i, c in enumerate(COLORS):
            park = parking_position(i)
            self.data.mocap_pos[self._mat_mocap[c]] = [park[0], park[1] + 0.06, SHELF_Z_M]
        if self._tray_mocap is not None:
            self.data.mocap_pos[self._tray_mocap] = TRAY_PARK_M
        self.active_blocks, self.active_mats, self.tray_active = [], [], False

    def set_block_pose(self, color: str, pos: np.ndarray, yaw: float) -> None:
        a, v = self._block_qadr[color], self._block_dadr[color]
        self.data.qpos[a:a + 3] = pos
        self.data.qpos[a + 3:a + 7] = [np.cos(yaw / 2), 0.0, 0.0, np.sin(yaw / 2)]
        self.data.qvel[v:v + 6] = 0.0

    def place_block(self, block: str, xy: np.ndarray, yaw: float) -> None:
        self.set_block_pose(block, np.array([xy[0], xy[1], TABLE_TOP_Z_M + self._block_half[block]]), yaw)
        if block in self._extras:
            self._set_active(block, True)
        self.active_blocks.append(block)

    def _set_active(self, block: str, active: bool) -> None:
        """An extra cube in the scene collides and falls; parked, it neither collides nor falls (gravity
        compensated, at rest), so the parked ones add no contacts."""
        g, b = self._block_geom[block], self._block_body[block]
        self.model.geom_contype[g], self.model.geom_conaffinity[g] = (WORLD_CONTYPE, WORLD_CONAFFINITY) if active \
            else (0, 0)
        self.model.body_gravcomp[b] = 0.0 if active else 1.0

    def move_block(self, color: str, xy: np.ndarray) -> None:
        """Put the cube of ``color`` at ``xy``, keeping its height and orientation, at rest (a disturbance)."""
        a, v = self._block_qadr[color], self._block_dadr[color]
        self.data.qpos[a:a + 2] = xy
        self.data.qvel[v:v + 6] = 0.0

    def place_mat(self, color: str, xy: np.ndarray) -> None:
        self.data.mocap_pos[self._mat_mocap[color]] = [xy[0], xy[1], TABLE_TOP_Z_M]
        self.active_mats.append(color)

    def place_tray(self, xy: np.ndarray) -> None:
        if self._tray_mocap is None:
            raise SimulationError("this scene has no tray: a task that uses one declares ExtraObjects(tray=True)")
        self.data.mocap_pos[self._tray_mocap] = [xy[0], xy[1], TABLE_TOP_Z_M]
        self.tray_active = True

    # --- ground truth ------------------------------------------------------
    def placed_xy(self, color: str) -> np.ndarray:
        """Where the cube of ``color`` was put (its state), valid before the next ``mj_forward`` updates
        ``block_pos``: for layout code that runs between placing objects and the physics."""
        a = self._block_qadr[color]
        return self.data.qpos[a:a + 2].copy()

    def block_pos(self, color: str) -> np.ndarray:
        return self.data.xpos[self._block_body[color]].copy()

    def block_rot(self, color: str) -> np.ndarray:
        return quat_to_mat(self.data.xquat[self._block_body[color]])

    def block_speed(self, color: str) -> float:
        v = self._block_dadr[color]
        return norm(self.data.qvel[v:v + 3])

    def mat_pos(self, color: str) -> np.ndarray:
        return self.data.mocap_pos[self._mat_mocap[color]].copy()

    def tray_pos(self) -> np.ndarray:
        if self._tray_mocap is None:
            raise SimulationError("this scene has no tray")
        return self.data.mocap_pos[self._tray_mocap].copy()

    def block_half(self, block: str) -> float:
        """Half the edge length of cube ``block`` (metres)."""
        return self._block_half[block]

    @staticmethod
    def block_color(block: str) -> str:
        return block_color(block)

    def block_geom_id(self, color: str) -> int:
        return self._block_geom[color]

    def resting_on_table(self, block: str, tol_m: float = 0.005) -> bool:
        return bool(abs(self.block_pos(block)[2] - (TABLE_TOP_Z_M + self._block_half[block])) < tol_m)

    def pad_contacts(self, color: str) -> tuple[bool, bool]:
        """Whether the (left, right) finger pad touches the block of ``color``."""
        pairs = self.data.contact.geom  # (ncon, 2) geom ids of the active contacts
        partners = set(pairs[:, ::-1][pairs == self._block_geom[color]].tolist())  # what touches the block
        return self._pad_geoms[0] in partners, self._pad_geoms[1] in partners

    def object_poses(self) -> dict[str, dict[str, list[float]]]:
        """Ground-truth poses of the episode's objects (for logs and the oracle)."""
        poses, xpos, xquat, mocap_pos = {}, self.data.xpos, self.data.xquat, self.data.mocap_pos
        for c in self.active_blocks:
            body = self._block_body[c]
            poses[block_name(c)] = {"pos": xpos[body].tolist(), "quat": xquat[body].tolist()}
        for c in self.active_mats:
            poses[mat_name(c)] = {"pos": mocap_pos[self._mat_mocap[c]].tolist(), "quat": [1.0, 0.0, 0.0, 0.0]}
        if self.tray_active and self._tray_mocap is not None:
            poses[TRAY_NAME] = {"pos": mocap_pos[self._tray_mocap].tolist(), "quat": [1.0, 0.0, 0.0, 0.0]}
        return poses

