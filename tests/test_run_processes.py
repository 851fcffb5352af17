"""``python -m eval.run`` as a process tree: stopped or killed runs leave no process behind, a native hang
is stopped by the parent, and logs without a terminal carry plain progress lines."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from harness_util import REPO, episodes, run_cli

from eval.episodes import episode_seed

FAULTY = ["agent=oracle", "agent._target_=agents.testing.FaultyOracle"]


def _ppids() -> dict[int, int]:
    out = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:  # gone meanwhile
            continue
        out[int(stat.parent.name)] = int(fields[1])
    return out


def _descendants(pid: int) -> set[int]:
    ppids, found, frontier = _ppids(), set(), {pid}
    while frontier:
        frontier = {p for p, parent in ppids.items() if parent in frontier} - found
        found |= frontier
    return found


def _alive(pid: int) -> bool:
    try:  # a zombie has exited; only its parent's bookkeeping is left
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def _survivors(pids: set[int], within_s: float) -> set[int]:
    deadline = time.monotonic() + within_s
    while (alive := {p for p in pids if _alive(p)}) and time.monotonic() < deadline:
        time.sleep(0.1)
    return alive


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGKILL])
def test_a_stopped_or_killed_parallel_run_leaves_no_process_behind(tmp_path, sig):
    stuck = [episode_seed(0, i) for i in (1, 2)]  # both workers end up blocked in C code
    cmd = [sys.executable, "-m", "eval.run", *FAULTY, f"+agent.native_hang_on_seeds={stuck}", "episodes=6",
           "workers=2", "episode_timeout_s=600", f"out_dir={tmp_path}"]
    proc = subprocess.Popen(cmd, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    log = tmp_path / "episodes.jsonl"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and not (log.exists() and log.read_text().strip()):
        time.sleep(0.05)
    time.sleep(0.5)
    run_tree = _descendants(proc.pid)
    assert len(run_tree) >= 3, "expected two workers and the resource tracker"
    os.kill(proc.pid, sig)
    output = proc.communicate(timeout=30)[0]
    assert not _survivors(run_tree, within_s=5), f"processes of the run survived its {sig.name}"
    if sig == signal.SIGTERM:
        assert proc.returncode == 2
        assert f"stopped by SIGTERM: finished episodes are saved in {tmp_path}" in output
        saved = [json.loads(line) for line in log.read_text().splitlines()]  # the durable record
        assert [(r["episode"], r["status"]) for r in saved] == [(0, "ok")]
        table = episodes(tmp_path)  # episodes.csv is written on the way out, not only at the end of a run
        assert table[["episode", "status"]].values.tolist() == [[0, "ok"]]


@pytest.mark.parametrize("workers", [1, 2])
def test_a_native_hang_becomes_a_timeout_row_and_the_run_goes_on(tmp_path, workers):
    hang = episode_seed(0, 1)
    run_cli(*FAULTY, f"+agent.native_hang_on_seeds=[{hang}]", "episodes=3", f"workers={workers}",
            "episode_timeout_s=5", f"out_dir={tmp_path}", timeout=120, check=1)
    df = episodes(tmp_path)
    assert df["status"].tolist() == ["ok", "timeout", "ok"]
    assert df.loc[[0, 2], "success"].all() and "episode_timeout_s=5" in df.loc[1, "error"]
    ident = ["agent", "task", "camera", "magnitude", "calibration", "scene", "privileged", "settings_id", "base_seed",
             "max_steps", "control_freq"]
    assert len(df[ident].drop_duplicates()) == 1  # the lost episode's row names the same run as its neighbours


def test_without_a_terminal_progress_is_plain_lines(tmp_path):
    cmd = [sys.executable, "-m", "eval.run", "agent=oracle", "episodes=3", "workers=1", f"out_dir={tmp_path}"]
    proc = subprocess.run(cmd, cwd=REPO, capture_output=True, timeout=300)  # bytes: text mode would hide \r
    assert proc.returncode == 0
    output = (proc.stdout + proc.stderr).decode()
    assert "\r" not in output
    assert "oracle place nominal: 3/3 episodes, success 100%" in output and "episodes/min" in output
    assert "oracle place nominal: 1/3 episodes" in output  # the first line comes at once, later ones at intervals


def test_sigterm_stops_a_whole_sweep_not_just_its_current_job(tmp_path):
    stuck = episode_seed(0, 1)  # the same scene seed in both jobs: each would hang at its second episode
    cmd = [sys.executable, "-m", "eval.run", "-m", *FAULTY, f"+agent.native_hang_on_seeds=[{stuck}]",
           "task=pick,place", "episodes=3", "workers=1", "episode_timeout_s=600", f"out_dir={tmp_path}"]
    proc = subprocess.Popen(cmd, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and not any(p.read_text().strip() for p in tmp_path.glob("*/episodes.jsonl")):
        time.sleep(0.05)
    proc.send_signal(signal.SIGTERM)
    output = proc.communicate(timeout=30)[0]
    assert proc.returncode == 2 and "stopped by SIGTERM" in output
    assert [p.parent.name.split(",")[-1] for p in tmp_path.glob("*/episodes.jsonl")] == ["task=pick"]


def test_worker_processes_do_not_import_pandas():
    """Start-up time: a spawned worker re-imports ``eval.run`` (the CLI's main module) and ``eval.runner``."""
    code = "import sys, eval.run, eval.runner; print('pandas' in sys.modules)"
    proc = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, check=True)
    assert proc.stdout.strip() == "False"
