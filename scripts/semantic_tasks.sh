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

if [[ " $STAGES " == *" list "* ]]; then commands; fi

if [[ " $STAGES " == *" run "* ]]; then
    start=$SECONDS
    commands | xargs -P "$JOBS" -I{} sh -c '{} > /dev/null 2>&1 || echo "failed ($?): {}"'
    echo "semantic-tasks: runs took $((SECONDS - start)) s with JOBS=$JOBS"
fi

if [[ " $STAGES " == *" report "* ]]; then
    "$PY" -m eval.report "$RUNS"
    mkdir -p "$PUBLISH"
    cp "$RUNS"/comparison.csv "$RUNS"/comparison.png "$PUBLISH"/
    cp "$RUNS"/paired.csv "$PUBLISH"/ 2>/dev/null || true
    echo "published into $PUBLISH"
fi
