"""Pick: lift a named cube off the table.

Description: the scene holds the target cube, ``num_distractor_blocks`` other
cubes and ``num_distractor_mats`` mats, all in distinct colours.
Randomizations: colours, positions (workspace box, non-overlapping), cube yaw,
paraphrase (from the active instruction set, ``factors.language``).
Success: both finger pads touch the cube and its centre is at least
``LIFT_HEIGHT_M`` above its resting height, for ``settle_steps`` steps.
"""

from __future__ import annotations

from envs.objects import SceneHandle
from envs.scene import TABLE_TOP_Z_M
from envs.tasks.base import Task

LIFT_HEIGHT_M = 0.05  # like robosuite Lift's 4 cm, rounded up to one cube height + 1 cm


class PickTask(Task):
    name = "pick"
    templates = (
        "pick up the {block} block",
        "lift the {block} block",
        "grab the {block} cube and lift it",
        "pick the {block} block up off the table",
    )
    instruction_sets = {
        "train": templates,
        "heldout": (
            "raise the {block} piece into the air",
            "take hold of the {block} brick and hoist it",
            "get the {block} piece up off the surface",
            "hold the {block} brick up high",
        ),
        "synonyms": (
            "pick up the {block} box",
            "lift the {block} box",
            "grab the {block} box and lift it",
            "pick the {block} box up off the table",
        ),
        "verbose": (
            "please pick up the {block} block, thank you",
            "could you please lift the {block} block for me",
            "i would like you to grab the {block} cube and lift it, please",
            "would you kindly pick the {block} block up off the table",
        ),
    }
    role_blocks = ("block",)
    success_terms = ("is_grasped", "lifted")

    def conditions(self, scene: SceneHandle) -> dict[str, bool]:
        block = self.roles["block"]
        height = scene.block_pos(block)[2] - (TABLE_TOP_Z_M + scene.block_half(block))
        return {"is_grasped": self.grip(scene, block)[0], "lifted": bool(height >= LIFT_HEIGHT_M)}
