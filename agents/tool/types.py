"""What reasoners and tools exchange: detections, function calls, call results.

Image coordinates on the wire follow Gemini Robotics-ER: points ``[y, x]`` and
boxes ``[ymin, xmin, ymax, xmax]`` normalised to 0-1000.  Inside the agent,
pixels are ``(u, v)`` = (column, row) in the image the reasoner saw.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

TARGET_WORDS = ("target", "mat", "tray")  # words that name a flat target rather than a cube

NORM = 1000.0


@dataclass
class Detection:
    label: str  # e.g. "red block", "blue target"
    pixel: np.ndarray  # (u, v)
    box: np.ndarray | None = None  # (umin, vmin, umax, vmax) in pixels
    area: int = 0  # pixels of a segmented region (0: not known)
    spread: np.ndarray | None = None  # 2x2 covariance of a segmented region's pixels (u, v)

    @property
    def color(self) -> str | None:
        words = self.label.lower().split()
        return words[0] if words else None

    @property
    def kind(self) -> str:
        """'target' for mats / targets, 'block' otherwise."""
        return "target" if any(w in self.label.lower() for w in TARGET_WORDS) else "block"


@dataclass
class Call:
    """A function call of the plan: ``move(x, y, high)`` or ``setGripperState(opened)``."""

    name: str
    args: dict[str, Any] = field(default_factory=dict)
    id: str | None = None  # the model's call id, echoed in the function response


@dataclass
class CallResult:
    call: Call
    status: str  # "ok" | "error"
    detail: dict[str, Any] = field(default_factory=dict)

    def response(self) -> dict[str, Any]:
        return {"status": self.status, **self.detail}


def norm_to_pixel(y: float, x: float, width: int, height: int) -> np.ndarray:
    """(y, x) in 0-1000 (0 and 1000 are the image's outer edges) -> (u, v) with pixel centres at integers."""
    return np.array([x / NORM * width - 0.5, y / NORM * height - 0.5])


def pixel_to_norm(pixel: np.ndarray, width: int, height: int) -> tuple[int, int]:
    """(u, v) pixels -> (y, x) in 0-1000."""
    return int(round((pixel[1] + 0.5) / height * NORM)), int(round((pixel[0] + 0.5) / width * NORM))


def scale_pixels(uv: np.ndarray, src_hw: tuple[int, int], dst_hw: tuple[int, int]) -> np.ndarray:
    """(N, 2) pixels (u, v) of an H x W image -> the same points in a resize of it to ``dst_hw`` (height, width),
    pixel centres at integers: ``u -> (u + 0.5) w / W - 0.5`` (the convention of PIL's resize)."""
    scale = np.array([dst_hw[1] / src_hw[1], dst_hw[0] / src_hw[0]])
    return (np.asarray(uv, float) + 0.5) * scale - 0.5


def detection_from_wire(item: dict, width: int, height: int) -> Detection | None:
    """One ``{"point": [y, x], "label": ..., "box_2d": [...]}`` item, or None if malformed."""
    try:
        y, x = (float(v) for v in item["point"])
        label = " ".join(str(item.get("label", "")).lower().split())
    except (KeyError, TypeError, ValueError):
        return None
    if not (0 <= y <= NORM and 0 <= x <= NORM):
        return None
    box = None
    if isinstance(item.get("box_2d"), (list, tuple)) and len(item["box_2d"]) == 4:
        ymin, xmin, ymax, xmax = (float(v) for v in item["box_2d"])
        box = np.concatenate([norm_to_pixel(ymin, xmin, width, height), norm_to_pixel(ymax, xmax, width, height)])
    return Detection(label, norm_to_pixel(y, x, width, height), box)
