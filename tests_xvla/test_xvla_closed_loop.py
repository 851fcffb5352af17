"""A tiny random X-VLA checkpoint, loaded through LeRobot's real path, driving the env closed-loop.

In-process backend, the same backend behind the policy server, and the harness CLI.
Runs in the LeRobot environment only: ``make test-xvla``.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

import gymnasium as gym  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402

import envs  # noqa: E402
from agents.lerobot import LeRobotAgent  # noqa: E402
from agents.lerobot.backend import LeRobotBackend  # noqa: E402
from agents.lerobot.serve import make_server  # noqa: E402
from agents.xvla import tiny  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
STEPS = 12


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory) -> Path:
    return tiny.build_tiny_checkpoint(tmp_path_factory.mktemp("xvla") / "ckpt", (64, 64), state_dim=20, seed=0)


def rollout(agent, seed: int = 0) -> list[np.ndarray]:
    env = gym.make(envs.ENV_ID, task="pick")
    agent.seed(seed)
    obs, info = env.reset(seed=seed)
    agent.reset(obs["instruction"], info["calibration"])
    actions = []
    for _ in range(STEPS):
        action = agent.act(obs)
        assert env.action_space.shape == action.shape and np.isfinite(action).all()
        actions.append(action)
        obs, *_ = env.step(action)
    env.close()
    return actions


def test_in_process_backend_reads_the_checkpoint_and_drives_the_env(checkpoint, tmp_path):
    agent = LeRobotAgent(checkpoint=str(checkpoint), device="cpu", debug=True, debug_dir=str(tmp_path))
    actions = rollout(agent)
    facts = agent.backend.describe()
    assert facts["image_size"] == [64, 64] and facts["state_dim"] == 20 and facts["n_action_steps"] == 4
    assert agent.counters()["policy_queries"] == -(-STEPS // (4 * 2))  # 4 actions per chunk, each held 2 steps
    assert all(0.0 <= a[6] <= 1.0 for a in actions)
    saved = sorted(p.name for p in (tmp_path / "episode_0001_seed0").iterdir())
    assert "step_0000_image.png" in saved and "step_0000_targets.png" in saved
    assert rollout(LeRobotAgent(checkpoint=str(checkpoint), device="cpu"))[-1].tolist() == actions[-1].tolist()


def test_policy_server_gives_the_in_process_actions(checkpoint):
    with make_server(LeRobotBackend(str(checkpoint), device="cpu"), "127.0.0.1", 0) as server:
        remote = rollout(LeRobotAgent(server=server.url))
    local = rollout(LeRobotAgent(checkpoint=str(checkpoint), device="cpu"))
    np.testing.assert_allclose(np.array(remote), np.array(local), atol=1e-5)


def test_harness_runs_the_checkpoint(checkpoint, tmp_path):
    proc = subprocess.run([sys.executable, "-m", "eval.run", "agent=xvla", f"agent.checkpoint={checkpoint}",
                           "agent.device=cpu", "task=pick", "episodes=2", "workers=1", "max_steps=10",
                           f"out_dir={tmp_path}"], cwd=REPO, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    df = pd.read_csv(tmp_path / "episodes.csv")
    assert (df["status"] == "ok").all() and (df["steps"] == 10).all() and (df["policy_queries"] >= 2).all()
