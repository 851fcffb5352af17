"""Merge runs into comparison tables and plots: ``python -m eval.report DIR``.

Finds every ``episodes.csv`` under DIR (a sweep folder, a folder of runs, or one
run), recomputes success rates with Wilson 95% intervals, and writes into DIR:
``comparison.csv`` (one row per task x camera x magnitude x calibration x scene x
factors, one column block per agent; with ``--calibration-columns`` calibration
moves into the column label, ``classic@nominal``), ``comparison.png`` (success
rate per condition, with error bars), and, per perturbation axis
(:mod:`eval.axes`): ``axis_<name>.png`` (success against the axis's level),
``breaking_points.csv`` (the level where success falls to 50%, logistic fit with
a bootstrap interval) and ``paired.csv`` (every two agents on the same episodes:
difference in success with Newcombe's paired interval, exact McNemar p).  The
statistics come from statsmodels (:mod:`eval.stats`).  ``tables.md`` holds all
three as Markdown tables for a README (:mod:`eval.tables`; ``--pairs a:b,...``
keeps chosen pairs there).  Then prints the table.
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

import pandas as pd
import yaml

from envs.errors import BenchError
from eval.store import GROUP_COLUMNS, outcome_settings, settings_id, summarize
from eval.tables import condition, parse_pairs, tables_markdown

log = logging.getLogger("eval.report")
ROW_KEYS = [k for k in GROUP_COLUMNS if k not in ("agent", "privileged")]  # one table row per run condition
METRICS = ["success_rate", "ci_low", "ci_high", "n", "errors", "privileged"]  # one column block per agent


def load_episodes(root: Path) -> pd.DataFrame:
    """Every run's episodes under ``root``. Runs of one cell merge only if their settings match."""
    files = sorted(Path(root).rglob("episodes.csv"))
    if not files:
        raise BenchError(f"no episodes.csv under {root}; point eval.report at a run or sweep folder")
    df = pd.concat([_read_run(f) for f in files], ignore_index=True)
    df["calibration"] = df["calibration"].astype(str).str.lower()
    check_one_setting_per_cell(df)
    dup = df.duplicated([*GROUP_COLUMNS, "base_seed", "episode"])  # runs with other base seeds add episodes
    if dup.any():
        log.warning("%d episodes appear in more than one run; keeping the first", int(dup.sum()))
        df = df[~dup]
    return df.drop(columns="run_dir")


def _read_run(path: Path) -> pd.DataFrame:
    df = pd.read_csv(path, keep_default_na=False, na_values=[""], dtype={"settings_id": str})  # "0123e45..."
    if "privileged" not in df:
        df["privileged"] = None  # older runs did not record it: unknown
    if "factors" not in df:
        df["factors"] = "nominal"  # runs from before perturbation factors had none
    if "settings_id" not in df or df["settings_id"].isna().any():  # older runs: from the folder's config
        config = _config(path.parent)
        sid = settings_id(config) if config is not None else f"unknown ({path.parent})"
        df["settings_id"] = df["settings_id"].fillna(sid) if "settings_id" in df else sid
    df["run_dir"] = str(path.parent)
    return df


def _config(run_dir: Path) -> dict | None:
    path = run_dir / "config.yaml"
    if not path.exists():
        return None
    try:
        config = yaml.safe_load(path.read_text())
    except yaml.YAMLError as e:
        raise BenchError(f"{path} is not valid YAML ({e}); repair or delete that run folder") from e
    return config if isinstance(config, dict) else None


def check_one_setting_per_cell(df: pd.DataFrame) -> None:
    """Refuse to merge runs of one cell made with different settings (a 5-step smoke run with the real one)."""
    clashes = []
    for key, g in df.groupby(GROUP_COLUMNS, dropna=False, sort=True):
        runs = g.groupby("settings_id", sort=True)["run_dir"].unique()
        if len(runs) < 2:
            continue
        cell = ", ".join(f"{c}={v}" for c, v in zip(GROUP_COLUMNS, key))
        listing = "; ".join(f"settings {sid}: {', '.join(dirs)}" for sid, dirs in runs.items())
        clashes.append(f"[{cell}] {listing}; {_differences([dirs[0] for dirs in runs])}")
    if clashes:
        raise BenchError("runs of the same cell were made with different settings, so their episodes cannot be "
                         "pooled:\n  " + "\n  ".join(clashes) + "\nReport them separately (python -m eval.report "
                         "<one run folder>) or delete the runs you do not want")


def _differences(run_dirs: list[str]) -> str:
    configs = [_config(Path(d)) for d in run_dirs]
    flat = [outcome_settings(c) for c in configs if c is not None]
    if len(flat) < len(configs):
        return "a run has no config.yaml to compare"
    keys = sorted({k for f in flat for k in f if len({repr(g.get(k)) for g in flat}) > 1})
    return "they differ in " + ", ".join(f"{k} ({' vs '.join(str(g.get(k)) for g in flat)})" for k in keys)


