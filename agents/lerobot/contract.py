"""Contracts: how env observations become a policy's inputs and its outputs become env actions.

A contract is built from the facts a backend reports (``PolicyBackend.describe()``:
image keys and sizes, state size, ...) plus the settings under ``agent.contract``.
Two ship with the bench, looked up by ``contract.type`` in :data:`CONTRACTS`:

- ``env`` (:class:`EnvContract`, here): policies trained on this env's own data
  (``eval.record``), the env's layouts unchanged;
- ``xvla`` (:class:`agents.xvla.contract.XVLAContract`): BridgeData conventions,
  ``ee6d`` actions.

A new contract is a class with the :class:`Contract` methods and one line in
:data:`CONTRACTS` (``"module:Class"``, imported when first used, so this module
imports no contract package and no contract package can form a cycle with it).
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np
from PIL import Image

from agents.errors import AgentError
from envs.errors import ConfigError, check_choice

STATE_KEY = "observation.state"
IMAGE_PREFIX = "observation.images."

CONTRACTS = {
    "env": "agents.lerobot.contract:EnvContract",
    "xvla": "agents.xvla.contract:XVLAContract",
}


class Contract(Protocol):
    @classmethod
    def from_facts(cls, facts: dict, **settings: Any) -> Contract: ...

    def build_inputs(self, obs: dict, instruction: str) -> dict:
        """Env observation -> the policy's raw inputs (before its own pre-processor)."""

    def decode(self, chunk: np.ndarray) -> np.ndarray:
        """(T, action dims) policy rows -> (T, 7) env ``ee_pose`` actions."""

    def diagnostics(self, chunk: np.ndarray) -> dict[str, float]:
        """Numbers about a raw chunk for the debug log (``agent.debug=true``)."""


def make_contract(kind: str, facts: dict, **settings: Any) -> Contract:
    """The contract named ``kind`` in :data:`CONTRACTS`, for a checkpoint's ``facts``."""
    module, name = CONTRACTS[check_choice("contract.type", kind, CONTRACTS)].split(":")
    return getattr(importlib.import_module(module), name).from_facts(facts, **settings)


class PolicyInputError(AgentError):
    """The inputs do not match what the checkpoint declares (a server answers 422: never retried)."""


def check_inputs(facts: dict, inputs: dict) -> None:
    """Refuse inputs the checkpoint cannot take: undeclared or mis-sized images, a wrong state size.

    A declared image may be missing (X-VLA masks an absent view)."""
    images = facts.get("images") or {}
    for key, value in inputs.items():
        if key.startswith(IMAGE_PREFIX):
            if key not in images:
                raise PolicyInputError(f"image {key!r} is not an input of this policy (it takes {sorted(images)})")
            shape, want = np.shape(value), (*images[key], 3)
            if tuple(shape) != tuple(want):
                raise PolicyInputError(f"image {key!r} has shape {shape}, the policy takes {want}")
    state_dim = facts.get("state_dim")
    if STATE_KEY in inputs and state_dim is not None and np.shape(inputs[STATE_KEY]) != (state_dim,):
        raise PolicyInputError(f"{STATE_KEY} has shape {np.shape(inputs[STATE_KEY])}, the policy takes "
                               f"({state_dim},)")
    if not isinstance(inputs.get("task", ""), str):
        raise PolicyInputError(f"task must be text, got {type(inputs['task']).__name__}")


def resize_image(image: np.ndarray, size: tuple[int, int], mode: str) -> np.ndarray:
    """uint8 HxWx3 -> uint8 ``size`` (height, width) by ``squash``, ``pad`` or ``crop``."""
    h, w = size
    img = Image.fromarray(image)
    if mode == "squash":
        return np.asarray(img.resize((w, h), Image.Resampling.BILINEAR))
    scale = (min if mode == "pad" else max)(w / img.width, h / img.height)
    nw, nh = max(1, round(img.width * scale)), max(1, round(img.height * scale))
    img = img.resize((nw, nh), Image.Resampling.BILINEAR)
    canvas = Image.new("RGB", (w, h))
    canvas.paste(img, ((w - nw) // 2, (h - nh) // 2))
    return np.asarray(canvas)


@dataclass(frozen=True)
class EnvContract:
    """Policies trained on this env's own data (``eval.record``): the env's layouts, no conversion.

    Inputs: ``observation.images.<camera>`` for each image the checkpoint
    declares, resized (``resize``) to its declared size; ``observation.state``:
    the env's 8-D state; ``task``.  Outputs: rows of the env's 7-D ``ee_pose``
    action, clipped to a valid gripper opening.
    """

    images: dict = field(default_factory=lambda: {"observation.images.primary": (96, 128)})  # key -> (h, w)
    resize: str = "squash"

    def __post_init__(self):
        check_choice("resize", self.resize, ("squash", "pad", "crop"))

    @classmethod
    def from_facts(cls, facts: dict, **settings: Any) -> EnvContract:
        return cls(images={k: tuple(v) for k, v in facts["images"].items()}, **settings)

    def build_inputs(self, obs: dict, instruction: str) -> dict:
        out: dict[str, Any] = {}
        for key, size in self.images.items():
            camera = key.rsplit(".", 1)[-1]
            if camera not in obs["images"]:
                raise ConfigError(f"the policy needs camera {camera!r}: add it to agent.obs_cameras")
            out[key] = resize_image(obs["images"][camera], size, self.resize)
        out[STATE_KEY] = np.asarray(obs["state"], np.float32)
        out["task"] = instruction
        return out

    def decode(self, chunk: np.ndarray) -> np.ndarray:
        chunk = np.array(chunk, np.float32, ndmin=2)  # a copy: the caller's chunk stays as it was
        if chunk.shape[1] != 7:
            raise ConfigError(f"an env-layout policy must output 7 numbers per step, got {chunk.shape[1]}")
        chunk[:, 6] = np.clip(chunk[:, 6], 0.0, 1.0)
        return chunk

    def diagnostics(self, chunk: np.ndarray) -> dict[str, float]:
        return {}
