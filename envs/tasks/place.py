"""Place: put a named cube on a named target mat.

Description: the target cube, the target mat, ``num_distractor_blocks`` other
cubes and ``num_distractor_mats`` other mats, all in distinct colours.
Randomizations: colours, positions (workspace box, non-overlapping), cube yaw,
paraphrase.
Success: the cube's centre is over the mat (horizontal distance below the mat
radius), it rests on the table, no finger pad touches it and it is still, for
``settle_steps`` steps.
"""

from __future__ import annotations

import numpy as np

from envs.objects import SceneHandle
from envs.scene import MAT_RADIUS_M
from envs.tasks.base import Task


class PlaceTask(Task):
    name = "place"
    templates = (
        "place the {block} block on the {target} target",
        "put the {block} block on the {target} mat",
        "move the {block} cube onto the {target} target",
        "set the {block} block down on the {target} mat",
    )
    role_blocks = ("block",)
    role_mats = ("target",)
    success_terms = ("on_target", "on_table", "released", "static")

    def conditions(self, scene: SceneHandle) -> dict[str, bool]:
        block, target = self.roles["block"], self.roles["target"]
        offset = scene.block_pos(block)[:2] - scene.mat_pos(target)[:2]
        return {
            "is_grasped": self.is_grasped(scene, block),
            "on_target": bool(np.linalg.norm(offset) < MAT_RADIUS_M),
            "on_table": scene.resting_on_table(block),
            "released": self.released(scene, block),
            "static": self.static(scene, block),
        }
