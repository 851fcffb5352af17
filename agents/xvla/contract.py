"""The X-VLA WidowX observation/action contract (``contract.type=xvla``), in plain numpy (core install).

One contract among others (``agents.lerobot.contract.CONTRACTS``) for the LeRobot agent.

Every convention is a named setting with its source, so a wrong guess is one
config value away from right and the debug images show its effect.

Inputs (what the checkpoint's pre-processor receives):
- ``observation.images.image``: the primary (over-the-shoulder) view, resized to
  the checkpoint's image size by ``resize`` (``squash``: plain resize, as
  BridgeData images were; ``pad``: letterbox, keeps the aspect; ``crop``:
  centre crop).  The pre-processor itself does the float conversion, ImageNet
  normalisation and domain id (LeRobot ``processor_xvla.py``).
- ``observation.images.image2``: ``image2`` = ``none`` (default: left out, so
  the model zero-fills and masks the view, ``modeling_xvla.py``), ``third_person``,
  ``primary`` or ``black`` (the seed article's choice; not masked, so it is
  data the model never saw).
- ``observation.state``: ``state_format`` = ``ee6d`` (default: xyz, 6-D
  rotation, gripper, as X-VLA's Bridge handler builds it) or ``bridge8`` (xyz,
  roll, pitch, yaw, pad, gripper: BridgeData's raw layout).
- ``task``: the instruction.

Outputs: ``ee6d`` rows of 20 numbers: [0:3] xyz, [3:9] 6-D rotation, [9]
gripper after a sigmoid (1 = closed: Bridge training uses 1 - action), then a
second arm in [10:20] (ignored).  The 6 rotation numbers are two columns of R,
``rot6d_order`` = ``interleaved`` ([r11, r12, r21, r22, r31, r32]: the original
X-VLA datasets code, ``as_matrix()[..., :, :2].reshape(6)``) or ``columns``
([r11, r21, r31, r12, r22, r32]: LeRobot's ``mat_to_rotate6d``), made
orthonormal by Gram-Schmidt.

Frames: X-VLA/BridgeData poses are Interbotix ``ee_gripper_link`` poses in the
robot base frame, with BridgeData's rotation convention in which a gripper
pointing straight down has roll = pitch = yaw = 0 (SimplerEnv's WidowX client
adds pi/2 to the pitch before commanding its robot; bridge_data_robot's
controller composes with a default rotation Ry(pi/2)).  So
``R_env = R_model @ R(model_to_env_rpy)`` with default (0, pi/2, 0), and the
env's ``pinch`` point is ``ee_offset_m`` (0.014425 m) further along the
gripper's approach axis than ``ee_gripper_link``.  ``base_offset_m`` is the
position of BridgeData's robot base in our base frame (0: both are
``wx250s/base_link``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from agents.lerobot.contract import STATE_KEY, resize_image
from envs.errors import ConfigError, check_choice
from envs.geometry import euler_to_mat, mat_to_euler
from envs.robot import PINCH_FROM_EE_GRIPPER_LINK_M

IMAGE_KEY, IMAGE2_KEY = "observation.images.image", "observation.images.image2"
GRIPPER_INDEX = 9


@dataclass(frozen=True)
class XVLAContract:
    image_size: tuple[int, int] = (224, 224)  # (height, width): read from the checkpoint at load time
    resize: str = "squash"
    image2: str = "none"
    state_format: str = "ee6d"
    state_dim: int | None = None  # pad/truncate to this many numbers (the checkpoint's state size)
    rot6d_order: str = "interleaved"
    model_to_env_rpy: tuple[float, float, float] = (0.0, np.pi / 2, 0.0)
    ee_offset_m: float = PINCH_FROM_EE_GRIPPER_LINK_M
    base_offset_m: tuple[float, float, float] = (0.0, 0.0, 0.0)
    gripper_closed_threshold: float | None = None  # None: continuous opening = 1 - g
    _offset: np.ndarray = field(init=False, repr=False, compare=False)

    def __post_init__(self):
        check_choice("resize", self.resize, ("squash", "pad", "crop"))
        check_choice("image2", self.image2, ("none", "third_person", "primary", "black"))
        check_choice("state_format", self.state_format, ("ee6d", "bridge8"))
        check_choice("rot6d_order", self.rot6d_order, ("interleaved", "columns"))
        if len(self.image_size) != 2 or min(self.image_size) < 1:
            raise ConfigError(f"image_size must be (height, width), got {self.image_size}")
        object.__setattr__(self, "_offset", euler_to_mat(*self.model_to_env_rpy))

    @classmethod
    def from_facts(cls, facts: dict, **settings: Any) -> XVLAContract:
        """The contract for a checkpoint: its image size and state size, plus the settings given."""
        return cls(**{"image_size": tuple(facts["image_size"]), "state_dim": facts.get("state_dim"), **settings})

    # --- frames ------------------------------------------------------------
    def env_to_model_pose(self, pos: np.ndarray, R_env: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The env's pinch pose -> the model's ee_gripper_link pose (BridgeData convention)."""
        p = np.asarray(pos, float) - self.ee_offset_m * R_env[:, 0] - np.asarray(self.base_offset_m)
        return p, R_env @ self._offset.T

    def model_to_env_pose(self, pos: np.ndarray, R_model: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        R_env = R_model @ self._offset
        return np.asarray(pos, float) + np.asarray(self.base_offset_m) + self.ee_offset_m * R_env[:, 0], R_env

    # --- inputs ------------------------------------------------------------
    def build_inputs(self, obs: dict, instruction: str) -> dict:
        """Env observation -> the policy's raw inputs (before its own pre-processor)."""
        images = obs["images"]
        out: dict[str, Any] = {IMAGE_KEY: resize_image(images["primary"], self.image_size, self.resize)}
        second = {"third_person": lambda: images["third_person"], "primary": lambda: images["primary"],
                  "black": lambda: np.zeros_like(images["primary"])}.get(self.image2)
        if second is not None:
            out[IMAGE2_KEY] = resize_image(second(), self.image_size, self.resize)
        out[STATE_KEY] = self.state(obs["state"])
        out["task"] = instruction
        return out

    def state(self, env_state: np.ndarray) -> np.ndarray:
        s = np.asarray(env_state, float)
        pos, R = self.env_to_model_pose(s[:3], euler_to_mat(*s[3:6]))
        gripper_closed = 1.0 - s[7]  # env: opening (1 = open); model: 1 = closed
        if self.state_format == "ee6d":
            vec = np.concatenate([pos, rot_to_6d(R, self.rot6d_order), [gripper_closed]])
        else:
            vec = np.concatenate([pos, mat_to_euler(R), [0.0, s[7]]])
        if self.state_dim is not None:
            vec = np.pad(vec, (0, max(0, self.state_dim - len(vec))))[: self.state_dim]
        return vec.astype(np.float32)

    # --- outputs -----------------------------------------------------------
    def decode(self, chunk: np.ndarray) -> np.ndarray:
        """(T, >=10) ee6d rows -> (T, 7) env ``ee_pose`` actions."""
        chunk = np.atleast_2d(np.asarray(chunk, float))
        if chunk.shape[1] < 10:
            raise ConfigError(f"expected ee6d actions with >= 10 numbers per step, got {chunk.shape[1]}")
        return np.stack([self._decode_row(row) for row in chunk]).astype(np.float32)

    def _decode_row(self, row: np.ndarray) -> np.ndarray:
        pos, R = self.model_to_env_pose(row[:3], rot_from_6d(row[3:9], self.rot6d_order))
        g = float(row[GRIPPER_INDEX])
        if self.gripper_closed_threshold is None:
            opening = float(np.clip(1.0 - g, 0.0, 1.0))
        else:
            opening = 0.0 if g >= self.gripper_closed_threshold else 1.0
        return np.concatenate([pos, mat_to_euler(R), [opening]])

    def diagnostics(self, chunk: np.ndarray) -> dict[str, float]:
        """The worst departure from orthonormal of the chunk's raw 6-D rotations (large: try the other order)."""
        err = max(orthonormality_error(row[3:9], self.rot6d_order) for row in np.atleast_2d(chunk))
        return {"rot6d_orthonormality_error": round(float(err), 4)}


def rot_to_6d(R: np.ndarray, order: str = "interleaved") -> np.ndarray:
    cols = np.asarray(R, float)[:, :2]
    return cols.reshape(6) if order == "interleaved" else cols.T.reshape(6)


def rot_from_6d(v: np.ndarray, order: str = "interleaved") -> np.ndarray:
    """Two (noisy) columns -> a rotation matrix by Gram-Schmidt (Zhou et al. 2019)."""
    v = np.asarray(v, float)
    a1, a2 = (v[0::2], v[1::2]) if order == "interleaved" else (v[:3], v[3:6])
    n1 = np.linalg.norm(a1)
    if n1 < 1e-9:
        raise ConfigError("6-D rotation with a zero first column")
    b1 = a1 / n1
    b2 = a2 - (b1 @ a2) * b1
    n2 = np.linalg.norm(b2)
    if n2 < 1e-9:
        raise ConfigError("6-D rotation with parallel columns")
    b2 /= n2
    return np.column_stack([b1, b2, np.cross(b1, b2)])


def orthonormality_error(v: np.ndarray, order: str) -> float:
    """How far the two raw columns are from orthonormal (0 for a clean rotation):
    a large value on real outputs suggests the other ``rot6d_order``."""
    v = np.asarray(v, float)
    a1, a2 = (v[0::2], v[1::2]) if order == "interleaved" else (v[:3], v[3:6])
    return float(abs(np.linalg.norm(a1) - 1) + abs(np.linalg.norm(a2) - 1) + abs(a1 @ a2))
