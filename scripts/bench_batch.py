#!/usr/bin/env python3
"""Batched policy queries: per-episode inference time at batch_episodes = 1, 4, 8, as ratios to K = 1.

Runs in the LeRobot environment (``make xvla-env``), offline: a tiny random X-VLA
(``agents.xvla.tiny``) and an ACT of the published ``e2e-vs-tools`` size
(``agents.lerobot.tiny``, 15.6 M parameters, 96x128 images), both saved and loaded
through LeRobot's own path and run in-process by ``agent=xvla`` / ``agent=lerobot``.
Each K runs the same seeded episodes through ``eval.runner.run_locked`` (the code
``python -m eval.run batch_episodes=K`` uses) in one worker.  Per-episode inference
time is the policy's share of each batched query (the ``inference_s`` column),
summed over the episode; wall time per episode includes the simulation and
rendering, which batching does not change.  Absolute numbers depend on the machine
(and on what else runs on it): read the ratios.  On a GPU machine pass
``--device cuda`` for the GPU figure.

    .venv-xvla/bin/python scripts/bench_batch.py [--episodes 16] [--steps 40] [--device cpu] [--only act]
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("MUJOCO_GL", "egl")
REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from hydra import compose, initialize_config_dir  # noqa: E402

from eval import schema  # noqa: E402
from eval.runner import run_locked, run_settings  # noqa: E402
from eval.store import EpisodeStore  # noqa: E402

BATCHES = (1, 4, 8)


def checkpoints(root: Path, only: str | None) -> dict[str, list[str]]:
    """Policy name -> the harness overrides that run it."""
    out = {}
    if only in (None, "xvla"):
        from agents.xvla import tiny
        ckpt = tiny.build_tiny_checkpoint(root / "xvla", (64, 64), state_dim=20, seed=0)
        out["tiny X-VLA"] = ["agent=xvla", f"agent.checkpoint={ckpt}", "task=pick"]
    if only in (None, "act"):
        from agents.lerobot.tiny import build_act_checkpoint
        ckpt = build_act_checkpoint(root / "act", (96, 128))
        out["ACT (e2e-vs-tools size)"] = ["agent=lerobot", f"agent.checkpoint={ckpt}", "task=place_single"]
    return out


def measure(overrides: list[str], k: int, episodes: int, steps: int, device: str) -> tuple[float, float, float]:
    """(inference s per episode, wall s per episode, success rate) of one run at batch_episodes=k."""
    with tempfile.TemporaryDirectory() as tmp, initialize_config_dir(str(REPO / "conf"), version_base=None):
        cfg = compose("config", overrides=[*overrides, f"agent.device={device}", f"episodes={episodes}",
                                           f"max_steps={steps}", "workers=1", f"batch_episodes={k}",
                                           f"out_dir={tmp}"])
        schema.validate(cfg)
        store = EpisodeStore(Path(tmp))
        start = time.perf_counter()
        with store.lock():
            rows = run_locked(run_settings(cfg), Path(tmp), store)
        wall = time.perf_counter() - start
    bad = [r for r in rows.values() if r["status"] != "ok"]
    if bad:
        raise SystemExit(f"batch_episodes={k}: {len(bad)} episodes failed: {bad[0]['error']}")
    inference = sum(float(r["inference_s"]) for r in rows.values())
    return inference / episodes, wall / episodes, sum(bool(r["success"]) for r in rows.values()) / episodes


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--episodes", type=int, default=16, help="episodes per K (a multiple of 8 keeps groups full)")
    p.add_argument("--steps", type=int, default=40, help="control steps per episode")
    p.add_argument("--device", default="cpu")
    p.add_argument("--only", choices=["xvla", "act"], default=None)
    args = p.parse_args()
    schema.register()
    import torch
    print(f"machine: {os.cpu_count()} cpus, torch {torch.__version__} threads {torch.get_num_threads()}, "
          f"device {args.device}; {args.episodes} episodes of {args.steps} steps per K", flush=True)
    with tempfile.TemporaryDirectory() as root:
        for name, overrides in checkpoints(Path(root), args.only).items():
            base = None
            for k in BATCHES:
                inf, wall, rate = measure(overrides, k, args.episodes, args.steps, args.device)
                base = base or (inf, wall)
                print(f"{name:24s} K={k}: inference {inf * 1000:8.1f} ms/episode ({base[0] / inf:5.2f}x less than "
                      f"K=1), wall {wall:6.2f} s/episode ({base[1] / wall:4.2f}x), success {rate:.0%}", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
