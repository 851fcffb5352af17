"""Merge runs into a comparison table and plot: ``python -m eval.report DIR``.

Finds every ``episodes.csv`` under DIR (a sweep folder, a folder of runs, or one
run), recomputes success rates with Wilson 95% intervals, and writes into DIR:
``comparison.csv`` (one row per task x camera x magnitude x calibration, one
column block per agent; with ``--calibration-columns`` one row per task x camera
x magnitude and one column block per agent and calibration, ``classic@nominal``)
and ``comparison.png`` (success rate against camera
perturbation, with error bars), then prints the table.
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

import pandas as pd

from envs.errors import BenchError
from eval.store import GROUP_COLUMNS, summarize

log = logging.getLogger("eval.report")
ROW_KEYS = [k for k in GROUP_COLUMNS if k != "agent"]  # one table row per run condition
METRICS = ["success_rate", "ci_low", "ci_high", "n", "errors"]


def load_episodes(root: Path) -> pd.DataFrame:
    files = sorted(Path(root).rglob("episodes.csv"))
    if not files:
        raise BenchError(f"no episodes.csv under {root}; point eval.report at a run or sweep folder")
    df = pd.concat([pd.read_csv(f, keep_default_na=False, na_values=[""]) for f in files], ignore_index=True)
    df["calibration"] = df["calibration"].astype(str).str.lower()
    dup = df.duplicated(["agent", *ROW_KEYS, "base_seed", "episode"])  # runs with other base seeds add episodes
    if dup.any():
        log.warning("%d episodes appear in more than one run; keeping the first", int(dup.sum()))
        df = df[~dup]
    return df


def nominal_first(df: pd.DataFrame, keys: list[str]) -> pd.DataFrame:
    """Sort by ``keys``, putting the nominal camera before every perturbation at the place of ``camera``."""
    i = keys.index("camera")
    return df.assign(_o=df["camera"].ne("nominal")).sort_values([*keys[:i], "_o", *keys[i:]]).drop(columns="_o")


def comparison_table(summary: pd.DataFrame, calibration_columns: bool = False) -> pd.DataFrame:
    rows = ROW_KEYS
    if calibration_columns:  # calibration moves from the rows into the column label
        summary = summary.assign(agent=summary["agent"] + "@" + summary["calibration"])
        rows = [k for k in ROW_KEYS if k != "calibration"]
    wide = summary.pivot_table(index=rows, columns="agent", values=METRICS, aggfunc="first")
    wide = wide.swaplevel(0, 1, axis=1)
    agents = sorted(summary["agent"].unique())
    wide = wide.reindex(columns=pd.MultiIndex.from_product([agents, METRICS]))
    wide.columns = [f"{a}:{m}" for a, m in wide.columns]
    return nominal_first(wide.reset_index(), rows).reset_index(drop=True)


def plot(summary: pd.DataFrame, path: Path) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    s = summary.copy()
    s["view"] = s.apply(lambda r: r.camera if r.camera == "nominal" else f"{r.camera} {r.magnitude:g}", axis=1)
    views = list(dict.fromkeys(nominal_first(s, ["camera", "magnitude"])["view"]))
    tasks = sorted(s["task"].unique())
    fig, axes = plt.subplots(1, len(tasks), figsize=(max(5, 1.1 * len(views) + 2) * len(tasks), 4), squeeze=False)
    series = sorted(s.groupby(["agent", "calibration"]).groups)
    for ax, task in zip(axes[0], tasks):
        for k, (agent, cal) in enumerate(series):
            g = s[(s.task == task) & (s.agent == agent) & (s.calibration == cal)]
            x = [views.index(v) + 0.08 * (k - (len(series) - 1) / 2) for v in g["view"]]
            err = [g["success_rate"] - g["ci_low"], g["ci_high"] - g["success_rate"]]
            ax.errorbar(x, g["success_rate"], yerr=err, fmt="o", capsize=3, label=f"{agent} (calib {cal})")
        ax.set_xticks(range(len(views)), views, rotation=30, ha="right")
        ax.set_ylim(-0.05, 1.05)
        ax.set_title(f"task: {task}")
        ax.set_ylabel("success rate (Wilson 95%)")
        ax.grid(alpha=0.3)
    axes[0][-1].legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1))  # beside the plot, off the data
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path


def report(root: Path, calibration_columns: bool = False) -> pd.DataFrame:
    summary = summarize(load_episodes(root))
    table = comparison_table(summary, calibration_columns)
    table.to_csv(root / "comparison.csv", index=False)
    plot(summary, root / "comparison.png")
    return table


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("dir", type=Path, help="a run folder, a sweep folder, or a folder of either")
    p.add_argument("--calibration-columns", action="store_true",
                   help="one column block per agent and calibration (classic@true, classic@nominal) "
                        "instead of calibration as a row key")
    args = p.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s", stream=sys.stdout)
    try:
        table = report(args.dir, args.calibration_columns)
    except BenchError as e:
        log.error("%s", e)
        return 2
    with pd.option_context("display.width", 200, "display.max_columns", 50, "display.precision", 3):
        log.info("%s", table.to_string(index=False))
    log.info("wrote %s and %s", args.dir / "comparison.csv", args.dir / "comparison.png")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