def nominal_first(df: pd.DataFrame, keys: list[str]) -> pd.DataFrame:
    """Sort by ``keys``, putting the nominal camera before every perturbation at the place of ``camera``."""
    i = keys.index("camera")
    return df.assign(_o=df["camera"].ne("nominal")).sort_values([*keys[:i], "_o", *keys[i:]]).drop(columns="_o")


def comparison_table(summary: pd.DataFrame, calibration_columns: bool = False) -> pd.DataFrame:
    rows = ROW_KEYS
    if calibration_columns:  # calibration moves from the rows into the column label
        summary = summary.assign(agent=summary["agent"] + "@" + summary["calibration"])
        rows = [k for k in ROW_KEYS if k != "calibration"]
    mixed = summary[summary.duplicated([*rows, "agent"], keep=False)]
    if not mixed.empty:  # one agent name, privileged in one run and not (or not recorded) in another
        seen = sorted({"unknown (an older run)" if pd.isna(v) else str(v) for v in mixed["privileged"]})
        raise BenchError(f"agent {mixed['agent'].iloc[0]!r} has rows with privileged = {' and '.join(seen)} in "
                         "one cell; report those runs separately (or run the older ones again)")
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
    s["view"] = [condition(c, m, f) for c, m, f in zip(s["camera"], s["magnitude"], s["factors"])]
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


# --- perturbation axes: curves, breaking points, paired comparisons ----------------------
CURVE_SPLIT = ["task", "scene", "calibration"]
PAIR_CELL = [k for k in GROUP_COLUMNS if k not in ("agent", "privileged")]


def _ok(df: pd.DataFrame) -> pd.DataFrame:
    return df[df["status"] == "ok"].assign(success=lambda d: d["success"].astype(str).str.lower().isin(
        ["true", "1", "1.0"]))


def breaking_points(episodes: pd.DataFrame) -> pd.DataFrame:
    """One row per task x scene x calibration x axis x agent: where success falls to 50%."""
    from eval import axes, stats

    rows = []
    for (*split, axis), curve in axes.curves(_ok(episodes), CURVE_SPLIT).items():
        for agent, g in curve.groupby("agent", sort=True):
            rates = g.groupby("level", sort=False)["success"].mean()
            order = list(axes.AXES[axis].valid) if axes.categorical(axis) else sorted(rates.index, key=float)
            rates = rates.reindex([v for v in order if v in rates.index])
            base = {**dict(zip(CURVE_SPLIT, split)), "axis": axis, "unit": axes.unit(axis), "agent": agent,
                    "levels": ";".join(str(v) for v in rates.index), "n": len(g),
                    "rates": ";".join(f"{v:.2f}" for v in rates.values)}
            if axes.categorical(axis):
                rows.append({**base, "status": "categorical", "note": "no order: see the rates per level"})
                continue
            bp = stats.breaking_point(g["level"].astype(float), g["success"].astype(float))
            rows.append({**base, "status": bp.status, "breaking_point": bp.value, "ci_low": bp.ci_low,
                         "ci_high": bp.ci_high, "note": bp.note})
    cols = [*CURVE_SPLIT, "axis", "unit", "agent", "levels", "rates", "n", "status", "breaking_point", "ci_low",
            "ci_high", "note"]
    return pd.DataFrame(rows).reindex(columns=cols)


def paired(episodes: pd.DataFrame) -> pd.DataFrame:
    """Every two agents of a cell on the episodes both ran (same base seed and index: the same scene)."""
    from eval import stats

    ok, rows = _ok(episodes), []
    for cell, g in ok.groupby(PAIR_CELL, dropna=False, sort=True):
        agents = sorted(g["agent"].unique())
        for i, a in enumerate(agents):
            for b in agents[i + 1:]:
                m = g[g["agent"] == a].merge(g[g["agent"] == b], on=["base_seed", "episode"], suffixes=("_a", "_b"))
                if m.empty:
                    continue
                t = stats.paired_table(m["success_a"], m["success_b"])
                lo, hi = stats.newcombe_paired(t)
                rows.append({**dict(zip(PAIR_CELL, cell)), "agent_a": a, "agent_b": b, "n_pairs": t.n,
                             "success_a": (t.both + t.only_a) / t.n, "success_b": (t.both + t.only_b) / t.n,
                             "diff": t.diff, "ci_low": lo, "ci_high": hi, "mcnemar_p": stats.mcnemar_exact(t),
                             "both": t.both, "only_a": t.only_a, "only_b": t.only_b, "neither": t.neither})
    return pd.DataFrame(rows)


