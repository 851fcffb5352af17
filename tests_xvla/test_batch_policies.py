"""Batched queries of real LeRobot policies (a tiny X-VLA, a small ACT): each chunk is the one the
observation gets alone, X-VLA's sampling noise included, and lockstep runs write the rows of unbatched ones."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402

from agents.lerobot.backend import LeRobotBackend  # noqa: E402
from agents.lerobot.tiny import build_act_checkpoint  # noqa: E402
from agents.xvla import tiny  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
ATOL = 1e-5  # a batched matrix product may round differently from K single ones (about 1e-6 seen)


@pytest.fixture(scope="module")
def xvla(tmp_path_factory) -> Path:
    return tiny.build_tiny_checkpoint(tmp_path_factory.mktemp("xvla") / "ckpt", (64, 64), state_dim=20, seed=0)


@pytest.fixture(scope="module")
def act(tmp_path_factory) -> Path:
    return build_act_checkpoint(tmp_path_factory.mktemp("act") / "ckpt", (48, 64), dim_model=64,
                                dim_feedforward=128, n_encoder_layers=1, chunk_size=5)


def observations(backend: LeRobotBackend, n: int) -> list[dict]:
    facts, rng = backend.describe(), np.random.default_rng(0)
    h, w = facts["image_size"]
    return [{**{k: rng.integers(0, 256, (h, w, 3), dtype=np.uint8) for k in facts["image_keys"]},
             "observation.state": rng.normal(size=facts["state_dim"]).astype(np.float32),
             "task": f"pick up the {c} block"} for c in ("red", "green", "blue", "yellow")[:n]]


@pytest.mark.parametrize("which", ["xvla", "act"])
def test_a_batched_chunk_is_the_chunk_alone(which, request):
    backend = LeRobotBackend(str(request.getfixturevalue(which)), device="cpu")
    obs, seeds = observations(backend, 4), [11, 12, 13, 14]
    together = backend.predict_batch(obs, seeds)
    alone = [backend.predict_batch([o], [s])[0] for o, s in zip(obs, seeds)]
    for a, b in zip(together, alone):
        np.testing.assert_allclose(a, b, atol=ATOL)
    if which == "xvla":  # flow matching: the noise is the seed's, so another seed gives another chunk
        other = backend.predict_batch(obs[:1], [99])[0]
        assert np.abs(other - alone[0]).max() > 100 * ATOL


def test_lockstep_xvla_runs_write_the_rows_of_unbatched_ones(xvla, tmp_path):
    common = [sys.executable, "-m", "eval.run", "agent=xvla", f"agent.checkpoint={xvla}", "agent.device=cpu",
              "task=pick", "episodes=3", "max_steps=10", "workers=1"]
    for k in (1, 3):
        proc = subprocess.run([*common, f"batch_episodes={k}", f"out_dir={tmp_path / str(k)}"], cwd=REPO,
                              capture_output=True, text=True, timeout=600)
        assert proc.returncode == 0, proc.stderr[-3000:]
    a, b = (pd.read_csv(tmp_path / k / "episodes.csv").drop(columns=["wall_s", "inference_s"]) for k in "13")
    assert len(a) == 3 and (a["status"] == "ok").all() and (a["policy_queries"] > 0).all()
    assert a.equals(b)


def test_the_batching_benchmark_prints_a_ratio_per_k():
    proc = subprocess.run([sys.executable, "scripts/bench_batch.py", "--episodes", "2", "--steps", "3",
                           "--only", "act"], cwd=REPO, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    for k in (1, 4, 8):
        assert f"K={k}: inference" in proc.stdout, proc.stdout
