"""Privilege by construction: the agent's seed says nothing about the scene, and only allow-listed agents
get the env."""

import gymnasium as gym
import numpy as np
import pandas as pd
import pytest
from harness_util import episodes, run_cli

import envs
from agents.base import Agent
from agents.oracle import OracleAgent
from envs.errors import ConfigError
from eval.episodes import PRIVILEGED_AGENTS, AgentSettings, episode_spec, run_episode


class SceneRebuilder(Agent):
    """Unprivileged, and trying to cheat: rebuilds the env from what it is given and resets it with its seed."""

    def __init__(self):
        self.replica = gym.make(envs.ENV_ID, task="place", obs_cameras=())
        self.replica_poses: dict | None = None

    def seed(self, seed: int) -> None:
        _, info = self.replica.reset(seed=seed)
        self.replica_poses = info["object_poses"]

    def reset(self, instruction, calibration) -> None:
        pass

    def act(self, obs):
        return np.r_[obs["state"][:6], 1.0]


def test_an_unprivileged_agent_cannot_rebuild_the_scene_from_its_seed(make_env):
    env = make_env(task="place", obs_cameras=())
    agent = SceneRebuilder()
    for i in range(5):
        spec = episode_spec(0, i)
        real = env.reset(seed=spec.seed)[1]["object_poses"]  # what the episode's scene is
        run_episode(gym.wrappers.TimeLimit(env.unwrapped, 2), agent, spec)
        assert agent.replica_poses is not None
        rep = agent.replica_poses
        same = rep.keys() == real.keys() and all(np.allclose(real[k]["pos"], rep[k]["pos"]) for k in real)
        assert not same, f"episode {i}: the agent's seed reproduced the scene"


def test_scene_and_agent_seeds_are_separate_and_reproducible():
    a, b = episode_spec(3, 7), episode_spec(3, 7)
    assert a == b and a.seed != a.agent_seed
    assert len({episode_spec(0, i).agent_seed for i in range(50)} | {episode_spec(0, i).seed for i in range(50)}) == 100


class SelfDeclared(Agent):
    privileged = True

    def bind(self, env):
        self.env = env


class OracleLookalike(OracleAgent):
    """Inherits the oracle's privilege flag, but is not the oracle."""


@pytest.mark.parametrize("target", ["test_privilege.SelfDeclared", "test_privilege.OracleLookalike"])
def test_privilege_is_an_allow_list_not_a_declaration(make_env, target):
    env = make_env(task="place", obs_cameras=())
    with pytest.raises(ConfigError, match="allow-list"):
        AgentSettings("cheater", {"_target_": target}).make(env)


def test_the_allow_list_binds_the_oracle_only(make_env):
    env = make_env(task="place", obs_cameras=())
    assert "agents.oracle.OracleAgent" in PRIVILEGED_AGENTS
    assert AgentSettings("oracle", {"_target_": "agents.oracle.OracleAgent"}).make(env).env is env.unwrapped
    with pytest.raises(ConfigError, match="does not subclass agents.base.Agent"):
        AgentSettings("thing", {"_target_": "builtins.dict"}).make(env)


def test_privileged_column_in_episodes_and_summary(tmp_path):
    for agent in ("oracle", "classic"):
        run_cli(f"agent={agent}", "episodes=1", "workers=1", "max_steps=5", f"out_dir={tmp_path / agent}", check=0)
        assert episodes(tmp_path / agent)["privileged"].tolist() == [agent == "oracle"]
        assert pd.read_csv(tmp_path / agent / "summary.csv")["privileged"].tolist() == [agent == "oracle"]