def plot_axes(summary: pd.DataFrame, root: Path) -> list[Path]:
    """``axis_<name>.png`` per axis: success rate against level, Wilson 95% error bars, one line per agent."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from eval import axes

    by_axis: dict[str, list[tuple[tuple, pd.DataFrame]]] = {}
    for (*split, axis), curve in axes.curves(summary, CURVE_SPLIT).items():
        by_axis.setdefault(axis, []).append((tuple(split), curve))
    paths = []
    for axis, parts in sorted(by_axis.items()):
        fig, ax = plt.subplots(figsize=(6, 4))
        for where, curve in parts:
            for agent, g in curve.groupby("agent", sort=True):
                if axes.categorical(axis):
                    g = g.assign(x=g["level"].map({v: i for i, v in enumerate(axes.AXES[axis].valid)}))
                else:
                    g = g.assign(x=g["level"].astype(float))
                g = g.sort_values("x")
                err = [g["success_rate"] - g["ci_low"], g["ci_high"] - g["success_rate"]]
                label = f"{agent} ({', '.join(str(v) for v in where)})"
                ax.errorbar(g["x"], g["success_rate"], yerr=err, fmt="o-", capsize=3, label=label)
        if axes.categorical(axis):
            levels = axes.AXES[axis].valid
            ax.set_xticks(range(len(levels)), levels)
        ax.set_xlabel(f"{axis} ({axes.unit(axis)})")
        ax.set_ylabel("success rate (Wilson 95%)")
        ax.set_ylim(-0.05, 1.05)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7, loc="best")
        fig.tight_layout()
        path = root / f"axis_{axis.replace(':', '-')}.png"
        fig.savefig(path, dpi=110)
        plt.close(fig)
        paths.append(path)
    return paths


def report(root: Path, calibration_columns: bool = False, pairs: str | list[tuple[str, str]] | None = None,
           out: Path | None = None) -> pd.DataFrame:
    """Tables and plots of every run under ``root``, written into ``out`` (default: ``root`` itself).
    ``pairs``: the pairs of agents tables.md shows, as ``(a, b)`` or as the ``--pairs`` text ``a:b,...``
    (split against the agents of these runs, whose labels may hold colons)."""
    root = Path(root)
    out = root if out is None else Path(out)
    episodes = load_episodes(root)
    if isinstance(pairs, str):
        try:
            pairs = parse_pairs(pairs, episodes["agent"].unique())
        except ValueError as e:
            raise BenchError(str(e)) from e
    out.mkdir(parents=True, exist_ok=True)
    summary = summarize(episodes)
    table = comparison_table(summary, calibration_columns)
    table.to_csv(out / "comparison.csv", index=False)
    plot(summary, out / "comparison.png")
    bp, pr = breaking_points(episodes), paired(episodes)
    bp.to_csv(out / "breaking_points.csv", index=False)
    pr.to_csv(out / "paired.csv", index=False)
    plot_axes(summary, out)
    seeds = ", ".join(str(s) for s in sorted(episodes["base_seed"].dropna().unique())) if "base_seed" in episodes \
        else "unknown"
    (out / "tables.md").write_text(tables_markdown(
        summary, bp, pr, title=f"{out.resolve().name}: base seeds {seeds}", calibration_columns=calibration_columns,
        keep=pairs, episodes=episodes))
    return table


def _pairs_arg(spec: str) -> str:
    try:
        parse_pairs(spec)  # its form now; which colon splits each part once the runs' agents are known
    except ValueError as e:
        raise argparse.ArgumentTypeError(str(e)) from e
    return spec


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("dir", type=Path, help="a run folder, a sweep folder, or a folder of either")
    p.add_argument("--calibration-columns", action="store_true",
                   help="one column block per agent and calibration (classic@true, classic@nominal) "
                        "instead of calibration as a row key")
    p.add_argument("--pairs", type=_pairs_arg, default=None, metavar="A:B[,C:D...]",
                   help="in tables.md, only these pairs of agents (a minus b); paired.csv keeps every pair")
    p.add_argument("--out", type=Path, default=None,
                   help="write the tables and plots into this folder (default: DIR itself)")
    args = p.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s", stream=sys.stdout)
    try:
        table = report(args.dir, args.calibration_columns, args.pairs, args.out)
    except BenchError as e:
        log.error("%s", e)
        return 2
    with pd.option_context("display.width", 200, "display.max_columns", 50, "display.precision", 3):
        log.info("%s", table.to_string(index=False))
    log.info("wrote comparison.csv, comparison.png, breaking_points.csv, paired.csv, axis_*.png and tables.md "
             "into %s",
             args.out or args.dir)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
