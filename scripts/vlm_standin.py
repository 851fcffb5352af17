"""Regenerates results/vlm-standin/: ``agent=vlm`` through ``eval.run`` with every pointing convention and both
plan modes, against the OpenAI-compatible stand-in server of the tests (``tests/fake_openai.py``).

No open VLM's weights can be downloaded on the machine this bench is built on, so this measures the
plumbing, not a model: the stand-in answers as each model family would (its pointing convention, for the
image size it was sent; tool calls or a JSON plan), with points found by colour segmentation.  A convention
read wrongly moves every grasp: one control cell reads Qwen2.5-VL's answers as Qwen3-VL's, and the success
rate shows it.

    .venv/bin/python scripts/vlm_standin.py                 # every cell, then the report
    .venv/bin/python scripts/vlm_standin.py --episodes 2    # a quick look (other runs folder)

Every cell resumes (same out_dir, same stand-in port: only missing episodes run).
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

from fake_openai import MODELS, FakeOpenAI  # noqa: E402  (the tests' stand-in server)

PORT = 18731  # fixed, so the endpoint (part of a run's settings) is the same when a cell resumes
PLAN_MODES = ("tools", "json")
# the control: Qwen2.5-VL's absolute pixels read as Qwen3-VL's 0-1000, the mistake the conventions module exists
# to prevent. A cell: (model served, point_format read, plan_mode, agent.name, folder)
CONTROLS = [("Qwen/Qwen2.5-VL-7B-Instruct", "qwen3", "tools", "vlm-misread:Qwen/Qwen2.5-VL-7B-Instruct",
             "misread/qwen2.5-as-qwen3")]


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--episodes", type=int, default=10)
    p.add_argument("--task", default="place")
    p.add_argument("--runs", type=Path, default=None, help="default: results/runs/vlm-standin[-<episodes>]")
    p.add_argument("--publish", type=Path, default=ROOT / "results" / "vlm-standin")
    args = p.parse_args(argv)
    runs = args.runs or ROOT / "results" / "runs" / ("vlm-standin" if args.episodes == 10
                                                     else f"vlm-standin-{args.episodes}")
    start = time.perf_counter()
    cells = [(model, fmt, mode, f"vlm:{model}" if mode == "tools" else f"vlm-json:{model}", f"{fmt}/{mode}")
             for model, fmt in MODELS.items() for mode in PLAN_MODES] + CONTROLS
    with FakeOpenAI(port=PORT) as fake:
        for model, fmt, mode, name, folder in cells:
            cmd = [sys.executable, "-m", "eval.run", "agent=vlm", f"agent.name={name}",
                   f"agent.reasoner.base_url={fake.base_url}", f"agent.reasoner.model={model}",
                   f"agent.reasoner.point_format={fmt}", f"agent.reasoner.plan_mode={mode}",
                   "agent.reasoner.cache_dir=null", f"task={args.task}", f"episodes={args.episodes}",
                   "seed=0", f"out_dir={runs / folder}"]
            t = time.perf_counter()
            rc = subprocess.run(cmd, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL).returncode
            print(f"{folder:26s} {name}: exit {rc}, {time.perf_counter() - t:.0f} s", flush=True)
    print(f"runs took {time.perf_counter() - start:.0f} s", flush=True)
    table = convention_table(runs)
    print(table)
    if args.runs is None and args.episodes == 10:
        args.publish.mkdir(parents=True, exist_ok=True)
        (args.publish / "table.md").write_text(table)
        control = "vlm:Qwen/Qwen2.5-VL-7B-Instruct:vlm-misread:Qwen/Qwen2.5-VL-7B-Instruct"
        return subprocess.run([sys.executable, "-m", "eval.report", str(runs), "--out", str(args.publish),
                               "--pairs", control], cwd=ROOT).returncode
    return 0


def convention_table(runs: Path) -> str:
    """One row per pointing convention: the model served, successes with tool calls and with a JSON plan."""
    import pandas as pd

    def rate(folder: str) -> str:
        path = runs / folder / "episodes.csv"
        if not path.exists():
            return "-"
        df = pd.read_csv(path)
        return f"{int(df['success'].sum())}/{len(df)}"

    rows = ["| point_format | model served by the stand-in | plan_mode=tools | plan_mode=json |", "|---|---|---|---|"]
    for model, fmt in MODELS.items():
        rows.append(f"| {fmt} | {model} | {rate(f'{fmt}/tools')} | {rate(f'{fmt}/json')} |")
    for model, fmt, _mode, _name, folder in CONTROLS:
        rows.append(f"| control: {MODELS[model]} answers read as {fmt} | {model} | {rate(folder)} | - |")
    return "\n".join(rows) + "\n"


if __name__ == "__main__":
    raise SystemExit(main())
