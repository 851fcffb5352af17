"""Task base class: fixed hooks for scene roles, episode initialisation, instruction, evaluate()."""

from __future__ import annotations

import abc
from dataclasses import dataclass, field
from typing import ClassVar

import numpy as np

from envs.errors import ConfigError, check_choice
from envs.objects import SceneHandle
from envs.randomization import BLOCK_YAW_RAD, Workspace, choose_colors, sample_layout
from envs.scene import BLOCK_HALF_SIZE_M, COLORS, MAT_RADIUS_M, ExtraObjects, validate_colors

# Radius of a cube's footprint circle (half diagonal), for layout spacing.
BLOCK_FOOTPRINT_RADIUS_M = BLOCK_HALF_SIZE_M * np.sqrt(2)
# Instruction sets every task has: ``train`` (the paraphrases policies are trained on), ``heldout`` (the same
# meaning in wording train never uses: other verbs and nouns), ``synonyms`` (train's sentences with other
# object and target nouns: box, pad, plate, coaster) and ``verbose`` (polite, longer forms).
LANGUAGE_SETS = ("train", "heldout", "synonyms", "verbose")
# A block counts as moving above this linear speed.
STATIC_SPEED_M_S = 0.01


@dataclass(frozen=True)
class TaskConfig:
    """Per-task knobs, all validated at construction."""

    num_distractor_blocks: int = 2
    num_distractor_mats: int = 1
    palette: tuple[str, ...] = tuple(COLORS)
    instruction_template: int | None = None  # fixed paraphrase index; None: drawn per episode
    settle_steps: int = 3  # control steps the success conditions must hold
    workspace: Workspace = field(default_factory=Workspace)

    def __post_init__(self):
        validate_colors(self.palette)
        if self.num_distractor_blocks < 0 or self.num_distractor_mats < 0:
            raise ConfigError("numbers of distractors must be >= 0")
        if self.settle_steps < 1:
            raise ConfigError(f"settle_steps must be >= 1, got {self.settle_steps}")


@dataclass(frozen=True)
class Subgoal:
    """One pick-and-place step that solves (part of) an episode: move cube ``block`` (its id) onto ``onto``.

    ``onto``: ``"mat"`` (the mat of colour ``ref``), ``"block"`` (the cube with id ``ref``), ``"point"`` (the
    table at ``xy``, metres) or None (lift it and hold it).  Ground truth, for the privileged oracle only.
    """

    block: str
    onto: str | None = None
    ref: str | None = None
    xy: tuple[float, float] | None = None


