"""Referring expressions: pick up / place a cube named by what tells it apart, where colour alone is ambiguous.

Every scene holds two cubes of the referent's colour (two 4 cm cubes, or a 4 cm and a 3 cm one for the
size expressions), so "the red block" never says which.  The expression is one of:

- ``extreme``: "the leftmost block", "the rightmost red block", "the block closest to / farthest from the
  robot" (over every cube, or over the cubes of one colour);
- ``mat_distance``: "the block closest to / farthest from the green mat";
- ``next_to``: "the red block next to the blue mat";
- ``ordinal``: "the second block from the left / right";
- ``size``: "the small red block", "the big red block".

Left and right are the robot's: it stands at the origin facing +x, so its left is +y.  "Closest to the
robot" is the smallest horizontal distance from the robot's base (the origin).

Uniqueness: an expression is used only when one cube satisfies it by a margin a person would see at a
glance: the winner of a superlative or an ordinal beats every other candidate by ``MARGIN_M`` (3 cm)
in the measure the expression names; "next to" means a centre within ``NEXT_TO_M`` (12 cm) of the mat's
centre while every other cube of that colour is at least ``NEXT_TO_M + MARGIN_M`` away.  :func:`resolve`
is the rule; the scene generator draws layouts until the drawn kind of expression has exactly one answer.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from envs.errors import SimulationError
from envs.objects import SceneHandle
from envs.randomization import BLOCK_YAW_RAD, choose_colors, sample_layout
from envs.scene import MAT_RADIUS_M, ExtraObjects, block_color
from envs.tasks.base import BLOCK_FOOTPRINT_RADIUS_M, Task
from envs.tasks.pick import PickTask
from envs.tasks.place import PlaceTask

MARGIN_M = 0.03
NEXT_TO_M = 0.12
KINDS = ("extreme", "mat_distance", "next_to", "ordinal", "size")
EXTREMES = ("left", "right", "near", "far")  # robot's left (+y) / right (-y); closest to / farthest from it
MAX_LAYOUTS = 200  # layouts drawn until the drawn kind has an expression with one answer


@dataclass(frozen=True)
class Expression:
    """What a referring expression says, before it is worded.

    ``kind``: one of ``KINDS``; ``color``: the colour it names for the cube (None: any cube); ``direction``:
    one of ``EXTREMES`` (``extreme``, ``mat_distance`` use near / far, ``ordinal`` left / right);
    ``mat``: the mat's colour; ``rank``: 2 for "second"; ``size``: ``"small"`` or ``"big"``.
    """

    kind: str
    color: str | None = None
    direction: str | None = None
    mat: str | None = None
    rank: int = 2
    size: str | None = None


@dataclass(frozen=True)
class SceneCube:
    """What :func:`resolve` knows of a cube: its id, colour, centre (x, y metres) and half size."""

    id: str
    color: str
    xy: np.ndarray
    half: float


def _measure(expr: Expression, xy: np.ndarray, mats: dict[str, np.ndarray]) -> float:
    """Larger is more so: the quantity the expression's superlative or ordering is about."""
    if expr.kind == "mat_distance":
        d = float(np.linalg.norm(xy - mats[str(expr.mat)]))
        return -d if expr.direction == "near" else d
    return {"left": xy[1], "right": -xy[1], "near": -np.linalg.norm(xy), "far": np.linalg.norm(xy)}[
        str(expr.direction)]


def resolve(expr: Expression, cubes: list[SceneCube], mats: dict[str, np.ndarray]) -> list[str]:
    """The ids of the cubes the expression picks out with the margins above: one id, or none if it is
    ambiguous or names nothing.  Ground truth in, for the scene generator, the tests and logs."""
    pool = [c for c in cubes if expr.color is None or c.color == expr.color]
    if expr.kind in ("mat_distance", "next_to") and expr.mat not in mats:
        return []
    if expr.kind == "next_to":
        d = {c.id: float(np.linalg.norm(c.xy - mats[str(expr.mat)])) for c in pool}
        near = [i for i, v in d.items() if v <= NEXT_TO_M]
        clear = all(v >= NEXT_TO_M + MARGIN_M for i, v in d.items() if i not in near)
        return near if len(near) == 1 and clear else []
    if expr.kind == "size":
        halves = sorted({c.half for c in pool})
        if len(halves) != 2:
            return []
        want = halves[0] if expr.size == "small" else halves[1]
        hits = [c.id for c in pool if c.half == want]
        return hits if len(hits) == 1 and len(pool) == 2 else []
    ranked = sorted(pool, key=lambda c: -_measure(expr, c.xy, mats))
    values = [_measure(expr, c.xy, mats) for c in ranked]
    k = expr.rank - 1 if expr.kind == "ordinal" else 0
    if k >= len(ranked):
        return []
    gaps = [values[j] - values[j + 1] for j in (k - 1, k) if 0 <= j < len(values) - 1]
    return [ranked[k].id] if all(g >= MARGIN_M for g in gaps) and gaps else []


