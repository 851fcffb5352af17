"""Robot initial state: each arm joint starts off its home position by up to ``robot_init_rad``."""

from __future__ import annotations

import numpy as np

from envs.factors import Effect, register


@register
class RobotInit(Effect):
    stream = 5
    axes = ("robot_init_rad",)

    def reset(self, env, rng: np.random.Generator) -> None:
        robot, data, m = env.robot, env.data, self.config.robot_init_rad
        offsets = rng.uniform(-m, m, size=len(robot.arm_qadr))
        q = robot.clip_arm(data.qpos[robot.arm_qadr] + offsets)
        data.qpos[robot.arm_qadr] = q
        data.ctrl[robot.arm_act] = q  # the position servos hold the new pose
