#!/usr/bin/env bash
# Regenerates results/factor-sweep/: task place, 50 seeded episodes per cell, every perturbation axis of
# envs.factors at 4 levels (nominal included), for the oracle, the classic tool agent (true calibration)
# and the classic tool agent open loop (agent.settings.max_attempts=1: plan once, never look again).
# The lighting axes run with scene=shadows (shadows on where light direction matters), with their own
# nominal cell; every other axis on the default lean scene.
#
#   bash scripts/factor_sweep.sh                     # everything, JOBS runs side by side
#   AGENTS=oracle bash scripts/factor_sweep.sh       # one agent
#   STAGES=report bash scripts/factor_sweep.sh       # only merge and publish
#
# Every run resumes (same out_dir: only missing episodes run), so an interrupted sweep continues.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/sweep_cells.sh

PY=${PY:-.venv/bin/python}
STAGES=${STAGES:-"run report"}
AGENTS=${AGENTS:-"oracle classic classic_open_loop"}
EPISODES=${EPISODES:-50}
JOBS=${JOBS:-$(nproc)}                      # eval.run processes side by side, one core each
RUNS=${RUNS:-results/runs/factor-sweep}
PUBLISH=${PUBLISH:-results/factor-sweep}
export MUJOCO_GL=${MUJOCO_GL:-egl}

# axis levels beyond nominal (the nominal level is the shared nominal cell); the last is the axis's
# documented maximum (envs.factors.AXES)
SHADOW_AXES=(
    "light_intensity=0.6 0.35 0.2"
    "light_direction_deg=20 40 60"
    "light_temperature_k=4500 3000 2000"
)
AXES=(
    "table_contrast=0.3 0.6 1"
    "object_hue_deg=4 8 12"
    "object_saturation=0.2 0.35 0.5"
    "object_value=0.2 0.35 0.5"
    "clutter=1 2 4"
    "pixel_noise_sigma=10 20 40"
    "blur_px=1 2 4"
    "jpeg_quality=50 25 10"
    "robot_init_rad=0.1 0.2 0.3"
    "language=heldout synonyms verbose"
    "disturbance_cm=2 4 8"
    "calibration_error_mm=5 10 20"
    "calibration_error_deg=1 2 3"
)

agent_args() {  # $1: agent label -> eval.run overrides
    case "$1" in
        oracle) echo "agent=oracle" ;;
        classic) echo "agent=classic" ;;
        classic_open_loop) echo "agent=classic agent.name=classic_open_loop agent.settings.max_attempts=1" ;;
        *) echo "unknown agent $1 (oracle, classic, classic_open_loop)" >&2; exit 2 ;;
    esac
}

commands() {  # one eval.run command (one cell of 50 episodes) per line: agent x (nominal cells, axis levels)
    local a args ax level
    for a in $AGENTS; do
        args="$(agent_args "$a") task=place episodes=$EPISODES workers=1 seed=0"
        echo "$PY -m eval.run $args out_dir=$RUNS/$a/nominal"
        echo "$PY -m eval.run $args scene=shadows out_dir=$RUNS/$a/nominal_shadows"
        for ax in "${SHADOW_AXES[@]}"; do
            for level in ${ax#*=}; do
                echo "$PY -m eval.run $args scene=shadows factors.${ax%%=*}=$level out_dir=$RUNS/$a/${ax%%=*}_$level"
            done
        done
        for ax in "${AXES[@]}"; do
            for level in ${ax#*=}; do
                echo "$PY -m eval.run $args factors.${ax%%=*}=$level out_dir=$RUNS/$a/${ax%%=*}_$level"
            done
        done
    done
}

if [[ " $STAGES " == *" list "* ]]; then cells; fi
if [[ " $STAGES " == *" run "* ]]; then run_cells factor-sweep; fi

if [[ " $STAGES " == *" report "* ]]; then
    "$PY" -m eval.report "$RUNS"
    mkdir -p "$PUBLISH"
    cp "$RUNS"/comparison.csv "$RUNS"/comparison.png "$RUNS"/breaking_points.csv "$RUNS"/paired.csv "$PUBLISH"/
    cp "$RUNS"/axis_*.png "$PUBLISH"/ 2>/dev/null || true
    "$PY" scripts/factor_table.py "$PUBLISH"/breaking_points.csv "$PUBLISH"/table.md > /dev/null  # the README's table
    echo "published into $PUBLISH"
fi
