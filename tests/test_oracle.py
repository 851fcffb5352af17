"""The privileged oracle solves every task: if it cannot, the env or the task is wrong."""

import numpy as np
import pytest

import envs
from agents.base import PrivilegedAgent
from agents.errors import AgentError
from agents.oracle import OracleAgent, grasp_yaw
from envs.geometry import rot_z
from envs.tasks import TASKS


def run_oracle(env, seed: int) -> tuple[bool, int]:
    agent = OracleAgent(env)
    obs, info = env.reset(seed=seed)
    agent.reset(obs["instruction"], info["calibration"])
    steps, done = 0, False
    while not done:
        obs, _, terminated, truncated, info = env.step(agent.act(obs))
        steps, done = steps + 1, terminated or truncated
    return info["success"], steps


def test_oracle_follows_the_agent_contract(make_env):
    """A PrivilegedAgent that refuses to start unbound, then acts inside the action space for every task."""
    assert isinstance(OracleAgent(), PrivilegedAgent) and OracleAgent.privileged
    with pytest.raises(AgentError, match="bind"):
        OracleAgent().reset("pick up the red block", {})
    for task in sorted(TASKS):
        env = make_env(task=task, obs_cameras=())
        agent = OracleAgent()
        assert agent.bind(env) is agent
        obs, info = env.reset(seed=0)
        agent.reset(obs["instruction"], info["calibration"])
        space, done = env.action_space, False
        while not done:
            action = agent.act(obs)
            assert isinstance(action, np.ndarray) and action.dtype == space.dtype and action.shape == space.shape
            assert space.contains(action), (task, action)
            obs, _, terminated, truncated, info = env.step(action)
            done = terminated or truncated
        counters = agent.counters()
        assert isinstance(counters, dict) and agent.counters() == counters  # reading changes nothing
        assert info["success"], task  # the actions checked were a whole successful episode


@pytest.mark.parametrize("task", sorted(TASKS))
def test_oracle_solves_a_few_seeds(make_env, task):
    env = make_env(task=task, obs_cameras=())
    for seed in range(3):
        success, steps = run_oracle(env, seed)
        assert success, f"{task} seed {seed} failed after {steps} steps"
        assert steps < 0.75 * (TASKS[task].max_episode_steps or envs.DEFAULT_MAX_EPISODE_STEPS)


def test_oracle_with_images_and_shifted_camera(make_env):
    """The oracle ignores cameras; the rendering path must not disturb the episode."""
    success, _ = run_oracle(make_env(task="place", camera="shifted"), seed=11)
    assert success


@pytest.mark.slow
@pytest.mark.parametrize("task", sorted(TASKS))
def test_oracle_success_rate_50_seeds(make_env, task):
    env = make_env(task=task, obs_cameras=())
    wins = sum(run_oracle(env, seed)[0] for seed in range(50))
    assert wins >= 48, f"oracle {task}: {wins}/50"


def test_grasp_yaw_is_across_faces_and_near_heading():
    for cube_yaw in np.linspace(-0.7, 0.7, 7):
        for heading in np.linspace(-1.2, 1.2, 7):
            xy = np.array([np.cos(heading), np.sin(heading)])
            yaw = grasp_yaw(rot_z(cube_yaw), xy)
            assert abs(yaw - heading) <= np.pi / 4 + 1e-9
            # fingers close along a cube face normal: yaw differs from cube yaw by k * 90 deg
            k = (yaw - cube_yaw) / (np.pi / 2)
            assert abs(k - round(k)) < 1e-9
