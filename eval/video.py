"""Per-episode mp4: the primary view beside the third-person view."""

from __future__ import annotations

from pathlib import Path

import numpy as np


class VideoRecorder:
    def __init__(self, path: Path, fps: int, cameras=("primary", "third_person")):
        self.path, self.fps, self.cameras = Path(path), fps, cameras
        self.frames: list = []  # (H, W, 3) uint8 images

    def add(self, env, obs: dict) -> None:
        """One frame; views the agent's observation already holds are not rendered again."""
        images = obs.get("images", {})
        views = [images[c] if c in images else env.unwrapped.render_camera_image(c) for c in self.cameras]
        h = min(v.shape[0] for v in views)
        self.frames.append(np.concatenate([v[:h] for v in views], axis=1))

    def save(self) -> Path:
        import imageio.v2 as imageio

        self.path.parent.mkdir(parents=True, exist_ok=True)
        imageio.mimwrite(self.path, self.frames, fps=self.fps, macro_block_size=8)
        self.frames = []
        return self.path
