"""Record -> train with LeRobot's own entry point -> evaluate through eval.run (tiny sizes, offline)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import pandas as pd  # noqa: E402
import pytest  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
TINY_ACT = ["--policy.type=act", "--policy.device=cpu", "--policy.push_to_hub=false",
            "--policy.pretrained_backbone_weights=null", "--policy.dim_model=32", "--policy.dim_feedforward=64",
            "--policy.n_encoder_layers=1", "--policy.n_decoder_layers=1", "--policy.n_vae_encoder_layers=1",
            "--policy.chunk_size=5", "--policy.n_action_steps=5", "--wandb.enable=false", "--num_workers=0",
            "--batch_size=2", "--steps=3", "--save_freq=3", "--log_freq=1"]


def run(*args: str) -> subprocess.CompletedProcess:
    proc = subprocess.run([sys.executable, *args], cwd=REPO, capture_output=True, text=True, timeout=900,
                          env={**os.environ, "HF_HUB_OFFLINE": "1"})
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-3000:]
    return proc


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("e2e")
    run("-m", "eval.record", "task=place_single", "episodes=2", "use_videos=false", "image_size=[48,64]",
        f"out_dir={root / 'rec'}")
    run("-m", "lerobot.scripts.lerobot_train", "--dataset.repo_id=local/widowx_place_single",
        f"--dataset.root={root / 'rec' / 'dataset'}", f"--output_dir={root / 'train'}", *TINY_ACT)
    return root / "train" / "checkpoints" / "last" / "pretrained_model"


def test_trained_checkpoint_runs_through_the_harness(checkpoint, tmp_path):
    assert (checkpoint / "policy_preprocessor.json").exists()
    run("-m", "eval.run", "-m", "agent=lerobot", "agent.name=act_tiny", f"agent.checkpoint={checkpoint}",
        "agent.device=cpu", "task=place_single", "camera=nominal,shifted", "episodes=2", "workers=1",
        "max_steps=12", f"out_dir={tmp_path}")
    # the checkpoint path stays out of the sweep's folder names; agent.name tells policies apart
    runs = sorted(p.name for p in tmp_path.iterdir() if p.is_dir())
    assert runs == [f"agent.name=act_tiny,agent=lerobot,camera={c},max_steps=12,task=place_single"
                    for c in ("nominal", "shifted")]
    df = pd.concat(pd.read_csv(tmp_path / r / "episodes.csv") for r in runs)
    assert (df["agent"] == "act_tiny").all() and (df["task"] == "place_single").all()
    assert (df["status"] == "ok").all() and (df["steps"] == 12).all()
    assert (df["policy_queries"] == 3).all()  # chunks of 5 actions, one env step each: 12 steps need 3


def test_same_seeds_evaluate_identically(checkpoint, tmp_path):
    """Evaluation is a function of the seeds: two runs of the same episodes agree in every recorded column."""
    frames, queries = [], []
    for name in ("a", "b"):
        run("-m", "eval.run", "agent=lerobot", f"agent.checkpoint={checkpoint}", "agent.device=cpu",
            "agent.debug=true", f"agent.debug_dir={tmp_path / name / 'debug'}", "task=place_single",
            "episodes=2", "workers=1", "max_steps=25", f"out_dir={tmp_path / name}")
        frames.append(pd.read_csv(tmp_path / name / "episodes.csv").drop(columns=["wall_s", "inference_s"],
                                                                         errors="ignore"))
        # every query's state and action chunk, per episode folder
        logs = sorted((tmp_path / name / "debug").rglob("queries.jsonl"))
        queries.append({p.parent.name: p.read_text() for p in logs})
    pd.testing.assert_frame_equal(frames[0], frames[1])
    assert len(queries[0]) == 2 and all(q.count("\n") == 5 for q in queries[0].values())  # 25 steps, chunks of 5
    assert queries[0] == queries[1]


def test_training_the_same_data_again_gives_the_same_weights(checkpoint, tmp_path):
    """What scripts/modular_vs_e2e.sh relies on when a clone trains ACT again and checks the published sha256."""
    root = checkpoint.parents[3]
    run("-m", "lerobot.scripts.lerobot_train", "--dataset.repo_id=local/widowx_place_single",
        f"--dataset.root={root / 'rec' / 'dataset'}", f"--output_dir={tmp_path / 'again'}", *TINY_ACT)
    again = tmp_path / "again" / "checkpoints" / "last" / "pretrained_model" / "model.safetensors"
    assert again.read_bytes() == (checkpoint / "model.safetensors").read_bytes()