# How each expression is worded, per instruction set: train and heldout share no content word.
PHRASES = {
    "train": {
        ("extreme", "left"): "the leftmost {c}block", ("extreme", "right"): "the rightmost {c}block",
        ("extreme", "near"): "the {c}block closest to the robot",
        ("extreme", "far"): "the {c}block farthest from the robot",
        ("mat_distance", "near"): "the block closest to the {m} mat",
        ("mat_distance", "far"): "the block farthest from the {m} mat",
        ("next_to", None): "the {c}block next to the {m} mat",
        ("ordinal", "left"): "the second block from the left", ("ordinal", "right"): "the second block from the right",
        ("size", "small"): "the small {c}block", ("size", "big"): "the big {c}block",
    },
    "heldout": {
        ("extreme", "left"): "the {c}piece on the far left", ("extreme", "right"): "the {c}piece on the far right",
        ("extreme", "near"): "the {c}piece nearest the arm",
        ("extreme", "far"): "the {c}piece most distant from the arm",
        ("mat_distance", "near"): "the piece nearest the {m} disc",
        ("mat_distance", "far"): "the piece most distant from the {m} disc",
        ("next_to", None): "the {c}piece beside the {m} disc",
        ("ordinal", "left"): "the piece in second place counting from the left",
        ("ordinal", "right"): "the piece in second place counting from the right",
        ("size", "small"): "the little {c}piece", ("size", "big"): "the larger {c}piece",
    },
}
# synonyms: train's phrases with other nouns; verbose: train's phrases in polite templates
PHRASES["synonyms"] = {k: v.replace("block", "box").replace(" mat", " pad") for k, v in PHRASES["train"].items()}
PHRASES["verbose"] = PHRASES["train"]


def phrase(expr: Expression, language: str) -> str:
    key = (expr.kind, expr.size if expr.kind == "size" else expr.direction)
    return PHRASES[language][key].format(c=f"{expr.color} " if expr.color else "", m=expr.mat)


def candidate_expressions(kind: str, colors: list[str], mats: list[str]) -> list[Expression]:
    """Every expression of ``kind`` this scene's colours can word."""
    if kind == "extreme":
        return [Expression(kind, c, d) for d in EXTREMES for c in [None, *colors]]
    if kind == "mat_distance":
        return [Expression(kind, None, d, m) for d in ("near", "far") for m in mats]
    if kind == "next_to":
        return [Expression(kind, c, None, m) for c in colors for m in mats]
    if kind == "ordinal":
        return [Expression(kind, None, d) for d in ("left", "right")]
    return [Expression(kind, c, size=s) for c in colors for s in ("small", "big")]


