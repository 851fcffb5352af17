"""What the openpi agent sends an openpi server and how it reads the action chunk back: a contract in config.

Presets (``contract.preset``), each field overridable:

- ``libero`` (default; openpi's LIBERO example and the clients that copy it): ``observation/image`` = the
  primary camera, ``observation/wrist_image`` = black (this robot has no wrist camera), both resized with
  padding to 224x224 as openpi does; ``observation/state`` = LIBERO's 8-D layout (end-effector position,
  axis-angle orientation, the two finger positions); ``prompt`` = the instruction.  Actions: 7-D deltas of
  robosuite's OSC_POSE controller in [-1, 1] (x 0.05 m, rotation x 0.5 rad per step, applied to the pose at
  the step the action runs) and the gripper in LIBERO's convention (-1 open, +1 closed).
- ``env``: this env's own layouts, for a policy trained on its demonstrations: ``observation/image`` = the
  primary camera at its size, ``observation/state`` = the env's 8-D state, actions = absolute ``ee_pose``
  targets (x, y, z, roll, pitch, yaw, gripper opening with 1 open).
- ``droid`` (openpi's DROID example): ``observation/exterior_image_1_left`` = the primary camera,
  ``observation/wrist_image_left`` = black, both padded to 224; ``observation/joint_position`` (7: this arm's
  six joints and a zero, DROID's Franka having seven) and ``observation/gripper_position`` (1: 0 open, 1
  closed); actions = joint velocities (rad/s, the first six of seven used) integrated over the time each
  row is held, and the gripper position (0 open, 1 closed) last, in the env's ``joint_pos`` action space
  (``agent.control_mode=joint_pos``); 8 rows per query, as the example.

``replan_steps`` actions of each chunk run before the next query (openpi's examples use 5).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import numpy as np
from PIL import Image

from envs.errors import ConfigError, check_choice

ACTION_SPACES = ("ee_pose", "joint_pos")  # the env's control modes
ACTION_MODES = ("absolute", "delta", "velocity")  # velocity: joint_pos only, rad/s times the time a row is held
GRIPPERS = ("minus1_open", "opening", "closed_is_1")  # -1 open / +1 closed; 1 open / 0 closed; 0 open / 1 closed
STATES = ("libero8", "env8", "droid")
ARM_JOINTS = 6


@dataclass(frozen=True)
class OpenPIContract:
    images: dict[str, str | None] = field(default_factory=lambda: {"observation/image": "primary",
                                                                   "observation/wrist_image": None})
    image_size: int = 224  # resize with padding to this square (openpi's resize_with_pad); 0: as rendered
    state_key: str | None = "observation/state"  # where libero8 / env8 go (droid has its own two keys)
    state: str = "libero8"
    prompt_key: str = "prompt"
    action_space: str = "ee_pose"
    action_mode: str = "delta"
    delta_pos_scale_m: float = 0.05  # a delta of 1 moves this far (robosuite OSC_POSE's output_max)
    delta_rot_scale_rad: float = 0.5
    gripper: str = "minus1_open"
    replan_steps: int = 5

    def __post_init__(self):
        check_choice("contract.action_space", self.action_space, ACTION_SPACES)
        check_choice("contract.action_mode", self.action_mode, ACTION_MODES)
        if self.action_mode == "velocity" and self.action_space != "joint_pos":
            raise ConfigError("contract.action_mode=velocity is for joint_pos actions (joint velocities)")
        check_choice("contract.gripper", self.gripper, GRIPPERS)
        check_choice("contract.state", self.state, STATES)
        if self.replan_steps < 1:
            raise ConfigError(f"contract.replan_steps must be >= 1, got {self.replan_steps}")
        if not self.images:
            raise ConfigError("contract.images must map at least one wire key to a camera")

    # --- observation -> wire -------------------------------------------------
    def build(self, obs: dict, instruction: str) -> dict:
        out: dict = {self.prompt_key: instruction}
        shape = next(iter(obs["images"].values())).shape
        for key, camera in self.images.items():
            image = obs["images"][camera] if camera else np.zeros(shape, np.uint8)
            out[key] = resize_with_pad(image, self.image_size) if self.image_size else image
        if self.state == "droid":
            joints = np.asarray(obs["joint_pos"], np.float32)[:ARM_JOINTS]
            out["observation/joint_position"] = np.r_[joints, 0.0].astype(np.float32)
            out["observation/gripper_position"] = np.array([1.0 - float(obs["state"][7])], np.float32)
        elif self.state_key:
            out[self.state_key] = self._state(obs)
        return out

    def _state(self, obs: dict) -> np.ndarray:
        s = np.asarray(obs["state"], np.float32)
        if self.state == "env8":
            return s
        from scipy.spatial.transform import Rotation

        from envs.geometry import euler_to_mat

        aa = Rotation.from_matrix(euler_to_mat(*(float(v) for v in s[3:6]))).as_rotvec()
        return np.concatenate([s[:3], aa, np.asarray(obs["joint_pos"], np.float32)[6:8]]).astype(np.float32)

    # --- chunk row -> env action ---------------------------------------------
    def action(self, row: np.ndarray, obs: dict, dt_s: float = 0.1) -> np.ndarray:
        """One row of the chunk -> this env's action (``action_space``), against the pose or joints in ``obs``
        for deltas; ``dt_s``: how long the row is held (for velocities).  The gripper is the row's last value."""
        row = np.asarray(row, np.float64)
        if row.shape[-1] < 7:
            raise ValueError(f"an action row needs at least 7 values, got {row.shape[-1]}")
        g = float(row[-1])
        opening = float(np.clip({"minus1_open": (1.0 - g) / 2.0, "opening": g, "closed_is_1": 1.0 - g}[self.gripper],
                                0.0, 1.0))
        if self.action_space == "joint_pos":
            q = np.asarray(obs["joint_pos"], np.float64)[:ARM_JOINTS]
            v = row[:ARM_JOINTS]
            target = {"absolute": v, "delta": q + v, "velocity": q + v * dt_s}[self.action_mode]
            return np.r_[target, opening].astype(np.float32)
        if self.action_mode == "absolute":
            pose = row[:6]
        else:
            here = np.asarray(obs["state"][:6], np.float64)
            pose = np.r_[here[:3] + self.delta_pos_scale_m * np.clip(row[:3], -1, 1),
                         here[3:6] + self.delta_rot_scale_rad * np.clip(row[3:6], -1, 1)]
        return np.r_[pose, opening].astype(np.float32)


