"""Tower: stack three named cubes in a named order, a multi-step task.

Description: three cubes (bottom, middle, top), ``num_distractor_blocks`` other cubes and
``num_distractor_mats`` mats (none by default), all in distinct colours.
Randomizations: colours and their order, positions (workspace box, non-overlapping), cube yaw, paraphrase
(from the active instruction set, ``factors.language``).
Success: the middle cube sits on the bottom one and the top cube on the middle one (each centred within
one half-size and one cube height above, +-``STACK_Z_TOL_M``), the bottom cube rests on the table, no
finger pad touches the middle or top cube and both are still, for ``settle_steps`` steps.  Sub-conditions
``middle_on_bottom`` and ``top_on_middle`` say which step holds.
"""

from __future__ import annotations

from envs.geometry import norm
from envs.objects import SceneHandle
from envs.scene import BLOCK_HALF_SIZE_M
from envs.tasks.base import Subgoal, Task
from envs.tasks.stack import STACK_Z_TOL_M


def on_top(scene: SceneHandle, upper: str, lower: str) -> bool:
    d = scene.block_pos(upper) - scene.block_pos(lower)
    return bool(norm(d[:2]) < BLOCK_HALF_SIZE_M and abs(d[2] - 2 * BLOCK_HALF_SIZE_M) < STACK_Z_TOL_M)


class TowerTask(Task):
    name = "tower"
    templates = (
        "stack the blocks, {bottom} at the bottom, then {middle}, then {top}",
        "build a tower with the {bottom} block at the bottom, the {middle} block in the middle and the {top} "
        "block on top",
        "put the {middle} block on the {bottom} block, then the {top} block on the {middle} block",
        "make a stack of three blocks, {bottom} first, {middle} second and {top} last",
    )
    instruction_sets = {
        "train": templates,
        "heldout": (
            "pile the pieces up with {bottom} lowest, {middle} next and {top} highest",
            "erect a column of bricks, {bottom} as the base, {middle} over it, {top} crowning it",
            "rest the {middle} brick atop the {bottom} brick and afterwards the {top} brick atop the {middle} one",
            "assemble a three-level pile, {bottom} underneath, {middle} in between, {top} uppermost",
        ),
        "synonyms": (
            "stack the boxes, {bottom} at the bottom, then {middle}, then {top}",
            "build a tower with the {bottom} box at the bottom, the {middle} box in the middle and the {top} box "
            "on top",
            "put the {middle} box on the {bottom} box, then the {top} box on the {middle} box",
            "make a stack of three boxes, {bottom} first, {middle} second and {top} last",
        ),
        "verbose": (
            "please stack the blocks, {bottom} at the bottom, then {middle}, then {top}, thank you",
            "could you please build a tower with the {bottom} block at the bottom, the {middle} block in the "
            "middle and the {top} block on top",
            "i would like you to put the {middle} block on the {bottom} block, then the {top} block on the "
            "{middle} block, please",
            "would you kindly make a stack of three blocks, {bottom} first, {middle} second and {top} last",
        ),
    }
    role_blocks = ("bottom", "middle", "top")
    success_terms = ("middle_on_bottom", "top_on_middle", "bottom_on_table", "released", "static")
    config_defaults = {"num_distractor_blocks": 0, "num_distractor_mats": 0}
    max_episode_steps = 300  # two stacking steps take the oracle up to ~160 control steps

    def conditions(self, scene: SceneHandle) -> dict[str, bool]:
        bottom, middle, top = (self.roles[r] for r in self.role_blocks)
        grips = [self.grip(scene, c) for c in (middle, top)]
        return {
            "middle_on_bottom": on_top(scene, middle, bottom),
            "top_on_middle": on_top(scene, top, middle),
            "bottom_on_table": scene.resting_on_table(bottom),
            "is_grasped": any(g[0] for g in grips),
            "released": all(g[1] for g in grips),
            "static": self.static(scene, middle) and self.static(scene, top),
        }

    def subgoals(self) -> list[Subgoal]:
        bottom, middle, top = (self.roles[r] for r in self.role_blocks)
        return [Subgoal(middle, "block", bottom), Subgoal(top, "block", middle)]
