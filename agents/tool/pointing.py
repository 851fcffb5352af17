"""Pointing conventions of VLM families: how each one writes a point or box, and how to read it back.

Getting a convention wrong moves every grasp without an error, so every family's format lives here, each
with its reader, a writer (what a model of that family would answer: used by the tests' stand-in server)
and the prompt wording the family expects.  All readers return :class:`Detection` in pixels ``(u, v)`` of
the image the agent observed (pixel centres at integers), whatever image size the model saw.

========== =========================================================== ================================
format     what the model writes                                        coordinates
========== =========================================================== ================================
gemini     ``[{"point": [y, x], "label": ..., "box_2d": [y0,x0,y1,x1]}]`` 0-1000, y first
qwen2.5    ``[{"point_2d": [x, y], "label": ...}]`` or ``"bbox_2d"``      absolute pixels of the image as
                                                                          the model resized it
qwen3      the same keys as qwen2.5                                      0-1000, x first
molmo      ``<point x="61.5" y="40.2" alt="red block">red block</point>``  percent (0-100)
           or ``<points x1= y1= x2= y2= ... alt=...>``
molmo2     ``<points coords="1 1 615 402 2 300 500" alt=...>``            0-1000; first number: the image,
                                                                          then (index, x, y) per point
moondream  ``{"points": [{"x": 0.61, "y": 0.40}]}`` (per object, or a     0-1
           list of ``{"x", "y", "label"}``)
paligemma  ``<loc0411><loc0630><loc0512><loc0700> red block ; ...``      1024 bins, ymin xmin ymax xmax;
                                                                          the point is the box centre
========== =========================================================== ================================

Qwen2.5-VL answers in pixels of the image after its processor resized it (``smart_resize``: each side
rounded to a multiple of 28, the area kept within ``[min_pixels, max_pixels]``).  The reasoner sends an
image already of that size (:func:`model_input_size`), so the processor leaves it alone and the mapping is
exact: a model pixel is scaled back by the ratio of the observed image to the sent one.
"""

from __future__ import annotations

import json
import math
import re
from typing import Any, Callable

import numpy as np

from agents.tool.types import Detection

POINT_FORMATS = ("gemini", "qwen2.5", "qwen3", "molmo", "molmo2", "moondream", "paligemma")
# model-name fragments -> format, most specific first (matched case-insensitively)
NAME_HINTS = (
    ("qwen3", "qwen3"), ("qwen2.5", "qwen2.5"), ("qwen2_5", "qwen2.5"), ("qwen", "qwen2.5"),
    ("molmo2", "molmo2"), ("molmo", "molmo"), ("moondream", "moondream"), ("paligemma", "paligemma"),
    ("robobrain", "qwen2.5"), ("cosmos-reason", "qwen2.5"), ("gemini", "gemini"),
)
QWEN25_FACTOR, QWEN25_MIN_PIXELS, QWEN25_MAX_PIXELS = 28, 4 * 28 * 28, 16384 * 28 * 28  # qwen-vl-utils' defaults
PALIGEMMA_BINS = 1024


def infer_point_format(model: str) -> str | None:
    """The pointing convention a model name implies, or None when the name says nothing."""
    name = model.lower()
    return next((fmt for hint, fmt in NAME_HINTS if hint in name), None)


def model_input_size(fmt: str, width: int, height: int) -> tuple[int, int]:
    """(width, height) of the image to send: what the model's processor would resize it to (Qwen2.5-VL's
    ``smart_resize``), or the image's own size for formats that do not depend on it."""
    if fmt != "qwen2.5":
        return width, height
    f = QWEN25_FACTOR
    h, w = max(f, round(height / f) * f), max(f, round(width / f) * f)
    if h * w > QWEN25_MAX_PIXELS:
        beta = math.sqrt(height * width / QWEN25_MAX_PIXELS)
        h, w = math.floor(height / beta / f) * f, math.floor(width / beta / f) * f
    elif h * w < QWEN25_MIN_PIXELS:
        beta = math.sqrt(QWEN25_MIN_PIXELS / (height * width))
        h, w = math.ceil(height * beta / f) * f, math.ceil(width * beta / f) * f
    return w, h


