#!/usr/bin/env python3
"""Benchmark WidowXTabletop-v0 control steps against raw MuJoCo on the same model.

What is measured (one process, one run):
  * ours: ``env.step`` of ``gym.make("WidowXTabletop-v0", task="place", ...)``
    holding a fixed target (the home arm pose, gripper open).  One step is
    ``n_substeps`` (50) physics steps + control (IK too in ``ee_pose`` mode) +
    one 256x256 render of the primary camera + the task's evaluate() + the
    observation/info dicts (gymnasium wrappers included).
  * raw: the SAME compiled model (``env.unwrapped.model``) with a fresh
    ``MjData`` copied from the reset env; each iteration is
    ``mj_step(nstep=n_substeps)`` + ``Renderer.update_scene`` + ``render()``
    with one 256x256 ``mujoco.Renderer`` created once.
  * physics only: the same pair without rendering (ours: ``obs_cameras=()``).

Every variant is warmed up before each timed block and the variants are
interleaved over ``--repeats`` rounds; the median is reported.  Absolute
numbers depend on the machine (CPU, GL backend), so read the ratios: the speed
ratio is raw seconds per step / ours (1.00 = as fast as raw MuJoCo, 0.95 = 5%
slower), computed per round against that round's raw block (the machine's load
drifts less within a round), then the median and the range over rounds; "best"
is the fastest raw block over the fastest ours block, the least disturbed
estimate on a shared machine (other processes only ever add time; use short
blocks and many rounds for it).  ``--clock cpu`` times process CPU seconds
instead of wall seconds.  This is a ratio-based benchmark, not an assertion,
and it never fails on speed.  ``scripts/count_env_step.py`` gives the same
physics-only comparison in instructions (callgrind), which load does not move.

    MUJOCO_GL=egl .venv/bin/python scripts/bench_env.py --steps 200 --repeats 5
    MUJOCO_GL=egl .venv/bin/python scripts/bench_env.py --steps 50 --repeats 30   # busy machine: read "best"
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import platform
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import envs  # noqa: E402  (registers the env and picks a headless GL backend)
import gymnasium as gym  # noqa: E402
import mujoco  # noqa: E402
import numpy as np  # noqa: E402
from envs.cameras import PRIMARY, THIRD_PERSON  # noqa: E402
from envs.robot import HOME_ARM_QPOS  # noqa: E402

SIZE = 256
CAMERAS = (dataclasses.replace(PRIMARY, width=SIZE, height=SIZE), THIRD_PERSON)
CLOCKS = {"wall": time.perf_counter, "cpu": time.process_time}
MODES, TAGS = ("joint_pos", "ee_pose"), ("render", "physics")


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--steps", type=int, default=200, help="timed control steps per variant and repeat")
    p.add_argument("--warmup", type=int, default=10, help="untimed steps before each timed block")
    p.add_argument("--repeats", type=int, default=3, help="interleaved rounds; the median is reported")
    p.add_argument("--seed", type=int, default=0, help="env reset seed")
    p.add_argument("--clock", choices=sorted(CLOCKS), default="wall", help="wall seconds or process CPU seconds")
    return p.parse_args(argv)


def make_ours(control_mode: str, render: bool, seed: int):
    """A reset env and a step function holding a fixed target; returns (env, step)."""
    env = gym.make(envs.ENV_ID, task="place", camera="nominal", cameras=CAMERAS,
                   obs_cameras=("primary",) if render else (), control_mode=control_mode)
    env.reset(seed=seed)
    if control_mode == "joint_pos":
        action = np.concatenate([HOME_ARM_QPOS, [1.0]])
    else:  # the end-effector pose the home arm pose reaches (reset puts the arm there)
        action = np.concatenate([env.unwrapped.ee_state()[:6], [1.0]])
    action = action.astype(np.float32)
    return env, lambda: env.step(action)


def make_raw(src_env: gym.Env, render: bool):
    """Raw MuJoCo on the env's compiled model; returns (renderer or None, step)."""
    u = src_env.unwrapped
    model, data, nstep = u.model, mujoco.MjData(u.model), u.n_substeps
    data.qpos[:], data.qvel[:], data.ctrl[:] = u.data.qpos, u.data.qvel, u.data.ctrl
    mujoco.mj_forward(model, data)
    if not render:
        return None, lambda: mujoco.mj_step(model, data, nstep=nstep)
    renderer = mujoco.Renderer(model, SIZE, SIZE)

    def step():
        mujoco.mj_step(model, data, nstep=nstep)
        renderer.update_scene(data, camera="primary")
        return renderer.render()

    return renderer, step


