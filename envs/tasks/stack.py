"""Stack: put a named cube on top of another named cube.

Description: the cube to move, the base cube, ``num_distractor_blocks`` other
cubes and ``num_distractor_mats`` mats, all in distinct colours.
Randomizations: colours, positions (workspace box, non-overlapping), cube yaw,
paraphrase (from the active instruction set, ``factors.language``).
Success: the top cube's centre is within one half-size horizontally of the
base's and one cube height (+-``STACK_Z_TOL_M``) above it, the base still rests
on the table, no finger pad touches the top cube and it is still, for
``settle_steps`` steps (as ManiSkill's StackCube).
"""

from __future__ import annotations

from envs.geometry import norm
from envs.objects import SceneHandle
from envs.scene import BLOCK_HALF_SIZE_M
from envs.tasks.base import Task

STACK_Z_TOL_M = 0.005


class StackTask(Task):
    name = "stack"
    templates = (
        "stack the {block} block on the {base} block",
        "put the {block} block on top of the {base} block",
        "place the {block} cube on the {base} cube",
        "stack the {block} cube on top of the {base} one",
    )
    instruction_sets = {
        "train": templates,
        "heldout": (
            "pile the {block} piece onto the {base} piece",
            "rest the {block} brick over the {base} brick",
            "balance the {block} piece atop the {base} piece",
            "build a tower with the {block} brick above the {base} brick",
        ),
        "synonyms": (
            "stack the {block} box on the {base} box",
            "put the {block} box on top of the {base} box",
            "place the {block} box on the {base} box",
            "stack the {block} box on top of the {base} one",
        ),
        "verbose": (
            "please stack the {block} block on the {base} block, thank you",
            "could you please put the {block} block on top of the {base} block for me",
            "i would like you to place the {block} cube on the {base} cube, please",
            "would you kindly stack the {block} cube on top of the {base} one",
        ),
    }
    role_blocks = ("block", "base")
    success_terms = ("on_top", "base_on_table", "released", "static")

    def conditions(self, scene: SceneHandle) -> dict[str, bool]:
        block, base = self.roles["block"], self.roles["base"]
        d = scene.block_pos(block) - scene.block_pos(base)
        grasped, released = self.grip(scene, block)
        return {
            "is_grasped": grasped,
            "on_top": bool(norm(d[:2]) < BLOCK_HALF_SIZE_M and abs(d[2] - 2 * BLOCK_HALF_SIZE_M) < STACK_Z_TOL_M),
            "base_on_table": scene.resting_on_table(base),
            "released": released,
            "static": self.static(scene, block),
        }