class _Referring(Task):
    """Shared by pick_ref and place_ref: the scene with a colour-ambiguous referent, and its expression."""

    extras = ExtraObjects(duplicate_blocks=True, small_blocks=True)
    kinds: tuple[str, ...] = KINDS

    def initialize_episode(self, scene: SceneHandle, rng: np.random.Generator) -> None:
        cfg = self.config
        kind = self.kinds[int(rng.integers(len(self.kinds)))]
        n_mats = len(self.role_mats) + cfg.num_distractor_mats
        for _ in range(MAX_LAYOUTS):
            colors = choose_colors(rng, list(cfg.palette), 1 + cfg.num_distractor_blocks + n_mats)
            nd = cfg.num_distractor_blocks
            twin, others, mat_colors = colors[0], colors[1:1 + nd], colors[1 + nd:]
            blocks = [twin, f"{twin}_small" if kind == "size" else f"{twin}_2", *others]
            radii = [MAT_RADIUS_M] * n_mats + [BLOCK_FOOTPRINT_RADIUS_M] * len(blocks)
            try:
                xy = sample_layout(rng, radii, cfg.workspace)
            except SimulationError:
                continue
            scene.park_all()
            for c, p in zip(mat_colors, xy[:n_mats]):
                scene.place_mat(c, p)
            for b, p in zip(blocks, xy[n_mats:]):
                scene.place_block(b, p, BLOCK_YAW_RAD.sample(rng))
            cubes = [SceneCube(b, block_color(b), scene.placed_xy(b), scene.block_half(b)) for b in blocks]
            mats = {c: scene.mat_pos(c)[:2] for c in mat_colors}
            # mats an expression may name: any for "next to"; for distances, not the target mat
            named = mat_colors if kind == "next_to" else mat_colors[len(self.role_mats):]
            # referent must share its colour with another cube: colour alone never says which
            found = [(e, r[0]) for e in candidate_expressions(kind, [twin, *others], named)
                     if len(r := resolve(e, cubes, mats)) == 1 and block_color(r[0]) == twin]
            if found:
                self.expression, referent = found[int(rng.integers(len(found)))]
                self.roles = {"block": referent, **dict(zip(self.role_mats, mat_colors))}
                self.cubes, self.mats = cubes, mats
                self._draw_template(rng)
                return
        raise SimulationError(f"{self.name}: no layout gave a {kind!r} expression with one answer in "
                              f"{MAX_LAYOUTS} draws; use fewer distractors or a larger workspace")

    @property
    def instruction(self) -> str:
        return self.active_templates[self.template_index].format(ref=phrase(self.expression, self.language),
                                                                  **self.roles)


class PickRefTask(_Referring, PickTask):
    """Pick up the cube a referring expression names (see the module docstring).

    Description: two cubes of one colour (one of them the referent), ``num_distractor_blocks`` cubes of other
    colours (2 by default), ``num_distractor_mats`` mats (1 by default; the mat expressions refer to them).
    Randomizations: the kind of expression (uniform over ``KINDS``), colours, positions, cube yaw, the
    expression among those with one answer in the drawn layout, paraphrase (``factors.language``).
    Success: as ``pick``, for the referent: both pads touch it and it is ``LIFT_HEIGHT_M`` up.
    """

    name = "pick_ref"
    templates = ("pick up {ref}", "lift {ref}", "grab {ref} and lift it", "pick {ref} up off the table")
    instruction_sets = {
        "train": templates,
        "heldout": ("raise {ref} into the air", "take hold of {ref} and hoist it", "get {ref} up off the surface",
                    "hold {ref} up high"),
        "synonyms": templates,
        "verbose": ("please pick up {ref}, thank you", "could you please lift {ref} for me",
                    "i would like you to grab {ref} and lift it, please",
                    "would you kindly pick {ref} up off the table"),
    }
    config_defaults = {"num_distractor_blocks": 2, "num_distractor_mats": 1}


class PlaceRefTask(_Referring, PlaceTask):
    """Put the cube a referring expression names on a mat named by its colour.

    Description: as ``pick_ref``, plus the target mat (``num_distractor_mats`` other mats, 1 by default; the
    mat expressions refer to the other mats, the next-to expression to any).
    Randomizations: as ``pick_ref``, and the target mat's colour.
    Success: as ``place``, for the referent and the target mat.
    """

    name = "place_ref"
    templates = ("put {ref} on the {target} mat", "place {ref} on the {target} target",
                 "move {ref} onto the {target} mat", "set {ref} down on the {target} target")
    instruction_sets = {
        "train": templates,
        "heldout": ("transfer {ref} to the {target} circle", "carry {ref} over to the {target} disc",
                    "drop {ref} off at the {target} spot", "relocate {ref} to the {target} marker"),
        "synonyms": ("put {ref} on the {target} pad", "place {ref} on the {target} plate",
                     "move {ref} onto the {target} pad", "set {ref} down on the {target} coaster"),
        "verbose": ("please put {ref} on the {target} mat, thank you",
                    "could you please place {ref} on the {target} target for me",
                    "i would like you to move {ref} onto the {target} mat, please",
                    "would you kindly set {ref} down on the {target} target"),
    }
    config_defaults = {"num_distractor_blocks": 2, "num_distractor_mats": 1}
