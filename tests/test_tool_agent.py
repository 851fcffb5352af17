"""The tool agent with the offline classic reasoner, closed-loop in the env."""

import numpy as np
import pytest

from agents.base import Agent
from agents.tool import ToolAgent
from agents.tool.classic import ClassicReasoner
from agents.tool.types import Call


def run(env, agent, seed):
    obs, info = env.reset(seed=seed)
    agent.reset(obs["instruction"], info["calibration"])
    done = False
    while not done:
        obs, _, terminated, truncated, info = env.step(agent.act(obs))
        done = terminated or truncated
    return info, agent.counters()


@pytest.mark.parametrize("task", ["pick", "place", "stack"])
def test_classic_tool_agent_solves_tasks(make_env, task):
    env = make_env(task=task)
    agent = ToolAgent(ClassicReasoner())
    assert isinstance(agent, Agent)
    wins = sum(run(env, agent, seed)[0]["success"] for seed in range(3))
    assert wins == 3


def test_true_calibration_keeps_working_when_the_camera_moves(make_env):
    env = make_env(task="place", camera="rotated", calibration="true")
    info, counters = run(env, ToolAgent(ClassicReasoner()), seed=4)
    assert info["success"] and counters["attempts"] == 1 and counters["call_errors"] == 0


def test_unfound_objects_end_in_failure_not_a_crash(make_env):
    class Blind(ClassicReasoner):
        def point(self, image, instruction):
            super().point(image, instruction)
            return []

    env = make_env(task="pick", max_episode_steps=80)
    info, counters = run(env, ToolAgent(Blind()), seed=0)
    assert not info["success"] and counters["attempts"] == 3 and counters["calls_executed"] == 0


def test_bad_calls_are_answered_with_an_error_status(make_env):
    class Sloppy(ClassicReasoner):
        def start_plan(self, image, instruction, dets):
            return [Call("wave", {}), Call("move", {"x": "left"}), Call("move", {"x": 500, "y": 0, "high": True})]

        def continue_plan(self, results):
            self.results = results
            return []

    reasoner = Sloppy()
    env = make_env(task="pick", max_episode_steps=60)
    _, counters = run(env, ToolAgent(reasoner), seed=0)
    statuses = [r.status for r in reasoner.results]
    assert statuses[:2] == ["error", "error"] and "unknown function" in reasoner.results[0].detail["message"]
    assert "numeric x, y" in reasoner.results[1].detail["message"]
    assert counters["call_errors"] >= 2


def test_harness_hands_the_env_only_to_privileged_agents(make_env):
    import gymnasium as gym
    from hydra import compose, initialize_config_dir

    from eval import schema
    from eval.episodes import make_agent
    from harness_util import REPO

    schema.register()
    env = make_env(task="place")
    for name, privileged in (("classic", False), ("oracle", True)):
        with initialize_config_dir(str(REPO / "conf"), version_base=None):
            agent = make_agent(compose("config", overrides=[f"agent={name}"]), env)
        seen, stack, found = set(), [agent], False
        while stack:  # everything reachable from the agent's attributes
            obj = stack.pop()
            if id(obj) in seen or isinstance(obj, (str, bytes, int, float, np.ndarray)):
                continue
            seen.add(id(obj))
            found |= isinstance(obj, gym.Env)
            stack.extend(vars(obj).values() if hasattr(obj, "__dict__") else
                         obj.values() if isinstance(obj, dict) else obj if isinstance(obj, (list, tuple)) else [])
        assert found is privileged, name


def test_agent_reads_only_observations_and_calibration(make_env):
    """The tool agent's actions are a function of what it is given: a run on observations alone reproduces itself."""
    env = make_env(task="place")
    a, b = ToolAgent(ClassicReasoner()), ToolAgent(ClassicReasoner())
    obs, info = env.reset(seed=3)
    a.reset(obs["instruction"], info["calibration"])
    b.reset(obs["instruction"], info["calibration"])
    for _ in range(20):
        act = a.act(obs)
        np.testing.assert_array_equal(act, b.act(obs))
        obs, *_ = env.step(act)
