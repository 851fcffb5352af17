"""Training frames for the pointer: the LeRobotDataset of a recording (LeRobot's own loader) joined with the pixel
labels ``eval.record`` wrote beside it (``<out_dir>/labels.jsonl``, :mod:`eval.labels`) by
(``episode_index``, ``frame_index``).

The condition of each frame is read from its instruction the way the agent reads it at run time
(:func:`agents.tool.perception.parse_instruction`: the colour words of the cube and of the mat), not from ground
truth; the labels' ``roles`` are used only to check that the two agree.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from agents.pointer.model import PointerConfig
from agents.tool.perception import parse_instruction
from envs.errors import BenchError
from eval.labels import read_labels

log = logging.getLogger(__name__)


@dataclass
class PointerFrames:
    images: np.ndarray  # (N, H, W, 3) uint8
    uv: np.ndarray  # (N, R, 2) float32 pixels in the stored image
    valid: np.ndarray  # (N, R) bool: the label lies in the image
    visible: np.ndarray  # (N, R) bool: the object's centre is not occluded
    cond: np.ndarray  # (N, cond_dim) float32
    episode: np.ndarray  # (N,) dataset episode_index
    frame: np.ndarray  # (N,) frame_index
    arm_away: np.ndarray  # (N,) bool: the gripper is at least ARM_AWAY_M from every role's object (as in a look)

    def subset(self, mask: np.ndarray) -> PointerFrames:
        return PointerFrames(*(getattr(self, k)[mask] for k in self.__dataclass_fields__))

    def __len__(self) -> int:
        return len(self.images)


ARM_AWAY_M = 0.1  # a frame where the gripper is this far from the objects shows them as the agent's looks do


def instruction_colors(instruction: str) -> dict[str, str | None]:
    """The colour the instruction names for each role: its first cube (``block``) and its first mat
    (``target``), as the classic rules read it."""
    parsed = parse_instruction(instruction)
    block = next((c for c, k in parsed.objects if k == "block"), None)
    target = next((c for c, k in parsed.objects if k == "target"), None)
    return {"block": block, "target": target}


def stored_size(recording: str | Path, camera: str = "primary") -> tuple[int, int]:
    """(height, width) at which the recording's dataset stores ``camera`` (its ``meta/info.json``)."""
    info = Path(recording) / "dataset" / "meta" / "info.json"
    if not info.is_file():
        raise BenchError(f"no LeRobotDataset in {info.parent.parent}: record one with python -m eval.record ... "
                         f"out_dir={recording}")
    feats = json.loads(info.read_text())["features"]
    key = f"observation.images.{camera}"
    if key not in feats:
        raise BenchError(f"{info.parent.parent} has no {key} (it has {sorted(k for k in feats if 'images' in k)})")
    h, w = feats[key]["shape"][:2]
    return int(h), int(w)


def load_frames(recording: str | Path, cfg: PointerConfig, camera: str = "primary",
                repo_id: str | None = None) -> PointerFrames:
    """Every frame of the recording in ``recording`` (an ``eval.record`` out_dir) with its labels."""
    try:
        from lerobot.datasets.lerobot_dataset import LeRobotDataset
    except ImportError as e:
        raise BenchError("training the pointer reads the dataset with LeRobot: run it in the LeRobot environment "
                         "(.venv-xvla, `make xvla-env`)") from e
    recording = Path(recording)
    root = recording / "dataset"
    if not (root / "meta" / "info.json").is_file():
        raise BenchError(f"no LeRobotDataset in {root}: record one with python -m eval.record ... out_dir={recording}")
    labels = read_labels(recording)
    ds = LeRobotDataset(repo_id or "local/pointer_frames", root=root)  # read from root: the id is only a name
    key = f"observation.images.{camera}"
    if key not in ds.features:
        raise BenchError(f"{root} has no {key} (it has {sorted(k for k in ds.features if 'images' in k)})")
    cols = ds.hf_dataset.with_format("numpy")
    episodes = np.asarray(cols["episode_index"], np.int64)
    frames = np.asarray(cols["frame_index"], np.int64)
    gripper = np.stack(list(cols["observation.state"]))[:, :3].astype(np.float64)  # the pinch point, world frame
    missing = sorted(set(episodes.tolist()) - set(labels))
    if missing:
        raise BenchError(f"{recording / 'labels.jsonl'} has no labels for episodes {missing[:5]}... of the dataset: "
                         "it was recorded (or resumed) by an eval.record without labels; record it again")
    images = np.stack(list(cols[key])).astype(np.uint8)
    if images.shape[1:3] != tuple(cfg.image_size):
        raise BenchError(f"{root} stores {camera} at {images.shape[1:3]}, the pointer is configured for "
                         f"{tuple(cfg.image_size)}: record with image_size={list(cfg.image_size)} or set --image-size")
    n, r = len(images), len(cfg.roles)
    uv = np.zeros((n, r, 2), np.float32)
    valid = np.zeros((n, r), bool)
    visible = np.zeros((n, r), bool)
    cond = np.zeros((n, cfg.cond_dim), np.float32)
    away = np.ones(n, bool)
    disagree = 0
    conds = {}
    for ep, lab in labels.items():
        colors = instruction_colors(lab["task"])
        disagree += any(colors.get(k) not in (None, v) for k, v in lab["roles"].items())
        conds[ep] = cfg.condition(colors)
    for i, (ep, fr) in enumerate(zip(episodes, frames)):
        lab = labels[int(ep)]["pixels"][camera]
        for xyz in labels[int(ep)]["world"].values():
            away[i] &= bool(np.linalg.norm(gripper[i] - xyz[fr]) >= ARM_AWAY_M)
        for j, role in enumerate(cfg.roles):
            if role in lab:
                uv[i, j] = lab[role]["u"][fr], lab[role]["v"][fr]
                valid[i, j] = lab[role]["in_image"][fr]
                visible[i, j] = lab[role]["visible"][fr]
        cond[i] = conds[int(ep)]
    if disagree:
        log.warning("%d episodes: the instruction's colour words disagree with the task's roles", disagree)
    return PointerFrames(images, uv, valid, visible, cond, episodes, frames, away)

