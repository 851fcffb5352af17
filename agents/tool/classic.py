"""Offline reasoner: colour segmentation points, a rule-based plan in the same call format.

It shows what the tools alone can do and lets anyone run the bench without a
key.  Interchangeable with the Gemini reasoner: same detections, same calls.
"""

from __future__ import annotations

import numpy as np

from agents.tool.perception import detect_color, parse_instruction
from agents.tool.types import Call, CallResult, Detection, pixel_to_norm


class ClassicReasoner:
    name = "classic"

    def __init__(self):
        self.reset()

    def reset(self) -> None:
        self._stats = {"reasoner_calls": 0}

    def point(self, image: np.ndarray, instruction: str) -> list[Detection]:
        self._stats["reasoner_calls"] += 1
        found = []
        for color, kind in parse_instruction(instruction).objects:
            det = detect_color(image, color, f"{color} {kind}")
            if det is not None:
                found.append(det)
        return found

    def start_plan(self, image: np.ndarray, instruction: str, dets: list[Detection]) -> list[Call]:
        labels = parse_instruction(instruction).labels
        by_label = {d.label: d for d in dets}
        if not labels or labels[0] not in by_label:
            return []
        h, w = image.shape[:2]
        obj = pixel_to_norm(by_label[labels[0]].pixel, w, h)
        calls = [_grip(True), _move(obj, True), _move(obj, False), _grip(False), _move(obj, True)]
        if len(labels) > 1:
            if labels[1] not in by_label:
                return []
            goal = pixel_to_norm(by_label[labels[1]].pixel, w, h)
            calls += [_move(goal, True), _move(goal, False), _grip(True), _move(goal, True)]
        return calls

    def continue_plan(self, results: list[CallResult]) -> list[Call]:
        return []  # the rule-based plan is complete in one turn

    def counters(self) -> dict:
        return dict(self._stats)


def _move(yx: tuple[int, int], high: bool) -> Call:
    return Call("move", {"x": yx[1], "y": yx[0], "high": high})


def _grip(opened: bool) -> Call:
    return Call("setGripperState", {"opened": opened})
