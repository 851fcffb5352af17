"""The breaking-point table of results/factor-sweep/README.md, from the sweep's ``breaking_points.csv``.

One row per axis: its levels, then per agent the success in % at each level and the 50% point with its 95%
interval (bold), ``not reached`` or ``categorical``.  ``scripts/factor_sweep.sh`` runs it in its report stage
and writes ``table.md`` beside the csv; the README copies that table.

    .venv/bin/python scripts/factor_table.py results/factor-sweep/breaking_points.csv
"""

from __future__ import annotations

import sys
from pathlib import Path

import pandas as pd

AGENTS = ("oracle", "classic", "classic_open_loop")


def _num(x: str) -> str:
    return f"{float(x):g}"


def _fit(x: float) -> str:
    return f"{x:.0f}" if abs(x) >= 1000 else f"{x:.3g}"


def cell(r) -> str:
    rates = "/".join(str(round(100 * float(v))) for v in str(r.rates).split(";"))
    if r.status == "fitted":
        return f"{rates}; **{_fit(r.breaking_point)}** [{_fit(r.ci_low)}, {_fit(r.ci_high)}]"
    return f"{rates}; {r.status}"


def table(bp: pd.DataFrame) -> str:
    rows = ["| axis (unit) | scene | levels | " + " | ".join(AGENTS) + " |", "|---" * (3 + len(AGENTS)) + "|"]
    bp = bp.assign(_lean=bp["scene"] != "lean").sort_values(["_lean", "axis"], kind="stable")
    for (scene, axis), g in bp.groupby(["scene", "axis"], sort=False):
        first = g.iloc[0]
        levels = "/".join(v if not v.replace(".", "", 1).isdigit() else _num(v) for v in str(first.levels).split(";"))
        by_agent = {r.agent: cell(r) for r in g.itertuples()}
        rows.append(f"| {axis} ({first.unit}) | {scene} | {levels} | "
                    + " | ".join(by_agent.get(a, "-") for a in AGENTS) + " |")
    return "\n".join(rows) + "\n"


def main(argv: list[str]) -> int:
    path = Path(argv[0]) if argv else Path("results/factor-sweep/breaking_points.csv")
    text = table(pd.read_csv(path))
    print(text, end="")
    if len(argv) > 1:
        Path(argv[1]).write_text(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
