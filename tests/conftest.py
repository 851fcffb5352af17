import gymnasium as gym
import numpy as np
import pytest

import envs


@pytest.fixture
def make_env():
    """gym.make the bench env; every env made is closed after the test."""
    made = []

    def _make(**kwargs):
        env = gym.make(envs.ENV_ID, **kwargs)
        made.append(env)
        return env

    yield _make
    for env in made:
        env.close()


def hold_joints(env, steps: int, gripper: float = 1.0):
    """Step a joint_pos env holding the arm where it is; return the last info."""
    u = env.unwrapped
    q = u.robot.arm_qpos(u.data)
    info = None
    for _ in range(steps):
        _, _, _, _, info = env.step(np.r_[q, gripper].astype(np.float32))
    return info
