#!/usr/bin/env python3
"""Harness throughput: oracle episodes per minute with 1 and 2 workers, in one process and one run.

Each configuration runs the same seeded episodes through ``eval.runner.run_locked``
(the code ``python -m eval.run`` uses) into a temporary folder; wall time
includes worker start-up (spawned processes import MuJoCo and build the env).
Prints episodes/minute and the 2-worker / 1-worker ratio for each repeat, then
their ranges; absolute numbers depend on the machine (and on what else runs on
it: repeat), so read the ratio.  ``--startup`` also times one worker's start-up
alone (spawn, imports, env and agent built, first episode minus its own time).

    .venv/bin/python scripts/bench_eval.py --episodes 20 [--render] [--repeat 3] [--startup]
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
from omegaconf import DictConfig  # noqa: E402

from eval import schema  # noqa: E402
from eval.runner import pending_specs, run_locked, run_settings  # noqa: E402
from eval.store import EpisodeStore  # noqa: E402


def config(episodes: int, workers: int, render: bool, task: str) -> DictConfig:
    overrides = ["agent=oracle", f"episodes={episodes}", f"workers={workers}", f"task={task}", "out_dir=unused"]
    if render:
        overrides.append("agent.obs_cameras=[primary]")
    with initialize_config_dir(str(REPO / "conf"), version_base=None):
        cfg = compose("config", overrides=overrides)
    schema.validate(cfg)
    return cfg


def measure(cfg: DictConfig) -> tuple[float, float]:
    with tempfile.TemporaryDirectory() as tmp:
        start = time.perf_counter()
        store = EpisodeStore(Path(tmp))
        with store.lock():
            rows = run_locked(run_settings(cfg), Path(tmp), store)
        wall = time.perf_counter() - start
    rate = sum(bool(r["success"]) for r in rows.values()) / len(rows)
    return cfg.episodes / wall * 60, rate


def startup(cfg: DictConfig) -> float:
    """Seconds from starting one worker to its first result, less that episode's own wall time."""
    from eval.pool import WorkerPool
    from eval.runner import _init_worker, _run_group, groups

    settings = run_settings(cfg)
    with tempfile.TemporaryDirectory() as tmp:
        start = time.perf_counter()
        with WorkerPool(_init_worker, (settings, tmp, True), _run_group, 1) as pool:
            (row,) = next(pool.imap(groups(pending_specs(settings, [])[:1], 1), None,
                                    on_lost=lambda lost: [{"wall_s": 0.0}]))
        return time.perf_counter() - start - row["wall_s"]


def span(values: list[float], fmt: str) -> str:
    return f"{min(values):{fmt}}-{max(values):{fmt}}" if len(values) > 1 else f"{values[0]:{fmt}}"


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--episodes", type=int, default=20)
    p.add_argument("--task", default="place")
    p.add_argument("--render", action="store_true", help="render the primary camera every step, as image agents do")
    p.add_argument("--repeat", type=int, default=1, help="measure each configuration this many times")
    p.add_argument("--startup", action="store_true", help="also time one worker's start-up alone")
    args = p.parse_args()
    schema.register()
    print(f"machine: {os.cpu_count()} cpus, MUJOCO_GL={os.environ.get('MUJOCO_GL')}; oracle, task={args.task}, "
          f"{args.episodes} episodes, render={'primary 320x240' if args.render else 'none'}", flush=True)
    rates: dict[int, list[float]] = {1: [], 2: []}
    ratios, starts = [], []
    for rep in range(args.repeat):
        for workers in (1, 2):
            per_min, success = measure(config(args.episodes, workers, args.render, args.task))
            rates[workers].append(per_min)
            print(f"[{rep + 1}] workers={workers}: {per_min:7.1f} episodes/min  (success {success:.0%})", flush=True)
        ratios.append(rates[2][-1] / rates[1][-1])
        print(f"[{rep + 1}] scaling 2 workers / 1 worker: {ratios[-1]:.2f}x", flush=True)
        if args.startup:
            starts.append(startup(config(1, 1, args.render, args.task)))
            print(f"[{rep + 1}] worker start-up: {starts[-1]:.2f} s", flush=True)
    print(f"range over {args.repeat}: workers=1 {span(rates[1], '.1f')}, workers=2 {span(rates[2], '.1f')} "
          f"episodes/min; scaling {span(ratios, '.2f')}x" + (f"; start-up {span(starts, '.2f')} s" if starts else ""))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
