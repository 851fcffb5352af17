"""Offline reasoner: colour segmentation points, a rule-based plan in the same call format.

It shows what the tools alone can do and lets anyone run the bench without a
key.  Interchangeable with the Gemini reasoner: same detections, same calls.

Its rules read the forms of :func:`agents.tool.perception.parse_instruction`: one or two colour-named
objects (pick, place, stack), pairs in sequence ("put A on B, then C on D"), a colour-named tower, sorting
cubes onto the mats of their colours, and gathering every cube onto the tray.  An instruction whose
object is named by position, order, size or a relation ("the leftmost block", "to the left of the blue
block") is beyond colour rules: the reasoner points at nothing and makes no plan (each such look is
counted as ``no_plan``, the reason logged) instead of guessing.  It has no view of its own on whether a
task is done (``check_done`` is None): the agent's geometric check of its own steps decides.
"""

from __future__ import annotations

import logging

import numpy as np

from agents.tool.perception import (
    COLOR_WORDS,
    ParsedInstruction,
    color_blobs,
    detect_color,
    detect_tray,
    parse_instruction,
)
from agents.tool.types import Call, CallResult, Detection, pixel_to_norm

log = logging.getLogger(__name__)

# Where cubes go on the tray: three points on the tray region's 1-sigma ellipse, 120 degrees apart (for a
# square tray that is 0.29 of its side from the centre, about 4 cm: the cubes stay ~7 cm apart).
TRAY_SLOT_ANGLES_RAD = np.deg2rad([90.0, 210.0, 330.0])
ON_TRAY_MAHALANOBIS2 = 3.0  # inside the ellipse that touches a square's edge midpoints


class ClassicReasoner:
    name = "classic"

    def __init__(self):
        self.reset()

    def prepare(self) -> None:
        pass  # nothing to load or reach

    def reset(self) -> None:
        self._stats = {"reasoner_calls": 0, "no_plan": 0}

    def point(self, image: np.ndarray, instruction: str) -> list[Detection]:
        self._stats["reasoner_calls"] += 1
        parsed = parse_instruction(instruction)
        if parsed.form is None:  # nothing it points at could be acted on without a guess
            self._stats["no_plan"] += 1
            log.info("classic reasoner: no plan for %r: %s", instruction, parsed.reason)
            return []
        if parsed.form == "sort":  # per colour: the smaller region is the cube, the larger its mat
            found = []
            for color in COLOR_WORDS:
                blobs = color_blobs(image, color, f"{color} target")
                if len(blobs) == 2:  # one region: the cube already lies on its mat (or has no mat)
                    found += [Detection(f"{color} block", blobs[1].pixel, blobs[1].box, blobs[1].area), blobs[0]]
            return found
        if parsed.form == "gather":
            tray = detect_tray(image)
            cubes = [b[0] for b in (color_blobs(image, c, f"{c} block") for c in COLOR_WORDS) if b]
            return ([tray] if tray is not None else []) + cubes
        found = []
        for color, kind in dict.fromkeys(parsed.objects):
            det = detect_color(image, color, f"{color} {kind}")
            if det is not None:
                found.append(det)
        return found

    def start_plan(self, image: np.ndarray, instruction: str, dets: list[Detection]) -> list[Call]:
        parsed = parse_instruction(instruction)
        steps = _steps(parsed, dets) if parsed.form else None
        if not steps:
            log.info("classic reasoner: no plan for %r: %s", instruction,
                     parsed.reason or "the objects it names were not all found")
            return []
        h, w = image.shape[:2]
        calls = [_grip(True)]
        for obj, goal in steps:
            o = pixel_to_norm(obj, w, h)
            calls += [_move(o, True), _move(o, False), _grip(False), _move(o, True)]
            if goal is not None:
                g = pixel_to_norm(goal, w, h)
                calls += [_move(g, True), _move(g, False), _grip(True), _move(g, True)]
        return calls

    def continue_plan(self, results: list[CallResult]) -> list[Call]:
        return []  # the rule-based plan is complete in one turn

    def check_done(self, image: np.ndarray, instruction: str) -> bool | None:
        return None  # no judgement of its own: the agent checks its steps geometrically

    def counters(self) -> dict:
        return dict(self._stats)


Step = tuple[np.ndarray, "np.ndarray | None"]  # (pixel of the cube to pick, pixel to put it at or None)


def _steps(parsed: ParsedInstruction, dets: list[Detection]) -> list[Step] | None:
    by_label = {d.label: d for d in dets}
    if parsed.form == "sort":
        return [(by_label[f"{c} block"].pixel, by_label[f"{c} target"].pixel) for c in COLOR_WORDS
                if f"{c} block" in by_label and f"{c} target" in by_label] or None
    if parsed.form == "gather":
        return _gather_steps(dets)
    labels = parsed.labels
    if any(label not in by_label for label in labels):
        return None
    where = {label: by_label[label].pixel for label in labels}  # where each object is, as the plan moves them
    if parsed.form == "pick":
        return [(where[labels[0]], None)]
    if parsed.form == "tower":  # bottom, middle, top: the middle onto the bottom, then the top onto the middle
        labels = [labels[1], labels[0], labels[2], labels[1]]
    steps: list[Step] = []
    for moved, onto in zip(labels[::2], labels[1::2]):
        steps.append((where[moved], where[onto]))
        where[moved] = where[onto]
    return steps


def _gather_steps(dets: list[Detection]) -> list[Step] | None:
    tray = next((d for d in dets if d.label == "tray"), None)
    if tray is None or tray.spread is None:
        return None
    root = np.linalg.cholesky(tray.spread + 1e-6 * np.eye(2))
    inv = np.linalg.inv(tray.spread + 1e-6 * np.eye(2))
    slots = [tray.pixel + root @ [np.cos(a), np.sin(a)] for a in TRAY_SLOT_ANGLES_RAD]
    cubes = [d for d in dets if d.kind == "block"]
    on = [c for c in cubes if (c.pixel - tray.pixel) @ inv @ (c.pixel - tray.pixel) <= ON_TRAY_MAHALANOBIS2]
    spacing = float(np.linalg.norm(slots[0] - slots[1]))
    free = [s for s in slots if all(np.linalg.norm(s - c.pixel) > spacing / 2 for c in on)]
    off = [c for c in cubes if c not in on]
    steps: list[Step] = [(c.pixel, s) for c, s in zip(off, free)]
    return steps or None


def _move(yx: tuple[int, int], high: bool) -> Call:
    return Call("move", {"x": yx[1], "y": yx[0], "high": high})


def _grip(opened: bool) -> Call:
    return Call("setGripperState", {"opened": opened})
