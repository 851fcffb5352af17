"""Sort: put each cube on the mat of its own colour (2 or 3 pairs), a multi-step task.

Description: ``k`` colour pairs (one cube and one mat of each colour; ``k`` drawn from ``NUM_PAIRS``), plus
``num_distractor_blocks`` cubes and ``num_distractor_mats`` mats in other colours (none by default).
The instruction names no colour: the agent must match them itself.
Randomizations: ``k``, colours, positions (workspace box, non-overlapping), cube yaw, paraphrase (from the
active instruction set, ``factors.language``).
Success: every pair's cube has its centre over its mat (horizontal distance below the mat radius) and
rests on the table, no finger pad touches any of them and they are still, for ``settle_steps`` steps.
Sub-conditions say how many pairs hold: ``placed_1_of_k`` ... ``placed_k_of_k``.
"""

from __future__ import annotations

import numpy as np

from envs.geometry import norm
from envs.objects import SceneHandle
from envs.randomization import BLOCK_YAW_RAD, choose_colors, sample_layout_redrawn
from envs.scene import MAT_RADIUS_M
from envs.tasks.base import BLOCK_FOOTPRINT_RADIUS_M, Subgoal, Task

NUM_PAIRS = (2, 3)  # colour pairs per episode, drawn uniformly
MAX_LAYOUTS = 20  # whole layouts drawn before giving up


class SortTask(Task):
    name = "sort"
    templates = (
        "put each block on the mat of its colour",
        "place every block on the target with the same colour",
        "sort the blocks onto the mats of matching colour",
        "move each cube onto the mat that has its colour",
    )
    instruction_sets = {
        "train": templates,
        "heldout": (
            "match every piece with the circle that shares its hue",
            "carry all pieces to the discs of their own hue",
            "drop each brick on the spot painted like it",
            "pair up every brick with the marker of the same shade",
        ),
        "synonyms": (
            "put each box on the pad of its colour",
            "place every box on the plate with the same colour",
            "sort the boxes onto the pads of matching colour",
            "move each box onto the coaster that has its colour",
        ),
        "verbose": (
            "please put each block on the mat of its colour, thank you",
            "could you please place every block on the target with the same colour for me",
            "i would like you to sort the blocks onto the mats of matching colour, please",
            "would you kindly move each cube onto the mat that has its colour",
        ),
    }
    role_blocks = ()
    success_terms = ("all_placed", "released", "static")
    config_defaults = {"num_distractor_blocks": 0, "num_distractor_mats": 0}
    max_episode_steps = 400  # three pick-and-place steps take the oracle up to ~260 control steps

    def initialize_episode(self, scene: SceneHandle, rng: np.random.Generator) -> None:
        cfg = self.config
        k = int(NUM_PAIRS[int(rng.integers(len(NUM_PAIRS)))])
        colors = choose_colors(rng, list(cfg.palette), k + cfg.num_distractor_blocks + cfg.num_distractor_mats)
        pairs, rest = colors[:k], colors[k:]
        mat_colors = pairs + rest[cfg.num_distractor_blocks:]
        block_colors = pairs + rest[:cfg.num_distractor_blocks]
        radii = [MAT_RADIUS_M] * len(mat_colors) + [BLOCK_FOOTPRINT_RADIUS_M] * len(block_colors)
        xy = sample_layout_redrawn(rng, radii, cfg.workspace, MAX_LAYOUTS)
        yaws = [BLOCK_YAW_RAD.sample(rng) for _ in block_colors]
        scene.park_all()
        for c, p in zip(mat_colors, xy[:len(mat_colors)]):
            scene.place_mat(c, p)
        for c, p, yaw in zip(block_colors, xy[len(mat_colors):], yaws):
            scene.place_block(c, p, yaw)
        self.pairs = pairs
        self.roles = {**{f"block_{i + 1}": c for i, c in enumerate(pairs)},
                      **{f"target_{i + 1}": c for i, c in enumerate(pairs)}}
        self._draw_template(rng)

    def conditions(self, scene: SceneHandle) -> dict[str, bool]:
        placed = [bool(norm(scene.block_pos(c)[:2] - scene.mat_pos(c)[:2]) < MAT_RADIUS_M)
                  and scene.resting_on_table(c) for c in self.pairs]
        return self.placements(scene, self.pairs, placed)

    def subgoals(self) -> list[Subgoal]:
        return [Subgoal(c, "mat", c) for c in self.pairs]
