import gymnasium as gym
import pytest

import envs


@pytest.fixture
def make_env():
    """gym.make the bench env; every env made is closed after the test."""
    made = []

    def _make(**kwargs):
        if "max_episode_steps" not in kwargs:  # the task's own horizon, as the harness gives it
            from envs.tasks import TASKS

            own = TASKS.get(kwargs.get("task", "place"))
            if own is not None and own.max_episode_steps:
                kwargs["max_episode_steps"] = own.max_episode_steps
        env = gym.make(envs.ENV_ID, **kwargs)
        made.append(env)
        return env

    yield _make
    for env in made:
        env.close()


@pytest.fixture
def place_scene(make_env):
    """A ``place`` scene reset at seed 1: ``(env, obs, info)`` (the reasoner tests point and plan in it)."""
    env = make_env(task="place")
    obs, info = env.reset(seed=1)
    return env, obs, info


def pytest_terminal_summary(terminalreporter):
    """Timings tests measured (``record_property(name, seconds)``, names ending in ``_s``): reported, never
    asserted (the playground's time to first frame in tests/test_playground_browser.py)."""
    for report in terminalreporter.stats.get("passed", []):
        for name, value in getattr(report, "user_properties", []):
            if name.endswith("_s"):
                terminalreporter.write_line(f"measured: {report.nodeid}: {name} = {value} s")
