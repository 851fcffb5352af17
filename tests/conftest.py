import gymnasium as gym
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