# --- prompts -------------------------------------------------------------------------------------------
_JSON_ITEMS = {
    "gemini": '[{"point": [y, x], "label": "<name>"}] with coordinates normalised to 0-1000 (y first)',
    "qwen2.5": '[{"point_2d": [x, y], "label": "<name>"}] with x, y in pixels of this image',
    "qwen3": '[{"point_2d": [x, y], "label": "<name>"}] with x, y normalised to 0-1000',
    "moondream": '[{"x": x, "y": y, "label": "<name>"}] with x, y between 0 and 1',
}
NAMES = ('Name each "<colour> block" for cubes, "<colour> target" for flat coloured mats and "tray" for the '
         "flat grey square")


def point_prompt(fmt: str, instruction: str, objects: list[str] | None = None) -> str:
    """The pointing request in the wording the family expects.  ``objects``: names to detect, for families
    that detect named things rather than read instructions (PaliGemma)."""
    what = (f'every object this instruction involves: "{instruction}" (the objects to move and the places they '
            "go; among look-alikes, the one the instruction singles out; left and right are the robot's own)")
    if fmt in _JSON_ITEMS:
        return f"Point to {what}. {NAMES}. Answer with a JSON list {_JSON_ITEMS[fmt]}."
    if fmt == "molmo":
        return f"Point to {what}. {NAMES}, as each point's alt text."
    if fmt == "molmo2":
        return f"Point to {what}. {NAMES}, as the alt text."
    return "detect " + " ; ".join(objects or ["block", "target", "tray"])  # paligemma


# --- readers -------------------------------------------------------------------------------------------
def _pixel(fx: float, fy: float, width: int, height: int) -> np.ndarray:
    """Fractions of the image (0 and 1 are its outer edges) -> pixel (u, v) with centres at integers."""
    return np.array([fx * width - 0.5, fy * height - 0.5])


def _json_items(text: str) -> list[dict]:
    from agents.tool.gemini import parse_json_lenient

    data = parse_json_lenient(text)
    if isinstance(data, dict):
        data = data.get("points", data.get("objects", [data]))
    return [d for d in data if isinstance(d, dict)] if isinstance(data, list) else []


def _label(item: dict) -> str:
    return " ".join(str(item.get("label", "")).lower().split())


def _in_unit(*values: float) -> bool:
    return all(0.0 <= v <= 1.0 for v in values)


def _read_json(fmt: str, text: str, sent: tuple[int, int]) -> list[tuple[str, float, float, Any]]:
    out = []
    for item in _json_items(text):
        try:
            if fmt == "gemini":
                y, x = (float(v) for v in item["point"])
                fx, fy, box = x / 1000, y / 1000, item.get("box_2d")
                box = None if box is None else [box[1] / 1000, box[0] / 1000, box[3] / 1000, box[2] / 1000]
            elif fmt == "moondream":
                fx, fy, box = float(item["x"]), float(item["y"]), None
            else:  # qwen2.5 (pixels of the sent image) and qwen3 (0-1000), x first
                sx, sy = (sent[0], sent[1]) if fmt == "qwen2.5" else (1000.0, 1000.0)
                if "point_2d" in item:
                    x, y = (float(v) for v in item["point_2d"])
                    box = None
                else:
                    x0, y0, x1, y1 = (float(v) for v in item["bbox_2d"])
                    x, y, box = (x0 + x1) / 2, (y0 + y1) / 2, [x0 / sx, y0 / sy, x1 / sx, y1 / sy]
                fx, fy = x / sx, y / sy
        except (KeyError, TypeError, ValueError, IndexError):
            continue
        if _in_unit(fx, fy):
            out.append((_label(item), fx, fy, box))
    return out


_ATTR = re.compile(r'(\w+)\s*=\s*"([^"]*)"')


