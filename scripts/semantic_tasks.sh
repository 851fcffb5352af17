#!/usr/bin/env bash
# Regenerates results/semantic-tasks/: the tasks whose instructions need reasoning (issue 13): relational
# placement (place_rel), referring expressions (pick_ref, place_ref) and multi-step tasks (sort, tower,
# gather), for the oracle and the classic tool agent, on the train and the heldout instruction sets,
# 50 seeded episodes per cell (base seed 0: the same 50 scenes for both agents and both sets).
#
#   bash scripts/semantic_tasks.sh                   # everything, JOBS runs side by side, then the report
#   AGENTS=oracle bash scripts/semantic_tasks.sh     # one agent
#   STAGES=report bash scripts/semantic_tasks.sh     # only merge and publish
#
# Every run resumes (same out_dir: only missing episodes run), so an interrupted sweep continues.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/sweep_cells.sh

PY=${PY:-.venv/bin/python}
STAGES=${STAGES:-"run report"}
AGENTS=${AGENTS:-"oracle classic"}
TASKS=${TASKS:-"place_rel pick_ref place_ref sort tower gather"}
LANGUAGES=${LANGUAGES:-"train heldout"}
EPISODES=${EPISODES:-50}
JOBS=${JOBS:-$(nproc)}                      # eval.run processes side by side, one core each
RUNS=${RUNS:-results/runs/semantic-tasks}
PUBLISH=${PUBLISH:-results/semantic-tasks}
export MUJOCO_GL=${MUJOCO_GL:-egl}

commands() {  # one eval.run command (one cell) per line: agent x task x instruction set
    local a t l
    for a in $AGENTS; do
        for t in $TASKS; do
            for l in $LANGUAGES; do
                echo "$PY -m eval.run agent=$a task=$t factors.language=$l episodes=$EPISODES workers=1 seed=0" \
                     "out_dir=$RUNS/$a/${t}_$l"
            done
        done
    done
}

if [[ " $STAGES " == *" list "* ]]; then cells; fi
if [[ " $STAGES " == *" run "* ]]; then run_cells semantic-tasks; fi

if [[ " $STAGES " == *" report "* ]]; then
    "$PY" -m eval.report "$RUNS"
    mkdir -p "$PUBLISH"
    cp "$RUNS"/comparison.csv "$RUNS"/comparison.png "$PUBLISH"/
    cp "$RUNS"/paired.csv "$PUBLISH"/ 2>/dev/null || true
    "$PY" - "$RUNS" "$PUBLISH" <<'PYEOF'
import sys
from pathlib import Path

import pandas as pd

from eval.stats import wilson  # the interval comparison.csv gives

runs, publish = Path(sys.argv[1]), Path(sys.argv[2])
rows = []
for f in sorted(runs.glob("*/*/episodes.csv")):
    d = pd.read_csv(f)
    task, language = f.parent.name.rsplit("_", 1)
    rows.append({"agent": f.parent.parent.name, "task": task, "language": language, "n": len(d),
                 "successes": int(d["success"].sum()),
                 "no_plan": int((d["no_plan"] > 0).sum()) if "no_plan" in d else None})
df = pd.DataFrame(rows)
order = ["place_rel", "pick_ref", "place_ref", "sort", "tower", "gather"]
df["task"] = pd.Categorical(df["task"], [t for t in order if t in set(df["task"])] +
                            sorted(set(df["task"]) - set(order)))
df = df.sort_values(["task", "language"], ascending=[True, False])

lines = ["| task | instructions | oracle | classic | classic: episodes with no plan |", "|---|---|---|---|---|"]
for (task, language), g in df.groupby(["task", "language"], sort=False, observed=True):
    cells = []
    for agent in ("oracle", "classic"):
        r = g[g["agent"] == agent].iloc[0]
        lo, hi = wilson(r["successes"], r["n"])
        cells.append(f"{r['successes']}/{r['n']} [{100 * lo:.0f}, {100 * hi:.0f}]%")
    c = g[g["agent"] == "classic"].iloc[0]
    lines.append(f"| `{task}` | {language} | {cells[0]} | {cells[1]} | {int(c['no_plan'])}/{c['n']} |")
(publish / "table.md").write_text("\n".join(lines) + "\n")
print("\n".join(lines))
PYEOF
    echo "published into $PUBLISH"
fi
