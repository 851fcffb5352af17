#!/usr/bin/env python3
"""Harness throughput: oracle episodes per minute with 1 and 2 workers, in one process and one run.

Each configuration runs the same seeded episodes through ``eval.runner.run_all``
(the code ``python -m eval.run`` uses) into a temporary folder; wall time
includes worker start-up (spawned processes import MuJoCo and build the env).
Prints episodes/minute and the 2-worker / 1-worker ratio; absolute numbers
depend on the machine, so read the ratio.

    .venv/bin/python scripts/bench_eval.py --episodes 20 [--render]
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from hydra import compose, initialize_config_dir  # noqa: E402

from eval import schema  # noqa: E402
from eval.runner import run_all  # noqa: E402


def measure(episodes: int, workers: int, render: bool, task: str) -> tuple[float, float]:
    overrides = ["agent=oracle", f"episodes={episodes}", f"workers={workers}", f"task={task}", "out_dir=unused"]
    if render:
        overrides.append("agent.obs_cameras=[primary]")
    with initialize_config_dir(str(REPO / "conf"), version_base=None):
        cfg = compose("config", overrides=overrides)
    schema.validate(cfg)
    with tempfile.TemporaryDirectory() as tmp:
        start = time.perf_counter()
        rows = run_all(cfg, Path(tmp))
        wall = time.perf_counter() - start
    rate = sum(bool(r["success"]) for r in rows.values()) / len(rows)
    return episodes / wall * 60, rate


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--episodes", type=int, default=20)
    p.add_argument("--task", default="place")
    p.add_argument("--render", action="store_true", help="render the primary camera every step, as image agents do")
    args = p.parse_args()
    schema.register()
    print(f"machine: {os.cpu_count()} cpus, MUJOCO_GL={os.environ.get('MUJOCO_GL')}; oracle, task={args.task}, "
          f"{args.episodes} episodes, render={'primary 320x240' if args.render else 'none'}")
    results = {}
    for workers in (1, 2):
        results[workers] = measure(args.episodes, workers, args.render, args.task)
        print(f"workers={workers}: {results[workers][0]:7.1f} episodes/min  (success {results[workers][1]:.0%})")
    print(f"scaling 2 workers / 1 worker: {results[2][0] / results[1][0]:.2f}x")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