def _read_molmo(fmt: str, text: str) -> list[tuple[str, float, float, Any]]:
    out = []
    for tag in re.finditer(r"<points?\b([^>]*)>([^<]*)</points?>|<points?\b([^>]*)/>", text):
        attrs = dict(_ATTR.findall(tag.group(1) or tag.group(3) or ""))
        label = " ".join((attrs.get("alt") or tag.group(2) or "").lower().split())
        try:
            if fmt == "molmo2":
                nums = [float(v) for v in attrs["coords"].split()]
                pts = [(nums[i + 1] / 1000, nums[i + 2] / 1000) for i in range(1, len(nums) - 2, 3)]
            elif "x" in attrs:
                pts = [(float(attrs["x"]) / 100, float(attrs["y"]) / 100)]
            else:
                pts, i = [], 1
                while f"x{i}" in attrs:
                    pts.append((float(attrs[f"x{i}"]) / 100, float(attrs[f"y{i}"]) / 100))
                    i += 1
        except (KeyError, ValueError, IndexError):
            continue
        out += [(label, fx, fy, None) for fx, fy in pts if _in_unit(fx, fy)]
    return out


def _read_paligemma(text: str) -> list[tuple[str, float, float, Any]]:
    out = []
    for seg in text.split(";"):
        locs = [int(v) for v in re.findall(r"<loc(\d{4})>", seg)]
        if len(locs) < 4:
            continue
        y0, x0, y1, x1 = (v / PALIGEMMA_BINS for v in locs[:4])
        label = " ".join(re.sub(r"<[^>]*>", " ", seg).lower().split())
        if _in_unit(x0, y0, x1, y1):
            out.append((label, (x0 + x1) / 2, (y0 + y1) / 2, [x0, y0, x1, y1]))
    return out


def parse_points(fmt: str, text: str, width: int, height: int, sent: tuple[int, int] | None = None
                 ) -> list[Detection]:
    """Detections from a model's answer in convention ``fmt``, in pixels of the observed ``width`` x
    ``height`` image; ``sent``: (width, height) of the image the model saw (needed for qwen2.5's pixels).
    Items it cannot read, or that lie outside the image, are left out."""
    sent = sent or (width, height)
    if fmt in _JSON_ITEMS:
        items = _read_json(fmt, text, sent)
    elif fmt in ("molmo", "molmo2"):
        items = _read_molmo(fmt, text)
    elif fmt == "paligemma":
        items = _read_paligemma(text)
    else:
        raise ValueError(f"unknown point format {fmt!r}; valid: {', '.join(POINT_FORMATS)}")
    dets = []
    for label, fx, fy, box in items:
        b = None if box is None else np.concatenate([_pixel(box[0], box[1], width, height),
                                                     _pixel(box[2], box[3], width, height)])
        dets.append(Detection(label, _pixel(fx, fy, width, height), b))
    return dets


# --- writers (what a model of each family answers; the tests' stand-in server speaks them) ---------------
def write_points(fmt: str, items: list[tuple[str, float, float]], sent: tuple[int, int]) -> str:
    """``items``: (label, x, y) as fractions of the image (0 and 1 its outer edges) -> the family's answer
    text for the image of size ``sent`` (width, height) the model saw."""
    writers: dict[str, Callable[[], str]] = {
        "gemini": lambda: json.dumps([{"point": [round(y * 1000), round(x * 1000)], "label": lab}
                                      for lab, x, y in items]),
        "qwen2.5": lambda: json.dumps([{"point_2d": [round(x * sent[0]), round(y * sent[1])], "label": lab}
                                       for lab, x, y in items]),
        "qwen3": lambda: json.dumps([{"point_2d": [round(x * 1000), round(y * 1000)], "label": lab}
                                     for lab, x, y in items]),
        "molmo": lambda: "".join(f'<point x="{100 * x:.1f}" y="{100 * y:.1f}" alt="{lab}">{lab}</point>'
                                 for lab, x, y in items),
        "molmo2": lambda: "".join(f'<points coords="1 1 {round(1000 * x):03d} {round(1000 * y):03d}" '
                                  f'alt="{lab}">{lab}</points>' for lab, x, y in items),
        "moondream": lambda: json.dumps([{"x": round(x, 4), "y": round(y, 4), "label": lab} for lab, x, y in items]),
        "paligemma": lambda: " ; ".join(
            "".join(f"<loc{min(PALIGEMMA_BINS - 1, max(0, round(v * PALIGEMMA_BINS))):04d}>"
                    for v in (y - 0.01, x - 0.01, y + 0.01, x + 0.01)) + f" {lab}" for lab, x, y in items),
    }
    return writers[fmt]()
