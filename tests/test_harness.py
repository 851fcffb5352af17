"""End-to-end runs of ``python -m eval.run`` and ``python -m eval.report`` on the oracle."""

import os
import signal
import subprocess
import sys
import time

import imageio.v3 as iio
import pandas as pd
import pytest
from harness_util import REPO, episodes, run_cli, without_timing
from omegaconf import OmegaConf

from eval.episodes import episode_seed

FAULTY = "agent._target_=agents.testing.FaultyOracle"
ORACLE = "agent=oracle"


def test_run_writes_episodes_summary_and_config(tmp_path):
    out = tmp_path / "run"
    run_cli("agent=oracle", "task=place", "camera=nominal", "episodes=3", "workers=1", f"out_dir={out}", check=0)
    df = episodes(out)
    assert list(df.columns[:18]) == ["agent", "task", "camera", "magnitude", "calibration", "scene", "factors",
                                     "privileged",
                                     "settings_id", "base_seed", "episode", "seed", "instruction", "success", "steps",
                                     "wall_s", "status", "error"]
    assert df["privileged"].all() and df["settings_id"].nunique() == 1 and (df["max_steps"] == 200).all()
    assert {"on_target", "released", "is_grasped"} <= set(df.columns)
    assert df["episode"].tolist() == [0, 1, 2] and (df["status"] == "ok").all()
    assert df["seed"].tolist() == [episode_seed(0, i) for i in range(3)]
    assert df["success"].all() and (df["instruction"].str.contains("block|cube")).all()
    s = pd.read_csv(out / "summary.csv")
    assert s.loc[0, ["n", "successes", "errors"]].tolist() == [3, 3, 0]
    assert s.loc[0, "ci_low"] == pytest.approx(0.4385, abs=1e-3) and s.loc[0, "success_rate"] == 1.0
    cfg = OmegaConf.load(out / "config.yaml")
    assert cfg.agent.name == "oracle" and cfg.episodes == 3 and cfg.out_dir == str(out)


def test_parallel_run_equals_serial_run(tmp_path):
    args = ["task=stack", "episodes=4", "seed=7"]
    run_cli(ORACLE, *args, "workers=1", f"out_dir={tmp_path / 'serial'}", check=0)
    run_cli(ORACLE, *args, "workers=2", f"out_dir={tmp_path / 'parallel'}", check=0)
    pd.testing.assert_frame_equal(without_timing(episodes(tmp_path / "serial")),
                                  without_timing(episodes(tmp_path / "parallel")))


