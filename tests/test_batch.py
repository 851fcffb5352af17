"""Lockstep episodes (``batch_episodes``): one batched policy query per step, and every episode exactly
what it would be alone.

The policy is the deterministic reach stand-in (``agents.lerobot.testing.ReachPolicy``) run
in-process by the real LeRobot agent; its seeded goal jitter (``noise_m``) stands in for a
flow-matching policy's noise, so the tests also show that each episode's noise is its own.
"""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest

import envs
from agents.lerobot import LeRobotAgent
from agents.lerobot.testing import ReachPolicy
from agents.oracle import OracleAgent
from envs.errors import ConfigError
from eval.episodes import episode_spec, lockstep, rollout, run_episodes
from tests.harness_util import episodes, run_cli

TASK = "pick"


def make_env(max_steps: int = 14) -> gym.Env:
    return gym.make(envs.ENV_ID, task=TASK, max_episode_steps=max_steps)


def make_agents(k: int, noise_m: float = 0.03) -> tuple[list[LeRobotAgent], ReachPolicy]:
    policy = ReachPolicy(noise_m=noise_m)
    first = LeRobotAgent(backend=policy)
    first.prepare()
    return [first] + [first.replicate() for _ in range(k - 1)], policy


def single_actions(spec, noise_m: float = 0.03, max_steps: int = 14) -> list[np.ndarray]:
    (agent,), _ = make_agents(1, noise_m)
    env = make_env(max_steps)
    try:
        return [s.action for s in rollout(env, agent, spec) if s.action is not None]
    finally:
        env.close()


SPECS = [episode_spec(0, i) for i in range(3)]


def test_lockstep_episodes_are_the_episodes_run_alone_and_share_queries():
    agents, policy = make_agents(3)
    envs_ = [make_env() for _ in SPECS]
    actions: dict[int, list] = {i: [] for i in range(3)}
    for steps in lockstep(envs_, agents, SPECS):
        for i, step in steps:
            assert step.error is None
            if step.action is not None:
                actions[i].append(step.action)
    for i, spec in enumerate(SPECS):
        alone = single_actions(spec)
        assert len(actions[i]) == len(alone) == 14
        np.testing.assert_array_equal(np.array(actions[i]), np.array(alone))
    assert policy.batch_sizes and set(policy.batch_sizes) == {3}  # every query asked for all three at once
    # each agent's planned targets are its decoded chunks, from the step each was asked at
    plans = agents[1].planned()
    assert [p.step for p in plans] == [0, 8] and plans[0].label == "chunk"
    np.testing.assert_allclose(plans[0].points[0], actions[1][0][:3], atol=1e-6)
    # the noise is each episode's own: without it the same episode moves otherwise
    assert not np.array_equal(np.array(actions[0]), np.array(single_actions(SPECS[0], noise_m=0.0)))


def test_finished_episodes_drop_out_of_the_batch():
    agents, policy = make_agents(2)
    rows = run_episodes([make_env(6), make_env(14)], agents, SPECS[:2])
    assert [r["steps"] for r in rows] == [6, 14] and all(r["status"] == "ok" for r in rows)
    assert policy.batch_sizes[0] == 2 and policy.batch_sizes[-1] == 1
    assert [r["policy_queries"] for r in rows] == [1 + (6 - 1) // 8, 1 + (14 - 1) // 8]


class BreaksAtStep(gym.Wrapper):
    def __init__(self, env, at: int):
        super().__init__(env)
        self.at, self.t = at, 0

    def reset(self, **kwargs):
        self.t = 0
        return self.env.reset(**kwargs)

    def step(self, action):
        self.t += 1
        if self.t == self.at:
            raise RuntimeError("simulated env failure")
        return self.env.step(action)


def test_one_failing_episode_ends_alone_and_the_others_are_unchanged():
    agents, _ = make_agents(3)
    rows = run_episodes([make_env(), BreaksAtStep(make_env(), 4), make_env()], agents, SPECS)
    assert [r["status"] for r in rows] == ["ok", "error", "ok"]
    assert rows[1]["steps"] == 3 and "simulated env failure" in rows[1]["error"]
    alone = run_episodes([make_env()], make_agents(1)[0], SPECS[2:])[0]
    assert {k: v for k, v in rows[2].items() if k not in ("wall_s", "inference_s")} == \
        {k: v for k, v in alone.items() if k not in ("wall_s", "inference_s")}


def test_agents_without_a_batched_policy_refuse_batching():
    with pytest.raises(ConfigError, match="workers=N"):
        OracleAgent().replicate()


def test_harness_batched_and_unbatched_runs_write_the_same_rows(tmp_path):
    backend = "+agent.backend={_target_:agents.lerobot.testing.ReachPolicy,noise_m:0.03}"
    common = ["agent=xvla", f"task={TASK}", "episodes=5", "max_steps=12", "workers=1", backend]
    run_cli(*common, "batch_episodes=1", f"out_dir={tmp_path / 'k1'}", check=0)
    run_cli(*common, "batch_episodes=3", f"out_dir={tmp_path / 'k3'}", check=0)
    # groups of two in two worker processes (the pool's path), the last group of one
    run_cli(*common[:-2], "workers=2", backend, "batch_episodes=2", f"out_dir={tmp_path / 'k2w2'}", check=0)
    a, b, c = (episodes(tmp_path / k).drop(columns=["wall_s", "inference_s"]).sort_values("episode")
               .reset_index(drop=True) for k in ("k1", "k3", "k2w2"))
    assert len(a) == 5 and (a["status"] == "ok").all()
    assert a.equals(b) and a.equals(c)  # same settings_id too: batch_episodes changes no outcome


def test_harness_refuses_batching_an_agent_without_a_policy(tmp_path):
    proc = run_cli("agent=classic", "episodes=2", "batch_episodes=2", f"out_dir={tmp_path}", check=2)
    assert "batch_episodes > 1" in proc.stderr + proc.stdout and "workers=N" in proc.stderr + proc.stdout