def time_steps(step, warmup: int, steps: int, clock=time.perf_counter) -> float:
    """Seconds per step over ``steps`` calls after ``warmup`` untimed ones."""
    for _ in range(warmup):
        step()
    t0 = clock()
    for _ in range(steps):
        step()
    return (clock() - t0) / steps


def build_variants(seed: int):
    """Ordered {name: step} and the objects to close afterwards."""
    variants, closers, src = {}, [], None
    for render in (True, False):
        tag = "render" if render else "physics"
        for mode in MODES:
            env, step = make_ours(mode, render, seed)
            variants[f"ours {mode} {tag}"] = step
            closers.append(env)
            src = src or env  # raw runs on the first env's model (all envs build the same one)
        renderer, step = make_raw(src, render)
        variants[f"raw mujoco {tag}"] = step
        if renderer is not None:
            closers.append(renderer)
    return variants, closers


def run(args: argparse.Namespace) -> dict[str, list[float]]:
    """Seconds per step of every variant in every round, variants interleaved per round."""
    variants, closers = build_variants(args.seed)
    samples: dict[str, list[float]] = {name: [] for name in variants}
    try:
        for _ in range(args.repeats):
            for name, step in variants.items():
                samples[name].append(time_steps(step, args.warmup, args.steps, CLOCKS[args.clock]))
    finally:
        for c in closers:
            c.close()
    return samples


def report(args: argparse.Namespace, samples: dict[str, list[float]]) -> None:
    print(f"machine: {platform.platform()} | python {platform.python_version()} | cpus {os.cpu_count()} | "
          f"MUJOCO_GL={os.environ.get('MUJOCO_GL', '(unset)')} | mujoco {mujoco.__version__}")
    print(f"steps={args.steps} warmup={args.warmup} repeats={args.repeats} clock={args.clock} (median); "
          f"1 step = 50 substeps at 500 Hz; render = primary camera {SIZE}x{SIZE}")
    print(f"{'variant':<26} {'steps/s':>9} {'ms/step':>9}")
    for name, s in samples.items():
        sec = statistics.median(s)
        print(f"{name:<26} {1.0 / sec:>9.1f} {1e3 * sec:>9.2f}")
    print("speed ratio raw/ours per round (1.00 = as fast as raw MuJoCo): median [min-max], best; "
          "overhead over raw in ms/step: median")
    for tag in TAGS:
        raw = samples[f"raw mujoco {tag}"]
        for mode in MODES:
            ours = samples[f"ours {mode} {tag}"]
            ratios = [r / o for r, o in zip(raw, ours, strict=True)]
            extra = statistics.median(o - r for r, o in zip(raw, ours, strict=True))
            print(f"  {tag:<8} {mode:<10} {statistics.median(ratios):.3f} [{min(ratios):.3f}-{max(ratios):.3f}]"
                  f"  best {min(raw) / min(ours):.3f}  {1e3 * extra:+.3f}")


def main(argv=None) -> None:
    args = parse_args(argv)
    if min(args.steps, args.repeats) < 1 or args.warmup < 0:
        raise SystemExit("--steps and --repeats must be >= 1, --warmup >= 0")
    report(args, run(args))


if __name__ == "__main__":
    main()