def test_killed_run_resumes_to_the_same_rows(tmp_path):
    args = ["task=pick", "episodes=8", "workers=1", "agent.obs_cameras=[primary,third_person]"]
    run_cli(ORACLE, *args, f"out_dir={tmp_path / 'whole'}", check=0)
    part = tmp_path / "part"
    cmd = [sys.executable, "-m", "eval.run", ORACLE, *args, f"out_dir={part}"]
    proc = subprocess.Popen(cmd, cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    log = part / "episodes.jsonl"
    deadline = time.time() + 120
    while time.time() < deadline and not (log.exists() and len(log.read_text().splitlines()) >= 4):
        time.sleep(0.01)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    done_before = len(log.read_text().splitlines())
    assert 4 <= done_before < 8, "the run was not interrupted midway"
    assert not (part / "episodes.csv").exists()  # the table is written at the end; the log is the durable record
    first_rows = pd.read_json(log, lines=True)
    run_cli(ORACLE, *args, f"out_dir={part}", check=0)
    resumed = episodes(part)
    pd.testing.assert_frame_equal(without_timing(resumed), without_timing(episodes(tmp_path / "whole")))
    kept = resumed.set_index("episode").loc[first_rows["episode"], "wall_s"]
    assert kept.tolist() == pytest.approx(first_rows["wall_s"].tolist())  # finished episodes were not re-run


def test_resume_refuses_a_folder_of_another_run(tmp_path):
    run_cli(ORACLE, "episodes=1", "workers=1", f"out_dir={tmp_path}", check=0)
    proc = run_cli(ORACLE, "episodes=1", "workers=1", "task=pick", f"out_dir={tmp_path}", check=2)
    assert "different 'task'" in proc.stdout + proc.stderr


def test_an_agent_error_becomes_one_error_row(tmp_path):
    bad = episode_seed(0, 2)
    run_cli(ORACLE, FAULTY, f"+agent.fail_on_seeds=[{bad}]", "episodes=4", "workers=2", f"out_dir={tmp_path}",
                   check=1)
    df = episodes(tmp_path)
    assert df["status"].tolist() == ["ok", "ok", "error", "ok"]
    assert "injected failure" in df.loc[2, "error"] and df.loc[2, "success"] == False  # noqa: E712
    assert df.loc[[0, 1, 3], "success"].all() and (df["act_calls"] > 0).all()
    s = pd.read_csv(tmp_path / "summary.csv")
    assert s.loc[0, ["n", "successes", "errors"]].tolist() == [3, 3, 1]
    assert "Traceback" in (tmp_path / "run.log").read_text()  # from the worker process that ran it


def test_fatal_agent_error_stops_the_run(tmp_path):
    proc = run_cli(ORACLE, FAULTY, f"+agent.fatal_on_seeds=[{episode_seed(0, 1)}]", "episodes=6", "workers=1",
                   f"out_dir={tmp_path}", check=2)
    assert "injected fatal error" in proc.stdout + proc.stderr
    assert len(episodes(tmp_path)) == 1


def test_hanging_episode_times_out(tmp_path):
    run_cli(ORACLE, FAULTY, f"+agent.hang_on_seeds=[{episode_seed(0, 1)}]", "episodes=3", "workers=1",
            "episode_timeout_s=2", f"out_dir={tmp_path}", check=1)
    df = episodes(tmp_path)
    assert df["status"].tolist() == ["ok", "timeout", "ok"]
    s = pd.read_csv(tmp_path / "summary.csv")
    assert s.loc[0, ["n", "timeouts", "errors"]].tolist() == [2, 1, 0]


@pytest.mark.parametrize("override, words", [
    ("camera.calibration=stale", ["nominal", "true"]),
    ("camera.name=tilted", ["nominal", "shifted", "rotated", "zoomed", "far", "orbit"]),
    ("task=juggle", ["pick", "place", "stack", "sort", "tower", "place_rel"]),
    ("scene.visual=fancy", ["lean", "shadows"]),
    ("episodes=0", ["episodes must be within [1, 1000000]"]),
    ("episodes=100000000000", ["episodes must be within [1, 1000000]"]),
    ("camera=orbit camera.magnitude=nan", ["orbit", "[-90, 90] deg", "nan"]),
    ("camera=far camera.magnitude=nan", ["far", "[0.5, 3]"]),
    ("camera=shifted camera.magnitude=inf", ["shifted", "[-20, 20] cm", "inf"]),
    ("camera=nominal camera.magnitude=5", ["'nominal' takes no magnitude"]),
    ("episode_timeout_s=nan", ["episode_timeout_s must be a finite number"]),
    ("episode_timeout_s=inf", ["episode_timeout_s must be a finite number"]),
    ("scene.control_freq=7", ["control_freq must divide 500 Hz"]),
    ("task=place_single task.num_distractor_blocks=2", ["place_single has no distractors"]),
])
def test_bad_values_fail_at_start_naming_valid_choices(tmp_path, override, words):
    proc = run_cli(ORACLE, *override.split(), f"out_dir={tmp_path}")
    out = proc.stdout + proc.stderr
    assert proc.returncode != 0
    assert all(w in out for w in words), out
    assert "Traceback" not in out
    assert not (tmp_path / "episodes.jsonl").exists() and not (tmp_path / "config.yaml").exists()


@pytest.mark.parametrize("where", ["file", "under_file"])
def test_unusable_out_dir_is_refused_in_one_line(tmp_path, where):
    blocker = tmp_path / "blocker"
    blocker.write_text("not a folder")
    out_dir = blocker if where == "file" else blocker / "run"
    proc = run_cli(ORACLE, "episodes=1", f"out_dir={out_dir}", check=2)
    out = proc.stdout + proc.stderr
    assert "out_dir=" in out and "Traceback" not in out
    assert blocker.read_text() == "not a folder"


def test_stale_calibration_is_recorded(tmp_path):
    run_cli(ORACLE, "camera=shifted", "camera.calibration=nominal", "episodes=1", "workers=1", f"out_dir={tmp_path}",
            check=0)
    row = episodes(tmp_path).iloc[0]
    assert (row["camera"], row["magnitude"], row["calibration"]) == ("shifted", 3.0, "nominal")


def test_multirun_then_report(tmp_path):
    run_cli("-m", ORACLE, "camera=nominal,shifted", "episodes=2", "workers=1", f"out_dir={tmp_path}", check=0)
    assert sorted(p.name for p in tmp_path.iterdir() if p.is_dir()) == ["agent=oracle,camera=nominal",
                                                                       "agent=oracle,camera=shifted"]
    proc = run_cli(tmp_path, module="eval.report", check=0)
    table = pd.read_csv(tmp_path / "comparison.csv")
    assert table[["camera", "oracle:success_rate", "oracle:n"]].values.tolist() == [
        ["nominal", 1.0, 2], ["shifted", 1.0, 2]]
    assert (tmp_path / "comparison.png").stat().st_size > 10_000
    assert "oracle:success_rate" in proc.stdout
    run_cli(tmp_path / "agent=oracle,camera=shifted", module="eval.report", check=0)  # a single run works too
    assert len(pd.read_csv(tmp_path / "agent=oracle,camera=shifted" / "comparison.csv")) == 1


def test_report_on_empty_folder_says_what_to_do(tmp_path):
    proc = run_cli(tmp_path, module="eval.report", check=2)
    assert "no episodes.csv" in proc.stdout + proc.stderr


def test_joblib_launcher_sweep(tmp_path):
    run_cli("-m", ORACLE, "hydra/launcher=joblib", "hydra.launcher.n_jobs=2", "task=pick,stack", "episodes=1",
            "workers=1", f"out_dir={tmp_path}", check=0)
    assert len(list(tmp_path.glob("*/episodes.csv"))) == 2


def test_submitit_slurm_launcher_config_resolves():
    proc = run_cli(ORACLE, "hydra/launcher=submitit_slurm", "hydra.launcher.partition=gpu",
                   "hydra.launcher.timeout_min=120", "--cfg", "hydra", check=0)
    cfg = OmegaConf.create(proc.stdout).hydra.launcher
    assert cfg._target_.endswith("SlurmLauncher") and cfg.partition == "gpu" and cfg.timeout_min == 120


def test_video_has_one_frame_per_step(tmp_path):
    run_cli(ORACLE, "task=pick", "episodes=1", "workers=1", "video=true", f"out_dir={tmp_path}", check=0)
    frames = iio.imread(tmp_path / "videos" / "episode_0000.mp4")
    assert frames.shape[0] == episodes(tmp_path).loc[0, "steps"] + 1
    assert frames.shape[1:] == (240, 640, 3)


def test_sweep_exit_code_is_its_worst_job(tmp_path):
    bad = episode_seed(0, 0)
    proc = run_cli("-m", ORACLE, FAULTY, f"+agent.fail_on_seeds=[{bad}]", "task=pick,place", "episodes=1",
                   "workers=1", f"out_dir={tmp_path}")
    assert proc.returncode == 1 and len(list(tmp_path.glob("*/episodes.csv"))) == 2


def test_report_keeps_runs_with_other_base_seeds(tmp_path):
    run_cli("-m", ORACLE, "seed=0,1", "episodes=2", "workers=1", f"out_dir={tmp_path}", check=0)
    run_cli(tmp_path, module="eval.report", check=0)
    table = pd.read_csv(tmp_path / "comparison.csv")
    assert table["oracle:n"].tolist() == [4]


def test_a_refused_second_run_leaves_the_live_run_untouched(tmp_path):
    hang = episode_seed(0, 1)
    live = subprocess.Popen([sys.executable, "-m", "eval.run", ORACLE, FAULTY, f"+agent.hang_on_seeds=[{hang}]",
                             "episodes=3", "workers=1", f"out_dir={tmp_path}"], cwd=REPO,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.time() + 60
        while time.time() < deadline and not (tmp_path / "episodes.jsonl").exists():
            time.sleep(0.05)
        before = {p: p.read_bytes() for p in [tmp_path / "config.yaml", *(tmp_path / ".hydra").glob("*.yaml")]}
        assert len(before) == 4
        proc = run_cli(ORACLE, "task=pick", "episodes=2", "workers=1", f"out_dir={tmp_path}", check=2)
        assert "another run is writing" in proc.stdout + proc.stderr
        assert {p: p.read_bytes() for p in before} == before
    finally:
        live.kill()
        live.wait()


def test_an_empty_config_is_named_as_the_problem(tmp_path):
    run_cli(ORACLE, "episodes=1", "workers=1", f"out_dir={tmp_path}", check=0)
    (tmp_path / "config.yaml").write_text("")  # as a full disk left it before writes were atomic
    proc = run_cli(ORACLE, "episodes=1", "workers=1", f"out_dir={tmp_path}", check=2)
    out = proc.stdout + proc.stderr
    assert "config.yaml is empty or unreadable" in out and "different 'agent'" not in out
