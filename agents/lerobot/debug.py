"""Diagnostics for ``agent.debug=true``: what the policy saw and where it wants to go.

Per query, into the episode's folder: the input images exactly as sent to the
policy (``step_NNNN_<key>.png``), the primary image with the decoded target
positions of the chunk projected through the reported calibration
(``step_NNNN_targets.png``: current end effector white, targets from yellow to
red in chunk order), and one JSON line in ``queries.jsonl`` with the state
sent, the decoded actions and how far the raw 6-D rotations are from orthonormal
(large values suggest the other ``rot6d_order``).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

from envs.cameras import Calibration


def save_query(folder: Path, step: int, inputs: dict, obs: dict, actions: np.ndarray,
               calibration: Calibration | None, extra: dict | None = None) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    stem = f"step_{step:04d}"
    for key, value in inputs.items():
        if isinstance(value, np.ndarray) and value.ndim == 3:
            Image.fromarray(value).save(folder / f"{stem}_{key.rsplit('.', 1)[-1]}.png")
    if calibration is not None:
        overlay = draw_targets(obs["images"]["primary"], calibration, obs["state"][:3], actions[:, :3])
        overlay.save(folder / f"{stem}_targets.png")
    record = {"step": step, "task": inputs.get("task"),
              "state": np.asarray(inputs.get("observation.state", [])).round(5).tolist(),
              "ee_now": np.asarray(obs["state"][:3]).round(4).tolist(),
              "actions": np.asarray(actions).round(4).tolist(), **(extra or {})}
    with (folder / "queries.jsonl").open("a") as f:
        f.write(json.dumps(record) + "\n")


def draw_targets(image: np.ndarray, cal: Calibration, ee_now: np.ndarray, targets: np.ndarray) -> Image.Image:
    img = Image.fromarray(image).convert("RGB")
    draw = ImageDraw.Draw(img)
    pts = np.vstack([ee_now, targets])
    in_front = cal.to_camera(pts)[:, 2] > 1e-6
    px = np.full((len(pts), 2), np.nan)
    if in_front.any():
        px[in_front] = cal.project(pts[in_front])
    for i, (u, v) in enumerate(px):
        if np.isnan(u):
            continue
        if i == 0:
            color, r = (255, 255, 255), 4
        else:
            t = (i - 1) / max(1, len(pts) - 2)
            color, r = (255, int(220 * (1 - t)), 0), 3
        draw.ellipse([u - r, v - r, u + r, v + r], outline=color, width=2)
    return img
