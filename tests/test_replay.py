"""Rerun replays (rerun=true): written per episode by the harness, read back with rerun's own CLI."""

import json
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from harness_util import run_cli

pytest.importorskip("rerun", reason="rerun-sdk is the viz extra (make setup installs it)")
RERUN = Path(sys.executable).parent / "rerun"


def entities(rrd: Path) -> dict[str, set[str]]:
    """entity path -> the archetype:component columns logged on it, from `rerun rrd print`."""
    out = subprocess.run([str(RERUN), "rrd", "print", str(rrd)], capture_output=True, text=True, timeout=120,
                         env={"RERUN_ANALYTICS": "0", "PATH": "/usr/bin:/bin"})
    assert out.returncode == 0, out.stderr[-2000:]
    found: dict[str, set[str]] = {}
    for line in out.stdout.splitlines():
        if " - /" in line and "data columns: [" in line:
            path = line.split(" - ")[1].strip()
            cols = line.split("data columns: [")[1].rstrip("]").split()
            found.setdefault(path, set()).update(c.split("@")[-1] for c in cols)
    return found


def translation(rrd: Path, entity: str) -> np.ndarray:
    """The Transform3D translation logged on ``entity``, read from `rerun rrd print -vvv`'s tables."""
    out = subprocess.run([str(RERUN), "rrd", "print", "-vvv", str(rrd)], capture_output=True, text=True,
                         timeout=120, env={"RERUN_ANALYTICS": "0", "PATH": "/usr/bin:/bin"})
    for chunk in out.stdout.split("Chunk(")[1:]:
        if f" - {entity} - " in chunk.splitlines()[0] and "Transform3D:translation" in chunk:
            row = next(line for line in chunk.splitlines() if "row_" in line)
            return np.array([float(x) for x in re.findall(r"\[\[([^\[\]]*)\]\]", row)[-1].split(",")])
    raise AssertionError(f"no Transform3D translation on {entity} in {rrd}")


def test_a_stale_calibration_replay_holds_both_frusta_the_points_and_the_conditions(tmp_path):
    run_cli("agent=classic", "task=place", "camera=shifted", "camera.calibration=nominal", "episodes=1",
            "workers=1", "max_steps=60", "rerun=true", f"out_dir={tmp_path}", check=None)
    rrd = tmp_path / "episodes" / "episode_0000.rrd"
    assert rrd.exists() and rrd.stat().st_size > 10_000
    e = entities(rrd)
    for cam in ("true", "reported"):  # the camera where it is, and where the agent was told it is
        assert {"Transform3D:translation", "Pinhole:image_from_camera"} <= e[f"/world/cameras/primary/{cam}"]
    moved = translation(rrd, "/world/cameras/primary/true") - translation(rrd, "/world/cameras/primary/reported")
    assert np.linalg.norm(moved) == pytest.approx(0.03, abs=1e-4)  # camera=shifted: 3 cm the agent was not told
    assert "Boxes3D:centers" in e["/world/objects"] and "Cylinders3D:centers" in e["/world/mats"]
    assert "LineStrips3D:strips" in e["/world/robot/ee_path"] and "LineStrips3D:strips" in e["/world/robot/skeleton"]
    assert "EncodedImage:blob" in e["/camera/primary/image"]
    assert "Points2D:positions" in e["/camera/primary/points/look_1"]  # what the agent pointed at
    # the default layout: the image and the points drawn on it share one 2-D view per camera
    assert {"ViewBlueprint:space_origin"} <= set().union(*(c for p, c in e.items() if p.startswith("/view/")))
    assert "Points3D:positions" in e["/world/points/look_1"] and "LineStrips3D:strips" in e["/world/rays/look_1"]
    assert {"/eval/success", "/eval/on_target", "/eval/released"} <= set(e)
    # the move goals it planned, as waypoints from the step it planned them
    assert "LineStrips3D:strips" in e["/world/plan/waypoints"] and "Points3D:positions" in e["/world/plan/goal"]
    # and eval.run kept the reasoner's calls beside it, with the episode's outcome
    trace = json.loads((tmp_path / "episodes" / "episode_0000.json").read_text())
    row = pd.read_csv(tmp_path / "episodes.csv").iloc[0]
    assert trace["seed"] == row["seed"] and trace["success"] == bool(row["success"]) and trace["calls"]
    moves = [c for c in trace["calls"] if c["call"] == "move"]
    assert moves and all({"x", "y", "high"} <= set(c["args"]) for c in moves)  # image points, as asked
    assert {c["status"] for c in trace["calls"]} <= {"ok", "error", "unfinished"}


def test_a_policy_replay_holds_its_decoded_chunks(tmp_path):
    run_cli("agent=xvla", "+agent.backend={_target_:agents.lerobot.testing.ReachPolicy}", "task=pick",
            "episodes=1", "workers=1", "max_steps=12", "rerun=true", f"out_dir={tmp_path}", check=0)
    e = entities(tmp_path / "episodes" / "episode_0000.rrd")
    assert "LineStrips3D:strips" in e["/world/plan/chunk"] and "Points3D:positions" in e["/world/plan/chunk_targets"]


def test_agents_that_do_not_point_still_get_the_scene(tmp_path):
    run_cli("agent=oracle", "task=gather", "episodes=1", "workers=1", "max_steps=20", "rerun=true",
            f"out_dir={tmp_path}", check=None)
    e = entities(tmp_path / "episodes" / "episode_0000.rrd")
    assert "/world/tray" in e and "/world/objects" in e and not any(p.startswith("/world/points") for p in e)
