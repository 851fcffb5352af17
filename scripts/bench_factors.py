#!/usr/bin/env python3
"""What each perturbation axis costs: env steps/s at the axis's documented maximum against nominal.

Each variant is ``gym.make("WidowXTabletop-v0", task="place", factors={axis: maximum})`` with the default
observation (the primary camera, 320x240) and the default ``lean`` scene, stepped while holding the arm's
home pose; variants are interleaved over ``--repeats`` rounds and each is timed against that round's
nominal block, so read the ratio (1.00 = as fast as nominal, 0.50 = a sweep over that axis takes twice as
long).  ``--scene shadows`` times the shadows preset instead (its cost against lean is ``make bench``'s
other script's business).  It never fails on speed.

    MUJOCO_GL=egl .venv/bin/python scripts/bench_factors.py --steps 100 --repeats 3
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import gymnasium as gym  # noqa: E402
import numpy as np  # noqa: E402

import envs  # noqa: E402  (registers the env and picks a headless GL backend)
from envs.factors import AXES  # noqa: E402


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--steps", type=int, default=100, help="timed control steps per variant and round")
    p.add_argument("--warmup", type=int, default=5)
    p.add_argument("--repeats", type=int, default=3, help="interleaved rounds; the median ratio is reported")
    p.add_argument("--scene", default="lean", help="visual preset of every variant")
    p.add_argument("--axes", nargs="*", default=None, help="axes to time (default: all)")
    return p.parse_args(argv)


def make(factors: dict, scene: str):
    env = gym.make(envs.ENV_ID, task="place", factors=factors, scene={"visual": scene})
    env.reset(seed=0)
    action = np.concatenate([env.unwrapped.ee_state()[:6], [1.0]]).astype(np.float32)
    return env, lambda: env.step(action)


def seconds_per_step(step, warmup: int, steps: int) -> float:
    for _ in range(warmup):
        step()
    t0 = time.perf_counter()
    for _ in range(steps):
        step()
    return (time.perf_counter() - t0) / steps


def main(argv=None) -> int:
    args = parse_args(argv)
    names = args.axes or list(AXES)
    variants = {"nominal": make({}, args.scene)}
    for name in names:
        variants[f"{name}={AXES[name].maximum}"] = make({name: AXES[name].maximum}, args.scene)
    samples: dict[str, list[float]] = {k: [] for k in variants}
    ratios: dict[str, list[float]] = {k: [] for k in variants}
    try:
        for _ in range(args.repeats):
            nominal = seconds_per_step(variants["nominal"][1], args.warmup, args.steps)
            samples["nominal"].append(nominal)
            ratios["nominal"].append(1.0)
            for key, (_, step) in list(variants.items())[1:]:
                sec = seconds_per_step(step, args.warmup, args.steps)
                samples[key].append(sec)
                ratios[key].append(nominal / sec)
    finally:
        for env, _ in variants.values():
            env.close()
    print(f"scene={args.scene} steps={args.steps} repeats={args.repeats}; ratio = nominal s/step over the "
          "variant's, per round (1.00 = as fast as nominal): median [min-max]")
    print(f"{'variant':<32} {'steps/s':>8} {'ratio':>6}  range")
    for key in variants:
        r = ratios[key]
        print(f"{key:<32} {1 / statistics.median(samples[key]):>8.1f} {statistics.median(r):>6.2f}  "
              f"[{min(r):.2f}-{max(r):.2f}]")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
