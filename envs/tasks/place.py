"""Place: put a named cube on a named target mat.

Description: the target cube, the target mat, ``num_distractor_blocks`` other
cubes and ``num_distractor_mats`` other mats, all in distinct colours.
Randomizations: colours, positions (workspace box, non-overlapping), cube yaw,
paraphrase (from the active instruction set, ``factors.language``).
Success: the cube's centre is over the mat (horizontal distance below the mat
radius), it rests on the table, no finger pad touches it and it is still, for
``settle_steps`` steps.
"""

from __future__ import annotations

from envs.errors import ConfigError
from envs.geometry import norm
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
    instruction_sets = {
        "train": templates,
        "heldout": (
            "transfer the {block} piece to the {target} circle",
            "carry the {block} brick over to the {target} disc",
            "drop the {block} piece off at the {target} spot",
            "relocate the {block} brick to the {target} marker",
        ),
        "synonyms": (
            "place the {block} box on the {target} pad",
            "put the {block} box on the {target} plate",
            "move the {block} box onto the {target} coaster",
            "set the {block} box down on the {target} pad",
        ),
        "verbose": (
            "please place the {block} block on the {target} target, thank you",
            "could you please put the {block} block on the {target} mat for me",
            "i would like you to move the {block} cube onto the {target} target, please",
            "would you kindly set the {block} block down on the {target} mat",
        ),
    }
    role_blocks = ("block",)
    role_mats = ("target",)
    success_terms = ("on_target", "on_table", "released", "static")

    def conditions(self, scene: SceneHandle) -> dict[str, bool]:
        block, target = self.roles["block"], self.roles["target"]
        offset = scene.block_pos(block)[:2] - scene.mat_pos(target)[:2]
        grasped, released = self.grip(scene, block)
        return {
            "is_grasped": grasped,
            "on_target": norm(offset) < MAT_RADIUS_M,
            "on_table": scene.resting_on_table(block),
            "released": released,
            "static": self.static(scene, block),
        }


class PlaceSingleTask(PlaceTask):
    """Place with one cube and one mat: the instruction is redundant.

    Description: as ``place``, with no distractors, so a policy without language
    input (LeRobot's ACT, Diffusion) can tell which cube and mat are meant;
    colours still vary per episode.  The baseline scene for language-blind
    end-to-end policies trained on the oracle's demonstrations.
    Randomizations and Success: as ``place``.
    """

    name = "place_single"
    config_defaults = {"num_distractor_blocks": 0, "num_distractor_mats": 0}

    def __init__(self, config=None, language: str = "train"):
        super().__init__(config, language)
        if self.config.num_distractor_blocks or self.config.num_distractor_mats:
            raise ConfigError(f"{self.name} has no distractors (got {self.config.num_distractor_blocks} cubes, "
                              f"{self.config.num_distractor_mats} mats); use task=place for scenes with distractors")