class Task(abc.ABC):
    """A language-conditioned manipulation task.

    Subclasses declare how many cubes and mats their roles need, the paraphrase
    templates, which sub-conditions make up success, and ``conditions()``.
    ``evaluate()`` adds the settle rule: ``success`` only after the conditions
    have held for ``settle_steps`` consecutive control steps.
    """

    name: ClassVar[str]
    templates: ClassVar[tuple[str, ...]]  # the train set's paraphrases
    instruction_sets: ClassVar[dict[str, tuple[str, ...]]]  # every name of LANGUAGE_SETS -> its templates
    role_blocks: ClassVar[tuple[str, ...]]  # names of cube roles, e.g. ("block",)
    role_mats: ClassVar[tuple[str, ...]] = ()
    success_terms: ClassVar[tuple[str, ...]]
    # TaskConfig values this task uses when the caller leaves them out.
    config_defaults: ClassVar[dict] = {}
    # control steps an episode gets by default (the harness's max_steps=null); None: the env's default
    max_episode_steps: ClassVar[int | None] = None
    # objects beyond one cube and one mat per colour that this task's scenes use (compiled only for it)
    extras: ClassVar[ExtraObjects] = ExtraObjects()

    @classmethod
    def default_config(cls, **overrides) -> TaskConfig:
        return TaskConfig(**{**cls.config_defaults, **overrides})

    def __init__(self, config: TaskConfig | None = None, language: str = "train"):
        self.config = config or self.default_config()
        self.language = check_choice(f"{self.name} instruction set (factors.language)", language,
                                     self.instruction_sets)
        self.active_templates = self.instruction_sets[self.language]
        t = self.config.instruction_template
        n = len(self.active_templates)
        if t is not None and not 0 <= t < n:
            raise ConfigError(f"{self.name}: instruction_template must be in [0, {n - 1}] for the "
                              f"{self.language!r} instruction set, got {t}")
        self.roles: dict[str, str] = {}
        self.template_index = 0
        self._held, self._last_step = 0, -1

    # --- hooks -------------------------------------------------------------
    def initialize_episode(self, scene: SceneHandle, rng: np.random.Generator) -> None:
        """Choose colours, lay out cubes and mats, pick the paraphrase; all from ``rng``."""
        cfg = self.config
        n_blocks = len(self.role_blocks) + cfg.num_distractor_blocks
        n_mats = len(self.role_mats) + cfg.num_distractor_mats
        colors = choose_colors(rng, list(cfg.palette), n_blocks + n_mats)
        mat_colors, block_colors = colors[:n_mats], colors[n_mats:]
        radii = [MAT_RADIUS_M] * n_mats + [BLOCK_FOOTPRINT_RADIUS_M] * n_blocks
        xy = sample_layout(rng, radii, cfg.workspace)
        yaws = [BLOCK_YAW_RAD.sample(rng) for _ in block_colors]
        scene.park_all()
        for c, p in zip(mat_colors, xy[:n_mats]):
            scene.place_mat(c, p)
        for c, p, yaw in zip(block_colors, xy[n_mats:], yaws):
            scene.place_block(c, p, yaw)
        self.roles = dict(zip(self.role_blocks, block_colors))
        self.roles.update(zip(self.role_mats, mat_colors))
        self._draw_template(rng)

    def _draw_template(self, rng: np.random.Generator) -> None:
        """The paraphrase (drawn, or the fixed ``instruction_template``) and a fresh settle counter."""
        t = self.config.instruction_template
        self.template_index = int(rng.integers(len(self.active_templates))) if t is None else t
        self._held, self._last_step = 0, -1

    def subgoals(self) -> list[Subgoal]:
        """The steps that solve this episode, in order (privileged: the oracle's plan)."""
        if "target" in self.roles:
            return [Subgoal(self.roles["block"], "mat", self.roles["target"])]
        if "base" in self.roles:
            return [Subgoal(self.roles["block"], "block", self.roles["base"])]
        return [Subgoal(self.roles["block"])]

    @property
    def instruction(self) -> str:
        return self.active_templates[self.template_index].format(**self.roles)

    @abc.abstractmethod
    def conditions(self, scene: SceneHandle) -> dict[str, bool]:
        """Named instantaneous sub-conditions (each a plain bool)."""

    def evaluate(self, scene: SceneHandle) -> dict:
        """Sub-conditions plus ``success`` (conditions held for ``settle_steps`` steps).

        Safe to call more than once per control step: the hold counter advances
        once per ``scene.step_count``.
        """
        cond = self.conditions(scene)
        met = all(cond[k] for k in self.success_terms)
        if scene.step_count != self._last_step:
            self._held = self._held + 1 if met else 0
            self._last_step = scene.step_count
        return {**cond, "conditions_met": met, "held_steps": self._held,
                "success": self._held >= self.config.settle_steps}

    # --- shared sub-conditions --------------------------------------------
    @staticmethod
    def grip(scene: SceneHandle, color: str) -> tuple[bool, bool]:
        """(is_grasped, released) from one contact scan: both finger pads touch the cube / neither does."""
        left, right = scene.pad_contacts(color)
        return left and right, not (left or right)

    @staticmethod
    def static(scene: SceneHandle, color: str) -> bool:
        return scene.block_speed(color) < STATIC_SPEED_M_S

    def placements(self, scene: SceneHandle, blocks: list[str], placed: list[bool]) -> dict[str, bool]:
        """Sub-conditions of a multi-step placement of ``blocks`` (``placed``: which are in place):
        ``placed_j_of_k`` for j = 1..k, ``all_placed``, and grip and stillness over all of them."""
        k, n = len(blocks), sum(placed)
        grips = [self.grip(scene, c) for c in blocks]
        return {
            **{f"placed_{j}_of_{k}": n >= j for j in range(1, k + 1)},
            "all_placed": n == k,
            "is_grasped": any(g[0] for g in grips),
            "released": all(g[1] for g in grips),
            "static": all(self.static(scene, c) for c in blocks),
        }
