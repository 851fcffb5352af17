"""Every agent meets the identical perturbed scene: same seed and magnitude, bit-identical first observation."""

import gymnasium as gym
import numpy as np
import pytest

import envs
from agents.oracle import OracleAgent
from agents.tool import ToolAgent
from agents.tool.classic import ClassicReasoner
from envs.factors import AXES
from eval.episodes import episode_spec, rollout


def _first(factors: dict, seed: int):
    env = gym.make(envs.ENV_ID, task="place", factors=factors)
    try:
        obs, info = env.reset(seed=seed)
        return obs, info["calibration"]["primary"], info["object_poses"]
    finally:
        env.close()


@pytest.mark.parametrize("axis", sorted(AXES))
def test_same_seed_same_first_observation_at_the_maximum(axis):
    factors = {axis: AXES[axis].maximum}
    (a, cal_a, poses_a), (b, cal_b, poses_b) = _first(factors, 7), _first(factors, 7)
    assert np.array_equal(a["images"]["primary"], b["images"]["primary"])
    assert np.array_equal(a["state"], b["state"]) and a["instruction"] == b["instruction"]
    assert cal_a == cal_b and poses_a == poses_b
    c, _, _ = _first(factors, 8)
    assert not np.array_equal(a["images"]["primary"], c["images"]["primary"])  # another seed: another scene


def test_the_agent_does_not_change_the_scene():
    """Two agents (one privileged, one not) in the one rollout loop see the same first observation."""
    factors = {"clutter": 2, "object_hue_deg": 10.0, "pixel_noise_sigma": 20.0, "robot_init_rad": 0.2}
    spec = episode_spec(0, 3)
    firsts = []
    for make_agent in (lambda env: OracleAgent(env), lambda env: ToolAgent(ClassicReasoner())):
        env = gym.make(envs.ENV_ID, task="place", factors=factors)
        step = next(rollout(env, make_agent(env), spec))
        firsts.append(step.obs)
        env.close()
    assert np.array_equal(firsts[0]["images"]["primary"], firsts[1]["images"]["primary"])
    assert np.array_equal(firsts[0]["joint_pos"], firsts[1]["joint_pos"])


@pytest.fixture(scope="module")
def default_first():
    return _first({}, 7)


@pytest.mark.parametrize("axis", sorted(AXES))
def test_an_axis_at_its_nominal_value_is_a_no_op(axis, default_first):
    obs, cal, poses = _first({axis: AXES[axis].nominal}, 7)
    assert np.array_equal(obs["images"]["primary"], default_first[0]["images"]["primary"])
    assert np.array_equal(obs["joint_pos"], default_first[0]["joint_pos"])
    assert obs["instruction"] == default_first[0]["instruction"] and cal == default_first[1]
    assert poses == default_first[2]
