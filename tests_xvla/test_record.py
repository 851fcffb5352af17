"""Oracle demonstrations written with LeRobot's own writer and read back with LeRobotDataset."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import numpy as np  # noqa: E402
import pytest  # noqa: E402
from lerobot.datasets.lerobot_dataset import LeRobotDataset  # noqa: E402

from eval.episodes import episode_seed  # noqa: E402

REPO = Path(__file__).resolve().parents[1]


def record(out: Path, *overrides: str) -> None:
    proc = subprocess.run([sys.executable, "-m", "eval.record", "task=place", f"out_dir={out}", *overrides],
                          cwd=REPO, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]


def frames(root: Path) -> tuple[np.ndarray, np.ndarray]:
    ds = LeRobotDataset("local/widowx_place", root=root)
    cols = ds.hf_dataset.with_format("numpy")
    return np.stack(cols["observation.state"]), np.stack(cols["action"])


@pytest.fixture(scope="module")
def recorded(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("rec") / "run"
    record(out, "episodes=2", "cameras=[primary,third_person]")
    return out


def test_dataset_loads_back_with_the_documented_layout(recorded):
    ds = LeRobotDataset("local/widowx_place", root=recorded / "dataset")
    assert ds.fps == 10 and ds.num_episodes == 2
    item = ds[0]
    assert tuple(item["observation.images.primary"].shape) == (3, 240, 320)
    assert tuple(item["observation.images.third_person"].shape) == (3, 240, 320)
    assert tuple(item["observation.state"].shape) == (8,) and tuple(item["action"].shape) == (7,)
    assert str(item["observation.state"].dtype) == "torch.float32"
    assert ds.features["action"]["names"] == ["x", "y", "z", "roll", "pitch", "yaw", "gripper"]
    log = [json.loads(line) for line in (recorded / "record_log.jsonl").read_text().splitlines()]
    assert [e["seed"] for e in log] == [episode_seed(0, 0), episode_seed(0, 1)]
    tasks = {ds[int(i)]["task"] for i in (0, ds.num_frames - 1)}
    assert tasks == {e["task"] for e in log}  # the paraphrase of each episode is its task text
    assert ds.num_frames == sum(e["frames"] for e in log)


def test_recording_is_deterministic_and_resumable(recorded, tmp_path):
    record(tmp_path / "a", "episodes=1", "cameras=[primary,third_person]")
    record(tmp_path / "a", "episodes=2", "cameras=[primary,third_person]")  # resumes after episode 0
    state_a, action_a = frames(tmp_path / "a" / "dataset")
    state_b, action_b = frames(recorded / "dataset")
    np.testing.assert_array_equal(state_a, state_b)
    np.testing.assert_array_equal(action_a, action_b)


def test_viewpoint_randomization_moves_the_camera(tmp_path):
    record(tmp_path / "v", "episodes=1", "viewpoint_randomization=true", "use_videos=false")
    ds = LeRobotDataset("local/widowx_place", root=tmp_path / "v" / "dataset")
    record(tmp_path / "n", "episodes=1", "use_videos=false")
    nominal = LeRobotDataset("local/widowx_place", root=tmp_path / "n" / "dataset")
    first, other = ds[0]["observation.images.primary"], nominal[0]["observation.images.primary"]
    assert float((first - other).abs().mean()) > 0.02  # same scene, another viewpoint
