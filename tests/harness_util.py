"""Helpers for running the harness CLI as users do (a subprocess per command), and one agent in-process."""

import subprocess
import sys
from pathlib import Path

import pandas as pd

REPO = Path(__file__).resolve().parents[1]
TIMING_COLUMNS = ["wall_s"]


def run_cli(*args, module="eval.run", timeout=300, check=None):
    proc = subprocess.run([sys.executable, "-m", module, *map(str, args)], cwd=REPO, capture_output=True,
                          text=True, timeout=timeout)
    if check is not None:
        assert proc.returncode == check, f"exit {proc.returncode}\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
    return proc


def episodes(run_dir) -> pd.DataFrame:
    return pd.read_csv(Path(run_dir) / "episodes.csv", keep_default_na=False)


def without_timing(df: pd.DataFrame) -> pd.DataFrame:
    return df.drop(columns=TIMING_COLUMNS).sort_values("episode").reset_index(drop=True)


def run_agent(env, agent, seed):
    """One whole episode of ``agent`` in ``env`` (in-process): (final info, the agent's counters)."""
    agent.prepare()
    obs, info = env.reset(seed=seed)
    agent.reset(obs["instruction"], info["calibration"])
    done = False
    while not done:
        obs, _, terminated, truncated, info = env.step(agent.act(obs))
        done = terminated or truncated
    return info, agent.counters()