PRESETS: dict[str, OpenPIContract] = {
    "libero": OpenPIContract(),
    "env": OpenPIContract(images={"observation/image": "primary"}, image_size=0, state="env8",
                          action_mode="absolute", gripper="opening"),
    "droid": OpenPIContract(images={"observation/exterior_image_1_left": "primary",
                                    "observation/wrist_image_left": None},
                            state_key=None, state="droid", action_space="joint_pos", action_mode="velocity",
                            gripper="closed_is_1", replan_steps=8),
}


def make_contract(preset: str = "libero", **overrides) -> OpenPIContract:
    base = PRESETS[check_choice("contract.preset", preset, PRESETS)]
    return replace(base, **overrides) if overrides else base


def resize_with_pad(image: np.ndarray, size: int) -> np.ndarray:
    """Fit ``image`` into a ``size`` x ``size`` square keeping its aspect ratio, black bars around it (as
    openpi's ``image_tools.resize_with_pad``; bilinear)."""
    h, w = image.shape[:2]
    if (h, w) == (size, size):
        return image
    scale = size / max(h, w)
    nh, nw = max(1, round(h * scale)), max(1, round(w * scale))
    resized = np.asarray(Image.fromarray(image).resize((nw, nh), Image.Resampling.BILINEAR))
    out = np.zeros((size, size, 3), np.uint8)
    top, left = (size - nh) // 2, (size - nw) // 2
    out[top:top + nh, left:left + nw] = resized
    return out
