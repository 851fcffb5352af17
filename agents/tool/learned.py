"""Learned reasoner: the classic reasoner with its colour segmentation replaced by the learned pointer.

Only image-space perception is learned.  The instruction is parsed and the plan built exactly as the classic
reasoner does (:func:`agents.tool.perception.parse_instruction`, :meth:`ClassicReasoner.start_plan`); the tool
agent lifts the points through the reported calibration, solves IK, moves, checks and replans as for every
reasoner.  Where the classic reasoner segments colours, this one runs the pointer (:mod:`agents.pointer`) on the
image, conditioned on the colours the instruction names, and reports one point per role: the cube to move
(``"<colour> block"``) and, for ``place``, its mat (``"<colour> target"``).  Like a VLM's ``box_2d``, each cube
point comes with a box around it (``box_px``, in the agent's image), inside which the agent's footprint tool
reads the grasp yaw.

Forms the pointer has no role for (stacking onto a cube, sorting, towers, gathering, referring expressions)
point at nothing and make no plan (counted as ``no_plan``), never a guess.

The checkpoint is a folder written by ``python -m agents.pointer.train`` (``<out>/checkpoint``); it is loaded in
:meth:`prepare`, once per worker: a missing or unreadable one, or no PyTorch, stops the run before any episode
with a message saying what to do.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import numpy as np

from agents.errors import FatalAgentError
from agents.tool.classic import ClassicReasoner
from agents.tool.perception import parse_instruction
from agents.tool.types import Detection, scale_pixels
from envs.errors import ConfigError

log = logging.getLogger(__name__)

TRAIN_HINT = ("train one with `.venv-xvla/bin/python -m agents.pointer.train --dataset <eval.record out_dir> --out "
              "<dir>` and pass agent.reasoner.checkpoint=<dir>/checkpoint")


class LearnedReasoner(ClassicReasoner):
    name = "learned"

    def __init__(self, checkpoint: str | None = None, device: str = "cpu", threads: int | None = 1,
                 box_px: float = 24.0, min_confidence: float = 0.0):
        super().__init__()
        self.checkpoint = checkpoint
        self.device = device
        self.threads = threads
        self.box_px = float(box_px)  # half side of the box reported around a cube point, agent image pixels
        self.min_confidence = float(min_confidence)  # a role whose heatmap mass near its peak is lower: not found
        self._model: Any = None

    def prepare(self) -> None:
        if self._model is not None:
            return
        if not self.checkpoint:
            raise FatalAgentError(f"agent=learned needs a pointer checkpoint (agent.reasoner.checkpoint=...): "
                                  f"{TRAIN_HINT}")
        if not Path(self.checkpoint).is_dir():
            raise FatalAgentError(f"no pointer checkpoint at {self.checkpoint}: {TRAIN_HINT}")
        try:
            import torch

            from agents.pointer.model import load_checkpoint
        except ImportError as e:
            raise FatalAgentError(f"agent=learned runs the pointer with PyTorch and safetensors ({e}): run it in "
                                  "the LeRobot environment (.venv-xvla, `make xvla-env`), or pip install torch "
                                  "safetensors") from e
        if self.threads:
            torch.set_num_threads(int(self.threads))
        try:
            self._model, meta = load_checkpoint(self.checkpoint, self.device)
        except ConfigError as e:
            raise FatalAgentError(f"{e}: {TRAIN_HINT}") from e
        log.info("pointer %s: %d training steps, image %s, roles %s", self.checkpoint,
                 meta.get("steps", -1), tuple(self._model.cfg.image_size), self._model.cfg.roles)

    def point(self, image: np.ndarray, instruction: str) -> list[Detection]:
        self._stats["reasoner_calls"] += 1
        parsed = parse_instruction(instruction)
        self.prepare()  # loaded already in a harness run; here for direct use
        wanted = self._roles(parsed)
        if wanted is None or any(r not in self._model.cfg.roles for r in wanted):
            self._stats["no_plan"] += 1
            log.info("learned reasoner: no plan for %r: %s", instruction,
                     parsed.reason or f"the pointer has no role for the form {parsed.form!r}")
            return []
        pixels, conf = self._infer(image, {role: c for role, (c, _) in wanted.items()})
        found = []
        for role, (color, kind) in wanted.items():
            if conf[role] < self.min_confidence:
                continue
            p = pixels[role]
            box = np.r_[p - self.box_px, p + self.box_px] if kind == "block" else None
            found.append(Detection(f"{color} {kind}", p, box))
        return found

    def _roles(self, parsed) -> dict[str, tuple[str, str]] | None:
        """Role -> (colour, kind) for the forms the pointer reads: pick (a cube), place (a cube onto a mat)."""
        if parsed.form == "pick" and parsed.objects[0][1] == "block":
            return {"block": parsed.objects[0]}
        if parsed.form == "place" and [k for _, k in parsed.objects] == ["block", "target"]:
            return {"block": parsed.objects[0], "target": parsed.objects[1]}
        return None

    def _infer(self, image: np.ndarray, colors: dict[str, str]) -> tuple[dict[str, np.ndarray], dict[str, float]]:
        """The pointer on one image: role -> (u, v) in ``image``'s pixels, role -> confidence."""
        import torch

        from agents.lerobot.contract import resize_image
        from agents.pointer.model import decode

        cfg = self._model.cfg
        h, w = image.shape[:2]
        small = resize_image(image, tuple(cfg.image_size), "squash")  # as eval.record stores the frames
        x = torch.from_numpy(np.array(small)).permute(2, 0, 1)[None].float().div(255.0)
        cond = torch.from_numpy(cfg.condition(colors))[None]
        with torch.no_grad():
            uv, conf = decode(self._model(x.to(self.device), cond.to(self.device)), cfg)
        uv_img = scale_pixels(uv[0].cpu().numpy(), tuple(cfg.image_size), (h, w))
        return ({role: uv_img[cfg.roles.index(role)] for role in colors},
                {role: float(conf[0, cfg.roles.index(role)]) for role in colors})
