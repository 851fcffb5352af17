#!/usr/bin/env python3
"""Instructions per control step, ours vs raw MuJoCo, physics only, under valgrind's callgrind.

The wall-clock ratios of ``scripts/bench_env.py`` wander by several percent on a
shared machine; instruction counts do not.  Each variant (the bench's
``ours joint_pos``, ``ours ee_pose`` and ``raw mujoco`` physics steps) runs in
its own process under callgrind, which counts only the timed steps of the main
thread (costs are zeroed at ``mj_versionString()`` and dumped at
``mj_version()``, two calls nothing else makes).  Instructions are not time (Python runs at a lower IPC than
MuJoCo's solver), so read this next to the bench, not instead of it.

    MUJOCO_GL=egl .venv/bin/python scripts/count_env_step.py --steps 50
"""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
import tempfile
from pathlib import Path

VARIANTS = ("raw", "joint_pos", "ee_pose")


def child(variant: str, steps: int) -> None:
    """Runs inside valgrind: warm up, then the counted steps between the two marker calls."""
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    import bench_env
    import mujoco

    env, step = bench_env.make_ours("joint_pos" if variant == "raw" else variant, False, seed=0)
    if variant == "raw":
        _, step = bench_env.make_raw(env, False)
    for _ in range(10):
        step()
    mujoco.mj_versionString()
    for _ in range(steps):
        step()
    mujoco.mj_version()


def count(variant: str, steps: int) -> float:
    """Instructions per step of ``variant``."""
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "cg.out"
        subprocess.run(["valgrind", "--tool=callgrind", f"--callgrind-out-file={out}", "--separate-threads=yes",
                        "--zero-before=mj_versionString", "--dump-before=mj_version",
                        sys.executable, __file__, "--child", variant, "--steps", str(steps)],
                       check=True, capture_output=True)
        dump = Path(tmp) / "cg.out.1-01"  # the dump at mj_version(), main thread only (not GL or pool threads)
        summary = re.search(r"^summary: (\d+)", dump.read_text(), re.M) if dump.is_file() else None
        if summary is None:
            raise SystemExit(f"{variant}: no callgrind dump of the main thread at mj_version() in {tmp}")
        return int(summary.group(1)) / steps


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--steps", type=int, default=50, help="counted control steps per variant")
    p.add_argument("--child", choices=VARIANTS, help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.child:
        child(args.child, args.steps)
        return
    ir = {v: count(v, args.steps) for v in VARIANTS}
    print(f"instructions per control step (physics only, {args.steps} steps; 1 step = 50 substeps):")
    for v in VARIANTS:
        print(f"  {v:<10} {ir[v] / 1e6:8.3f} M   ratio raw/ours {ir['raw'] / ir[v]:.3f}")


if __name__ == "__main__":
    main()
