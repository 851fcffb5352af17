"""What the playground shows per step: the primary view with the agent's points drawn, beside third-person."""

from __future__ import annotations

from typing import Iterable

import numpy as np
from PIL import Image, ImageDraw

from agents.base import PointReport
from envs.scene import COLORS

POINT_RADIUS_PX = 5
DEFAULT_RGB = (255, 220, 0)  # a label that names no known colour


def label_rgb(label: str) -> tuple[int, int, int]:
    """The colour a label names ("red block" -> red), yellow when it names none."""
    for word in label.lower().split():
        if word in COLORS:
            r, g, b, _ = COLORS[word]
            return int(255 * r), int(255 * g), int(255 * b)
    return DEFAULT_RGB


def latest_look(points: Iterable[PointReport], camera: str = "primary") -> list[PointReport]:
    """The points of the agent's most recent look at ``camera``."""
    on = [p for p in points if p.camera == camera]
    if not on:
        return []
    last = max(p.look for p in on)
    return [p for p in on if p.look == last]


def draw_points(frame: np.ndarray, points: Iterable[PointReport]) -> np.ndarray:
    """A copy of ``frame`` with each point drawn as a ring (white outline, its label's colour) and its label.

    Pixels are (u, v) in the frame's own coordinates, pixel centres at integers; points outside are skipped.
    """
    points = list(points)
    if not points:
        return frame
    image = Image.fromarray(frame)
    draw = ImageDraw.Draw(image)
    h, w = frame.shape[:2]
    r = POINT_RADIUS_PX
    for p in points:
        u, v = p.pixel
        if not (0 <= u < w and 0 <= v < h):
            continue
        draw.ellipse((u - r - 1, v - r - 1, u + r + 1, v + r + 1), outline=(255, 255, 255), width=1)
        draw.ellipse((u - r, v - r, u + r, v + r), outline=label_rgb(p.label), width=2)
        draw.text((u + r + 3, v - r - 2), p.label, fill=(255, 255, 255), stroke_width=1, stroke_fill=(0, 0, 0))
    return np.asarray(image)


def compose(primary: np.ndarray, third_person: np.ndarray, points: Iterable[PointReport] = ()) -> np.ndarray:
    """The primary view (with ``points`` drawn) beside the third-person view, cut to the same height."""
    h = min(primary.shape[0], third_person.shape[0])
    return np.concatenate([draw_points(primary, points)[:h], third_person[:h]], axis=1)
