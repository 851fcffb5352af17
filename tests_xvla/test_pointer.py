"""The learned pointer: labels eval.record writes, the network, its training, its checkpoints, and the tool agent
that uses it (agent=learned) through eval.run.  Tiny sizes, seeded, offline."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import gymnasium as gym  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402
from lerobot.datasets.lerobot_dataset import LeRobotDataset  # noqa: E402

import envs  # noqa: E402
from agents.errors import FatalAgentError  # noqa: E402
from agents.pointer import train as trainer  # noqa: E402
from agents.pointer.data import instruction_colors, load_frames  # noqa: E402
from agents.pointer.model import (  # noqa: E402
    PointerConfig,
    PointerNet,
    decode,
    heatmap_loss,
    load_checkpoint,
    save_checkpoint,
)
from agents.tool.learned import LearnedReasoner  # noqa: E402
from envs.errors import ConfigError  # noqa: E402
from eval.episodes import episode_seed  # noqa: E402
from eval.labels import read_labels  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
SIZE = [48, 64]  # the stored image (height, width): multiples of 8 for the pointer


def run(*args: str, check: bool = True) -> subprocess.CompletedProcess:
    proc = subprocess.run([sys.executable, *args], cwd=REPO, capture_output=True, text=True, timeout=600,
                          env={**os.environ, "HF_HUB_OFFLINE": "1"})
    if check:
        assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-3000:]
    return proc


def record(out: Path, episodes: int, seed: int = 0) -> None:
    run("-m", "eval.record", "task=place_single", f"episodes={episodes}", "use_videos=false",
        f"image_size=[{SIZE[0]},{SIZE[1]}]", f"seed={seed}", f"out_dir={out}")


def train_args(dataset: Path, out: Path, *extra: str) -> list[str]:
    return ["--dataset", str(dataset), "--out", str(out), "--batch-size", "8", "--heldout-episodes", "1",
            "--width", "8", "--log-every", "1", "--save-every", "5", *extra]


@pytest.fixture(scope="module")
def recorded(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("ptr") / "rec"
    record(out, 3)
    return out


@pytest.fixture(scope="module")
def trained(recorded, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("ptr") / "train"
    assert trainer.main(train_args(recorded, out, "--steps", "30")) == 0
    return out


# --- labels ------------------------------------------------------------------------
def test_labels_match_the_dataset_and_the_true_projection(recorded):
    labels = read_labels(recorded)
    ds = LeRobotDataset("local/widowx_place_single", root=recorded / "dataset")
    assert sorted(labels) == list(range(ds.num_episodes)) == [0, 1, 2]
    counts = np.bincount(np.asarray(ds.hf_dataset.with_format("numpy")["episode_index"]))
    log = [json.loads(line) for line in (recorded / "record_log.jsonl").read_text().splitlines()]
    for k, lab in labels.items():
        assert lab["frames"] == counts[k] == len(lab["pixels"]["primary"]["block"]["u"])
        assert lab["task"] == log[lab["episode"]]["task"] and lab["seed"] == episode_seed(0, lab["episode"])
        assert lab["image_size"] == {"primary": SIZE} and lab["camera_size"] == {"primary": [240, 320]}
        assert set(lab["roles"]) == {"block", "target"} and lab["kinds"] == {"block": "block", "target": "target"}
    # frame 0 of each episode: the reset scene, the cube's and the mat's centres through the true calibration
    env = gym.make(envs.ENV_ID, task="place_single")
    for lab in labels.values():
        _, info = env.reset(seed=lab["seed"])
        u = env.unwrapped
        cal = u.true_calibration("primary")
        for role, pos in (("block", u.handle.block_pos(lab["roles"]["block"])),
                          ("target", u.handle.mat_pos(lab["roles"]["target"]))):
            uv = cal.project(pos[None])[0]
            want = (uv + 0.5) * [SIZE[1] / 320, SIZE[0] / 240] - 0.5
            got = [lab["pixels"]["primary"][role]["u"][0], lab["pixels"]["primary"][role]["v"][0]]
            np.testing.assert_allclose(got, want, atol=2e-3)
            np.testing.assert_allclose(lab["world"][role][0], pos, atol=1e-5)
            assert lab["pixels"]["primary"][role]["in_image"][0] and lab["pixels"]["primary"][role]["visible"][0]
        assert info["roles"] == lab["roles"]
    env.close()
    # the cube is carried: its label moves, and it ends over the mat's label
    lab = labels[0]["pixels"]["primary"]
    end = np.array([lab["block"]["u"][-1], lab["block"]["v"][-1]])
    assert np.linalg.norm(end - [lab["target"]["u"][-1], lab["target"]["v"][-1]]) < 6
    assert np.linalg.norm(end - [lab["block"]["u"][0], lab["block"]["v"][0]]) > 4


def test_labels_are_deterministic_and_resume(recorded, tmp_path):
    record(tmp_path / "a", 1)
    record(tmp_path / "a", 3)  # resumes after episode 0
    assert (tmp_path / "a" / "labels.jsonl").read_text() == (recorded / "labels.jsonl").read_text()


# --- the network -------------------------------------------------------------------
def test_shapes_condition_and_decoding():
    cfg = PointerConfig(image_size=(48, 64), width=8)
    model = PointerNet(cfg)
    logits = model(torch.rand(2, 3, 48, 64), torch.zeros(2, cfg.cond_dim))
    assert tuple(logits.shape) == (2, 2, 24, 32)
    half = PointerNet(PointerConfig(image_size=(48, 64), width=8, film_half=True))
    assert tuple(half(torch.rand(1, 3, 48, 64), torch.zeros(1, cfg.cond_dim)).shape) == (1, 2, 24, 32)
    assert "film2.lin.weight" in half.state_dict() and "film2.lin.weight" not in model.state_dict()
    cond = cfg.condition({"block": "red", "target": "blue"})
    assert cond.shape == (12,) and cond.sum() == 2 and cond[cfg.colors.index("red")] == 1
    assert cond[len(cfg.colors) + cfg.colors.index("blue")] == 1
    assert instruction_colors("put the orange block on the green mat") == {"block": "orange", "target": "green"}
    # a heatmap peaked at one cell decodes to that cell's centre in image pixels
    peak = torch.full((1, 2, 24, 32), -50.0)
    peak[0, 0, 10, 7] = 50.0
    peak[0, 1, 0, 31] = 50.0
    uv, conf = decode(peak, cfg)
    np.testing.assert_allclose(uv[0].numpy(), [[7 * 2 + 0.5, 10 * 2 + 0.5], [31 * 2 + 0.5, 0.5]], atol=1e-4)
    assert float(conf.min()) > 0.99
    # the loss is smallest at the label
    uv_label = torch.tensor([[[14.5, 20.5], [62.5, 0.5]]])
    valid = torch.ones(1, 2, dtype=torch.bool)
    assert heatmap_loss(peak, uv_label, valid, cfg) < heatmap_loss(peak, uv_label + 8, valid, cfg)
    with pytest.raises(ConfigError, match="multiples of 8"):
        PointerConfig(image_size=(50, 64))


# --- training ----------------------------------------------------------------------
def test_training_lowers_the_loss_and_saves_a_checkpoint(trained):
    log = [json.loads(line) for line in (trained / "train_log.jsonl").read_text().splitlines()]
    assert [r["step"] for r in log] == list(range(1, 31))
    assert np.mean([r["loss"] for r in log[-5:]]) < 0.7 * np.mean([r["loss"] for r in log[:5]])
    meta = json.loads((trained / "checkpoint" / "config.json").read_text())
    assert meta["steps"] == 30 and meta["stopped_by"] == "steps" and meta["train_wall_s"] > 0
    assert meta["heldout_episodes"] == [2] and meta["model"]["image_size"] == SIZE
    assert meta["training"]["seed"] == 0 and meta["training"]["dataset"].endswith("rec")
    errors = meta["heldout_errors"]["block"]
    assert errors["all"]["n"] > 0 and errors["first"]["n"] == 1 and errors["all"]["median"] >= 0
    assert json.loads((trained / "eval.json").read_text())["heldout_errors"] == meta["heldout_errors"]


def test_training_is_deterministic_and_resumes_to_the_same_weights(recorded, trained, tmp_path):
    again = tmp_path / "again"
    assert trainer.main(train_args(recorded, again, "--steps", "30")) == 0
    ref = (trained / "checkpoint" / "model.safetensors").read_bytes()
    assert (again / "checkpoint" / "model.safetensors").read_bytes() == ref
    cut = tmp_path / "cut"  # stopped part way (between two saves), then resumed by the same command
    assert trainer.main(train_args(recorded, cut, "--steps", "30", "--stop-at-step", "12")) == 0
    first = json.loads((cut / "checkpoint" / "config.json").read_text())
    assert first["stopped_by"] == "stop_at_step" and first["steps"] == 12
    assert trainer.main(train_args(recorded, cut, "--steps", "30")) == 0
    assert (cut / "checkpoint" / "model.safetensors").read_bytes() == ref
    assert trainer.main(train_args(recorded, cut, "--steps", "30", "--lr", "1e-3")) == 2  # other settings: refused
    budget = tmp_path / "budget"  # a wall-clock budget stops training and says so
    assert trainer.main(train_args(recorded, budget, "--steps", "30", "--time-budget-s", "0")) == 0
    meta = json.loads((budget / "checkpoint" / "config.json").read_text())
    assert meta["stopped_by"] == "time_budget" and meta["steps"] == 0
    away = tmp_path / "away"  # half of each batch from frames with the arm away from the objects
    assert trainer.main(train_args(recorded, away, "--steps", "3", "--arm-away-fraction", "0.5")) == 0
    assert json.loads((away / "checkpoint" / "config.json").read_text())["heldout_errors"]["block"]["arm_away"]["n"] > 0


def test_every_episode_can_train_with_the_held_out_error_from_another_recording(recorded, tmp_path):
    other = tmp_path / "other"  # other scenes (base seed 7), as modular_vs_e2e.sh's held-out recording
    record(other, 2, seed=7)
    out = tmp_path / "all"
    assert trainer.main(train_args(recorded, out, "--steps", "3", "--heldout-episodes", "0",
                                   "--heldout-dataset", str(other))) == 0
    meta = json.loads((out / "checkpoint" / "config.json").read_text())
    assert meta["frames"]["train"] == len(load_frames(recorded, PointerConfig(image_size=tuple(SIZE), width=8)))
    assert meta["frames"]["heldout"] == len(load_frames(other, PointerConfig(image_size=tuple(SIZE), width=8)))
    assert meta["heldout_episodes"] == [0, 1] and meta["heldout_dataset"] == str(other)
    assert meta["heldout_errors"]["block"]["first"]["n"] == 2  # one first frame per held-out episode
    seeds = {json.loads(line)["seed"] for f in (recorded, other) for line in (f / "record_log.jsonl").open()}
    assert len(seeds) == 5  # no scene in both


def test_checkpoint_round_trip(recorded, trained, tmp_path):
    model, meta = load_checkpoint(trained / "checkpoint")
    frames = load_frames(recorded, model.cfg)
    assert frames.arm_away[frames.frame == 0].all() and not frames.arm_away.all()  # home pose; then the grasp
    uv, conf = trainer.predict(model, frames.subset(frames.episode == 2))
    copy = save_checkpoint(model, tmp_path / "copy", {k: v for k, v in meta.items() if k not in ("format", "model")})
    uv2, conf2 = trainer.predict(load_checkpoint(copy)[0], frames.subset(frames.episode == 2))
    np.testing.assert_array_equal(uv, uv2)
    np.testing.assert_array_equal(conf, conf2)
    assert trainer.evaluate(copy, recorded, 1) == meta["heldout_errors"]
    (tmp_path / "copy" / "config.json").write_text(json.dumps({"format": "something else"}))
    with pytest.raises(ConfigError, match="format"):
        load_checkpoint(tmp_path / "copy")


# --- the learned reasoner ------------------------------------------------------------
def test_reasoner_points_for_place_and_pick_and_refuses_other_forms(trained):
    reasoner = LearnedReasoner(str(trained / "checkpoint"))
    reasoner.prepare()
    image = np.zeros((240, 320, 3), np.uint8)
    dets = reasoner.point(image, "place the red block on the blue target")
    assert [d.label for d in dets] == ["red block", "blue target"]
    assert dets[0].box is not None and dets[1].box is None
    assert all(0 <= d.pixel[0] <= 320 and 0 <= d.pixel[1] <= 240 for d in dets)
    assert [d.label for d in reasoner.point(image, "pick up the green block")] == ["green block"]
    assert reasoner.point(image, "stack the red block on the green block") == []
    assert reasoner.point(image, "put the leftmost block on the blue mat") == []
    assert reasoner.counters() == {"reasoner_calls": 4, "no_plan": 2}


def test_missing_checkpoint_or_torch_stops_at_prepare(tmp_path, monkeypatch):
    with pytest.raises(FatalAgentError, match="agent.reasoner.checkpoint=.*agents.pointer.train"):
        LearnedReasoner(None).prepare()
    with pytest.raises(FatalAgentError, match="no pointer checkpoint at .*agents.pointer.train"):
        LearnedReasoner(str(tmp_path / "nowhere")).prepare()
    with pytest.raises(FatalAgentError, match="not a pointer checkpoint"):
        LearnedReasoner(str(tmp_path)).prepare()
    monkeypatch.setitem(sys.modules, "torch", None)  # as in an environment without PyTorch
    with pytest.raises(FatalAgentError, match="PyTorch.*LeRobot environment"):
        LearnedReasoner(str(tmp_path)).prepare()


def test_checkpoint_runs_through_eval_run_deterministically(trained, tmp_path):
    frames = []
    for name in ("a", "b"):
        run("-m", "eval.run", "agent=learned", f"agent.reasoner.checkpoint={trained / 'checkpoint'}",
            "task=place_single", "episodes=2", "workers=1", "max_steps=40", f"out_dir={tmp_path / name}")
        frames.append(pd.read_csv(tmp_path / name / "episodes.csv").drop(columns=["wall_s"]))
    df = frames[0]
    assert (df["agent"] == "learned").all() and (df["status"] == "ok").all()
    assert df["point_err_px"].notna().all() and (df["points"] == 2).all() and (df["reasoner_calls"] >= 1).all()
    pd.testing.assert_frame_equal(frames[0], frames[1])
    proc = run("-m", "eval.run", "agent=learned", "task=place_single", "episodes=1", "workers=1",
               f"out_dir={tmp_path / 'none'}", check=False)
    assert proc.returncode == 2 and "agents.pointer.train" in proc.stdout + proc.stderr
