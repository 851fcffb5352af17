"""WidowX 250s model helpers: joint bookkeeping, the end-effector frame, IK.

End-effector frame (``pinch`` site): gripper_link translated 0.108 m along its
x axis, the centre between the finger pads, with gripper_link's orientation
(x: approach direction out of the gripper, y: finger opening direction, z:
completes the right-handed frame; "up" when the wrist is level).  BridgeData's
poses use Interbotix's ``ee_gripper_link``: the same orientation, 0.014425 m
closer to the wrist (gripper_link + 0.093575 m along x); the model has a site
of that name, and :data:`PINCH_FROM_EE_GRIPPER_LINK_M` is the offset.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import mujoco
import numpy as np

from envs.errors import ConfigError
from envs.geometry import mat_to_quat, norm, quat_error

log = logging.getLogger(__name__)

ARM_JOINTS = ("waist", "shoulder", "elbow", "forearm_roll", "wrist_angle", "wrist_rotate")
FINGER_JOINTS = ("left_finger", "right_finger")
# Menagerie keyframe "home" (arm joints, radians).
HOME_ARM_QPOS = np.array([0.0, -0.96, 1.16, 0.0, -0.3, 0.0])
# left_finger slide range in Menagerie (metres): closed .. open.
FINGER_CLOSED_M, FINGER_OPEN_M = 0.015, 0.037
EE_SITE = "pinch"
PINCH_FROM_EE_GRIPPER_LINK_M = 0.108 - 0.093575  # along gripper x


@dataclass(frozen=True)
class IKSettings:
    """Damped least squares on the 6 arm joints, warm-started, joint-limited."""

    max_iters: int = 80
    damping: float = 1e-3  # lambda^2 of DLS
    rot_weight: float = 0.3  # metres of position error per radian of orientation error
    tol_pos_m: float = 2e-4
    tol_rot_rad: float = 2e-3
    max_step_rad: float = 0.2  # per-iteration joint step cap


class Robot:
    """Index bookkeeping and kinematics of the arm inside a compiled scene model."""

    def __init__(self, model: mujoco.MjModel, ik: IKSettings = IKSettings()):
        self.model = model
        self.ik_settings = ik
        self.arm_qadr = np.array([model.joint(j).qposadr[0] for j in ARM_JOINTS])
        self.arm_dadr = np.array([model.joint(j).dofadr[0] for j in ARM_JOINTS])
        self.finger_qadr = np.array([model.joint(j).qposadr[0] for j in FINGER_JOINTS])
        self.arm_range = np.array([model.joint(j).range for j in ARM_JOINTS])
        self._lo, self._hi = self.arm_range[:, 0].copy(), self.arm_range[:, 1].copy()  # contiguous, for clipping
        self.site_id = model.site(EE_SITE).id
        self.arm_act = np.array([model.actuator(j).id for j in ARM_JOINTS])
        self.gripper_act = model.actuator("gripper").id
        self._scratch = mujoco.MjData(model)
        self._jacp, self._jacr = np.zeros((3, model.nv)), np.zeros((3, model.nv))  # IK scratch, fully rewritten

    # --- state -------------------------------------------------------------
    def set_home(self, data: mujoco.MjData) -> None:
        data.qpos[self.arm_qadr] = HOME_ARM_QPOS
        data.qpos[self.finger_qadr] = [FINGER_OPEN_M, -FINGER_OPEN_M]
        data.qvel[self.arm_dadr] = 0.0
        data.ctrl[self.arm_act] = HOME_ARM_QPOS
        data.ctrl[self.gripper_act] = FINGER_OPEN_M

    def arm_qpos(self, data: mujoco.MjData) -> np.ndarray:
        return data.qpos[self.arm_qadr].copy()

    def gripper_opening(self, data: mujoco.MjData) -> float:
        """Measured finger opening in [0, 1] (0 closed, 1 fully open)."""
        q = data.qpos[self.finger_qadr[0]]
        return float(_clip01((q - FINGER_CLOSED_M) / (FINGER_OPEN_M - FINGER_CLOSED_M)))

    def ee_pose(self, data: mujoco.MjData) -> tuple[np.ndarray, np.ndarray]:
        """Position (3,) and rotation (3, 3) of the end-effector site in the world."""
        return data.site_xpos[self.site_id].copy(), data.site_xmat[self.site_id].reshape(3, 3).copy()

    # --- commands ----------------------------------------------------------
    def command_joints(self, data: mujoco.MjData, q_arm: np.ndarray, opening: float) -> None:
        data.ctrl[self.arm_act] = self.clip_arm(q_arm)
        g = float(_clip01(opening))
        data.ctrl[self.gripper_act] = FINGER_CLOSED_M + g * (FINGER_OPEN_M - FINGER_CLOSED_M)

    def clip_arm(self, q_arm: np.ndarray) -> np.ndarray:
        """``q_arm`` inside the joint limits (as ``np.clip``, without its per-call overhead)."""
        return np.minimum(np.maximum(q_arm, self._lo), self._hi)

    def fk(self, q_arm: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        d = self._scratch
        d.qpos[self.arm_qadr] = q_arm
        mujoco.mj_kinematics(self.model, d)
        return self.ee_pose(d)

    def _fk_quat(self, q_arm: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """:meth:`fk` with the orientation as a unit quaternion, read straight off the site."""
        d, quat = self._scratch, np.empty(4)
        d.qpos[self.arm_qadr] = q_arm
        mujoco.mj_kinematics(self.model, d)
        mujoco.mju_mat2Quat(quat, d.site_xmat[self.site_id])
        return d.site_xpos[self.site_id].copy(), quat

    def ik(self, pos: np.ndarray, R: np.ndarray, q_init: np.ndarray) -> tuple[np.ndarray, float]:
        """Joint angles reaching pose (pos, R) from ``q_init``; returns (q, position error m)."""
        s, m, d = self.ik_settings, self.model, self._scratch
        q = self.clip_arm(np.asarray(q_init, float))
        quat_target, jacp, jacr = mat_to_quat(R), self._jacp, self._jacr
        for _ in range(s.max_iters):
            x, quat = self._fk_quat(q)
            e_pos, e_rot = pos - x, quat_error(quat_target, quat)
            if norm(e_pos) < s.tol_pos_m and norm(e_rot) < s.tol_rot_rad:
                break  # x is the pose of the q returned
            mujoco.mj_comPos(m, d)
            mujoco.mj_jacSite(m, d, jacp, jacr, self.site_id)
            J = np.vstack([jacp[:, self.arm_dadr], s.rot_weight * jacr[:, self.arm_dadr]])
            err = np.concatenate([e_pos, s.rot_weight * e_rot])
            dq = J.T @ np.linalg.solve(J @ J.T + s.damping * np.eye(6), err)
            dq *= min(1.0, s.max_step_rad / (np.abs(dq).max() + 1e-12))
            q = self.clip_arm(q + dq)
        else:  # not converged: the last step moved q after its pose was computed
            x, _ = self.fk(q)
        return q, norm(pos - x)


def _clip01(x: float) -> float:
    """``np.clip(x, 0, 1)`` of a scalar (NaN stays NaN), without its per-call overhead."""
    return min(max(x, 0.0), 1.0)


def use_menagerie_meshes(spec: mujoco.MjSpec, menagerie_dir: Path) -> None:
    """Replace the primitive visuals with the meshes of a Menagerie checkout.

    ``menagerie_dir`` is the ``trossen_wx250s`` folder (holding ``wx250s.xml``
    and ``assets/``).  Collision geometry stays primitive (the finger pads are
    what make grasps reliable); only what cameras see changes.
    """
    xml = Path(menagerie_dir) / "wx250s.xml"
    if not xml.is_file():
        raise ConfigError(f"no wx250s.xml in {menagerie_dir}; point menagerie_dir at mujoco_menagerie/trossen_wx250s")
    src = mujoco.MjSpec.from_file(str(xml))
    meshdir = xml.parent / (src.meshdir or "")
    for mesh in src.meshes:
        spec.add_mesh(name=mesh.name, file=str(meshdir / mesh.file), scale=list(mesh.scale))
    for geom in spec.geoms:  # hide primitive visuals of robot bodies
        if geom.parent.name.startswith("wx250s/"):
            geom.group = 3
    added = 0
    for geom in src.geoms:
        if geom.type != mujoco.mjtGeom.mjGEOM_MESH or geom.contype != 0:
            continue
        body = spec.body(geom.parent.name)
        if body is None:
            continue
        body.add_geom(type=mujoco.mjtGeom.mjGEOM_MESH, meshname=geom.meshname, pos=list(geom.pos),
                      quat=list(geom.quat), contype=0, conaffinity=0, group=2, density=0,
                      rgba=[0.12, 0.12, 0.13, 1])
        added += 1
    log.info("using %d Menagerie visual meshes from %s", added, meshdir)
