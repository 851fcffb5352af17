"""Classic image tools: colour segmentation, footprint orientation, instruction parsing.

The colours are the scene's named colours as a person would name them; the
hue windows were read off rendered images (PIL HSV, 0-255 scale).  Nothing
here reads the simulator.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np
from PIL import Image

from agents.tool.types import TARGET_WORDS, Detection
from envs.cameras import Calibration

# name -> (hue windows, minimum saturation); value must exceed MIN_VALUE.
HUE_WINDOWS: dict[str, tuple[tuple[tuple[int, int], ...], int]] = {
    "red": (((0, 8), (245, 255)), 120),
    "orange": (((14, 31),), 150),  # the wooden table is hue ~21 but saturation ~115
    "yellow": (((32, 52),), 120),
    "green": (((62, 105),), 100),
    "blue": (((140, 178),), 100),
    "purple": (((185, 228),), 90),
}
MIN_VALUE = 50
MIN_PIXELS = 30  # smaller blobs are noise or a sliver behind the arm
COLOR_WORDS = tuple(HUE_WINDOWS)
BLOCK_WORDS = ("block", "cube")
# the tray: light grey, i.e. unsaturated and bright (the wooden table has saturation ~115)
TRAY_MAX_SATURATION, TRAY_MIN_VALUE = 40, 150


def color_mask(image: np.ndarray, color: str) -> np.ndarray:
    hsv = np.asarray(Image.fromarray(image).convert("HSV")).astype(np.int16)
    h, s, v = hsv[..., 0], hsv[..., 1], hsv[..., 2]
    windows, min_sat = HUE_WINDOWS[color]
    hue_ok = np.zeros(h.shape, bool)
    for lo, hi in windows:
        hue_ok |= (h >= lo) & (h <= hi)
    return hue_ok & (s >= min_sat) & (v >= MIN_VALUE)


def detect_color(image: np.ndarray, color: str, label: str) -> Detection | None:
    """Centroid and bounding box of the pixels of ``color``, or None if too few."""
    rows, cols = np.nonzero(color_mask(image, color))
    if len(rows) < MIN_PIXELS:
        return None
    box = np.array([cols.min(), rows.min(), cols.max(), rows.max()], float)
    return Detection(label, np.array([cols.mean(), rows.mean()]), box)


def color_blobs(image: np.ndarray, color: str, label: str) -> list[Detection]:
    """One detection per connected region of ``color`` (at least ``MIN_PIXELS``), largest first."""
    return _blobs(color_mask(image, color), label)


def detect_tray(image: np.ndarray) -> Detection | None:
    """The largest unsaturated bright region (the grey tray), or None."""
    hsv = np.asarray(Image.fromarray(image).convert("HSV")).astype(np.int16)
    blobs = _blobs((hsv[..., 1] <= TRAY_MAX_SATURATION) & (hsv[..., 2] >= TRAY_MIN_VALUE), "tray")
    return blobs[0] if blobs else None


def _blobs(mask: np.ndarray, label: str) -> list[Detection]:
    from scipy import ndimage

    regions, n = ndimage.label(mask)
    out = []
    for i in range(1, n + 1):
        rows, cols = np.nonzero(regions == i)
        if len(rows) >= MIN_PIXELS:
            box = np.array([cols.min(), rows.min(), cols.max(), rows.max()], float)
            out.append(Detection(label, np.array([cols.mean(), rows.mean()]), box, area=len(rows),
                                 spread=np.cov(np.stack([cols, rows]).astype(float))))
    return sorted(out, key=lambda d: -d.area)


# Words that make an object reference or a goal depend on geometry or comparison, which colour rules cannot
# resolve: the classic reasoner answers "no plan" to them rather than guess.
REFERRING_WORDS = frozenset((
    "leftmost", "rightmost", "closest", "nearest", "farthest", "furthest", "distant", "nearer", "farther", "far",
    "second", "third", "small", "little", "big", "larger", "smaller", "next", "beside", "left", "right", "front",
    "behind",
))
QUANTIFIERS = frozenset(("each", "every", "all"))
MATCH_WORDS = frozenset(("colour", "color", "matching", "same"))
STACK_WORDS = frozenset(("stack", "tower"))


@dataclass(frozen=True)
class ParsedInstruction:
    """What the rules make of an instruction.

    ``objects``: colour mentions in order, [(colour, 'block' | 'target'), ...].  ``form``: ``"pick"`` (one
    object), ``"place"`` (an object onto a second: mat or cube), ``"sort"`` (each cube onto the mat of its
    colour), ``"gather"`` (every cube onto the tray), ``"tower"`` (``objects`` stacked bottom first),
    ``"steps"`` (pairs: "put A on B, then C on D"), or None when the rules cannot read it (``reason`` says
    why).
    """

    objects: tuple[tuple[str, str], ...]
    form: str | None = None
    reason: str = ""

    @property
    def labels(self) -> list[str]:
        return [f"{c} {k}" for c, k in self.objects]


def parse_instruction(text: str) -> ParsedInstruction:
    """Rule-based: each colour word with the object noun that follows it ("red block", "blue mat"), and which
    of the forms above the sentence has."""
    words = re.findall(r"[a-z]+", text.lower())
    found = []
    for i, w in enumerate(words):
        if w not in COLOR_WORDS:
            continue
        noun = next((n for n in words[i + 1:i + 3] if n in BLOCK_WORDS + TARGET_WORDS + ("one",)), "block")
        found.append((w, "target" if noun in TARGET_WORDS else "block"))
    objects, vocab = tuple(found), set(words)
    distinct = list(dict.fromkeys(c for c, _ in objects))
    if vocab & STACK_WORDS and len(distinct) == len(objects) == 3:
        return ParsedInstruction(objects, "tower")
    if "then" in vocab and len(objects) >= 4 and len(objects) % 2 == 0:
        return ParsedInstruction(objects, "steps")
    if vocab & REFERRING_WORDS:
        return ParsedInstruction(objects, None, f"needs spatial or comparative reasoning "
                                                f"({', '.join(sorted(vocab & REFERRING_WORDS))})")
    if not objects and vocab & (QUANTIFIERS | {"sort"}) and vocab & MATCH_WORDS:
        return ParsedInstruction(objects, "sort")
    if not objects and vocab & (QUANTIFIERS | {"gather"}) and "tray" in vocab:
        return ParsedInstruction(objects, "gather")
    if len(objects) in (1, 2):
        return ParsedInstruction(objects, ("pick", "place")[len(objects) - 1])
    return ParsedInstruction(objects, None, f"names {len(objects)} coloured objects in no form the rules know"
                             if objects else "names no object by colour")


TOP_FACE_BRIGHTEST_FRACTION = 0.3  # lit from above, a box's top face is its brightest part


def footprint_yaw(image: np.ndarray, det: Detection, cal: Calibration, top_z: float) -> float | None:
    """Yaw of a box-shaped object's top face (radians, in [-pi/4, pi/4)), or None.

    The brightest of the object's pixels (its colour, inside its box) are lifted
    with the calibration onto the plane of its top face, z = ``top_z``; the yaw
    minimising the area of their bounding rectangle is the face's orientation.
    """
    mask = _object_mask(image, det)
    if mask is None:
        return None
    rows, cols = np.nonzero(mask)
    value = np.asarray(Image.fromarray(image).convert("HSV"))[rows, cols, 2]
    top = value >= np.quantile(value, 1.0 - TOP_FACE_BRIGHTEST_FRACTION)
    pts = cal.unproject(np.column_stack([cols[top], rows[top]]).astype(float), plane_z=top_z)[:, :2]
    pts -= pts.mean(axis=0)
    angles = np.deg2rad(np.arange(-45.0, 45.0, 1.0))
    areas = [np.ptp(pts @ [np.cos(a), np.sin(a)]) * np.ptp(pts @ [-np.sin(a), np.cos(a)]) for a in angles]
    return float(angles[int(np.argmin(areas))])


def _object_mask(image: np.ndarray, det: Detection) -> np.ndarray | None:
    color = det.color if det.color in HUE_WINDOWS else None
    if color is None:
        return None
    mask = color_mask(image, color)
    if det.box is not None:
        u0, v0, u1, v1 = np.round(det.box).astype(int)
        window = np.zeros_like(mask)
        window[max(v0, 0):v1 + 1, max(u0, 0):u1 + 1] = True
        mask &= window
    return mask if mask.sum() >= MIN_PIXELS else None
