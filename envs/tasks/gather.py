"""Gather: put all the cubes on the tray, a multi-step task.

Description: a light grey 14 cm square tray (a flat target, like the mats), ``NUM_BLOCKS`` cubes in distinct
colours, ``num_distractor_mats`` mats (none by default).  The instruction names no colour.
Randomizations: colours, positions (workspace box, non-overlapping; the tray's footprint is the circle
around its square), cube yaw, paraphrase (from the active instruction set, ``factors.language``).  The
tray is not turned.
Success: every cube's centre lies over the tray (inside its square), rests on the table (the tray is
flat), no finger pad touches any cube and they are still, for ``settle_steps`` steps.  Sub-conditions say
how many cubes are on it: ``placed_1_of_3`` ... ``placed_3_of_3``.
"""

from __future__ import annotations

import numpy as np

from envs.objects import SceneHandle
from envs.randomization import BLOCK_YAW_RAD, choose_colors, sample_layout_redrawn
from envs.scene import MAT_RADIUS_M, TRAY_HALF_SIZE_M, ExtraObjects
from envs.tasks.base import BLOCK_FOOTPRINT_RADIUS_M, Subgoal, Task

NUM_BLOCKS = 3
TRAY_FOOTPRINT_RADIUS_M = TRAY_HALF_SIZE_M * np.sqrt(2)
# where the oracle puts the cubes, relative to the tray's centre (x, y metres): a triangle 7 cm a side
TRAY_SLOTS_M = ((-0.03, -0.035), (-0.03, 0.035), (0.03, 0.0))
MAX_LAYOUTS = 50  # whole layouts drawn before giving up (the tray takes much of the workspace)


def on_tray(offset: np.ndarray) -> bool:
    """Whether a cube whose centre is ``offset`` (x, y metres) from the tray's centre lies over the tray."""
    return bool(np.all(np.abs(offset) <= TRAY_HALF_SIZE_M))


class GatherTask(Task):
    name = "gather"
    templates = (
        "put all the blocks on the tray",
        "place every block on the tray",
        "move all the cubes onto the tray",
        "gather the blocks on the tray",
    )
    instruction_sets = {
        "train": templates,
        "heldout": (
            "collect every piece onto the grey platter",
            "bring each brick over to the pale board",
            "load all of the pieces onto the grey platform",
            "transfer each and every brick to the light grey board",
        ),
        "synonyms": (
            "put all the boxes on the tray",
            "place every box on the tray",
            "move all the boxes onto the tray",
            "gather the boxes on the tray",
        ),
        "verbose": (
            "please put all the blocks on the tray, thank you",
            "could you please place every block on the tray for me",
            "i would like you to move all the cubes onto the tray, please",
            "would you kindly gather the blocks on the tray",
        ),
    }
    role_blocks = ()
    success_terms = ("all_placed", "released", "static")
    config_defaults = {"num_distractor_blocks": 0, "num_distractor_mats": 0}
    max_episode_steps = 400  # three pick-and-place steps, as sort
    extras = ExtraObjects(tray=True)

    def initialize_episode(self, scene: SceneHandle, rng: np.random.Generator) -> None:
        cfg = self.config
        colors = choose_colors(rng, list(cfg.palette), NUM_BLOCKS + cfg.num_distractor_mats)
        blocks, mats = colors[:NUM_BLOCKS], colors[NUM_BLOCKS:]
        radii = [TRAY_FOOTPRINT_RADIUS_M] + [MAT_RADIUS_M] * len(mats) + [BLOCK_FOOTPRINT_RADIUS_M] * len(blocks)
        xy = sample_layout_redrawn(rng, radii, cfg.workspace, MAX_LAYOUTS)
        yaws = [BLOCK_YAW_RAD.sample(rng) for _ in blocks]
        scene.park_all()
        scene.place_tray(xy[0])
        for c, p in zip(mats, xy[1:1 + len(mats)]):
            scene.place_mat(c, p)
        for c, p, yaw in zip(blocks, xy[1 + len(mats):], yaws):
            scene.place_block(c, p, yaw)
        self.blocks, self.tray_xy = blocks, xy[0].copy()
        self.roles = {f"block_{i + 1}": c for i, c in enumerate(blocks)}
        self._draw_template(rng)

    def conditions(self, scene: SceneHandle) -> dict[str, bool]:
        tray = scene.tray_pos()[:2]
        placed = [on_tray(scene.block_pos(c)[:2] - tray) and scene.resting_on_table(c) for c in self.blocks]
        return self.placements(scene, self.blocks, placed)

    def subgoals(self) -> list[Subgoal]:
        return [Subgoal(c, "point", xy=(float(self.tray_xy[0] + dx), float(self.tray_xy[1] + dy)))
                for c, (dx, dy) in zip(self.blocks, TRAY_SLOTS_M)]
