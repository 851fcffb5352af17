"""Relational placement: put a named cube to the left of / right of / in front of / behind another.

Directions are the robot's: it stands at the origin facing +x, so "left" is +y, "right" is -y, "in front
of" is toward the robot (-x) and "behind" is away from it (+x).

Description: the cube to move, the reference cube, ``num_distractor_blocks`` other cubes (1 by default)
and ``num_distractor_mats`` mats (none by default), all in distinct colours.
Randomizations: colours, positions (workspace box, non-overlapping), cube yaw, the relation (drawn among
those whose goal region is free and reachable in the drawn layout and that the cube does not already
satisfy), paraphrase (from the active instruction set, ``factors.language``).
Success: the cube's centre lies ``REL_ALONG_M`` along the relation's direction from the reference's
centre (4-12 cm) and at most ``REL_ACROSS_M`` (4 cm) across it, rests on the table, no finger pad touches
it and it is still; the reference has not been pushed more than ``REF_KEPT_M`` (2 cm); for
``settle_steps`` steps.
"""

from __future__ import annotations

import numpy as np

from envs.errors import SimulationError
from envs.objects import SceneHandle
from envs.tasks.base import BLOCK_FOOTPRINT_RADIUS_M, Subgoal, Task

DIRECTIONS = {"left": (0.0, 1.0), "right": (0.0, -1.0), "front": (-1.0, 0.0), "behind": (1.0, 0.0)}
REL_ALONG_M = (0.04, 0.12)  # distance along the direction, reference centre to cube centre
REL_ACROSS_M = 0.04  # largest sideways offset
REF_KEPT_M = 0.02  # the reference may be nudged this much
GOAL_ALONG_M = 0.07  # where the oracle puts the cube (the middle of the region, rounded)
GOAL_MARGIN_M = 0.04  # the goal may lie this far outside the layout workspace
MAX_LAYOUTS = 50  # layouts drawn until one has a free goal region


def in_region(offset: np.ndarray, relation: str) -> bool:
    """Whether a cube at ``offset`` (x, y metres) from the reference's centre is ``relation`` of it."""
    d = np.array(DIRECTIONS[relation])
    along, across = float(offset @ d), abs(float(offset[0] * d[1] - offset[1] * d[0]))
    return bool(REL_ALONG_M[0] <= along <= REL_ALONG_M[1] and across <= REL_ACROSS_M)


class PlaceRelTask(Task):
    name = "place_rel"
    templates = (
        "put the {block} block {relation} the {reference} block",
        "place the {block} block {relation} the {reference} block",
        "move the {block} cube so it is {relation} the {reference} cube",
        "set the {block} block down {relation} the {reference} one",
    )
    relation_phrases = {
        "train": {"left": "to the left of", "right": "to the right of", "front": "in front of",
                  "behind": "behind"},
        "heldout": {"left": "on the left-hand side of", "right": "on the right-hand side of",
                    "front": "nearer to the robot than", "behind": "farther from the robot than"},
    }
    instruction_sets = {
        "train": templates,
        "heldout": (
            "transfer the {block} piece so it sits {relation} the {reference} piece",
            "carry the {block} brick over and leave it {relation} the {reference} brick",
            "relocate the {block} piece, ending {relation} the {reference} piece",
            "drop the {block} brick off {relation} the {reference} brick",
        ),
        "synonyms": (
            "put the {block} box {relation} the {reference} box",
            "place the {block} box {relation} the {reference} box",
            "move the {block} box so it is {relation} the {reference} box",
            "set the {block} box down {relation} the {reference} one",
        ),
        "verbose": (
            "please put the {block} block {relation} the {reference} block, thank you",
            "could you please place the {block} block {relation} the {reference} block for me",
            "i would like you to move the {block} cube so it is {relation} the {reference} cube, please",
            "would you kindly set the {block} block down {relation} the {reference} one",
        ),
    }
    role_blocks = ("block", "reference")
    success_terms = ("in_region", "on_table", "released", "static", "reference_kept")
    config_defaults = {"num_distractor_blocks": 1, "num_distractor_mats": 0}

    def initialize_episode(self, scene: SceneHandle, rng: np.random.Generator) -> None:
        for _ in range(MAX_LAYOUTS):
            super().initialize_episode(scene, rng)
            for rel in rng.permutation(list(DIRECTIONS)):
                if self._goal_is_free(scene, str(rel)) and not self._already_there(scene, str(rel)):
                    self.relation = str(rel)
                    self.reference_start = scene.placed_xy(self.roles["reference"])
                    return
        raise SimulationError(f"{self.name}: no layout with a free goal region in {MAX_LAYOUTS} draws; "
                              "widen the workspace or use fewer distractors")

    def _already_there(self, scene: SceneHandle, relation: str) -> bool:
        """Whether the cube starts inside the relation's region (an instruction with nothing to do)."""
        offset = scene.placed_xy(self.roles["block"]) - scene.placed_xy(self.roles["reference"])
        return in_region(offset, relation)

    def goal_xy(self, scene: SceneHandle, relation: str | None = None) -> np.ndarray:
        d = np.array(DIRECTIONS[relation or self.relation])
        return scene.placed_xy(self.roles["reference"]) + GOAL_ALONG_M * d

    def _goal_is_free(self, scene: SceneHandle, relation: str) -> bool:
        ws, goal = self.config.workspace, self.goal_xy(scene, relation)
        inside = ws.contains(goal, GOAL_MARGIN_M)
        others = [c for c in scene.active_blocks if c not in (self.roles["block"], self.roles["reference"])]
        clear = 2 * BLOCK_FOOTPRINT_RADIUS_M + self.config.workspace.clearance_m
        return inside and all(np.linalg.norm(goal - scene.placed_xy(c)) >= clear for c in others) \
            and all(np.linalg.norm(goal - scene.mat_pos(c)[:2]) >= clear for c in scene.active_mats)

    @property
    def instruction(self) -> str:
        phrases = self.relation_phrases.get(self.language, self.relation_phrases["train"])
        return self.active_templates[self.template_index].format(**self.roles, relation=phrases[self.relation])

    def conditions(self, scene: SceneHandle) -> dict[str, bool]:
        block, ref = self.roles["block"], self.roles["reference"]
        offset = scene.block_pos(block)[:2] - scene.block_pos(ref)[:2]
        grasped, released = self.grip(scene, block)
        return {
            "is_grasped": grasped,
            "in_region": in_region(offset, self.relation),
            "on_table": scene.resting_on_table(block),
            "released": released,
            "static": self.static(scene, block),
            "reference_kept": bool(np.linalg.norm(scene.block_pos(ref)[:2] - self.reference_start) <= REF_KEPT_M),
        }

    def subgoals(self) -> list[Subgoal]:
        goal = self.reference_start + GOAL_ALONG_M * np.array(DIRECTIONS[self.relation])
        return [Subgoal(self.roles["block"], "point", xy=(float(goal[0]), float(goal[1])))]
