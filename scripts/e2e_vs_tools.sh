#!/usr/bin/env bash
# Regenerates results/e2e-vs-tools/: oracle demonstrations of place_single (at the
# nominal camera, and with viewpoint randomization), a reduced ACT trained on each
# with LeRobot's trainer, then the camera sweep for oracle, classic tool agent (true
# and stale calibration) and both policies, merged by eval.report.
#
#   bash scripts/e2e_vs_tools.sh            # everything (about 1 h 30 min on 2 CPU cores)
#   STAGES="eval report" bash scripts/e2e_vs_tools.sh   # only some stages
#
# Every stage resumes: eval.record and eval.run continue their folders, training
# continues from its last checkpoint, a finished training is skipped.
set -euo pipefail
cd "$(dirname "$0")/.."

PY=${PY:-.venv-xvla/bin/python}            # the LeRobot environment (make xvla-env)
STAGES=${STAGES:-"record train eval report"}
DEMOS=${DEMOS:-200}                         # attempted demonstrations per dataset
STEPS=${STEPS:-10000}                       # training steps per policy
DEVICE=${DEVICE:-cpu}                       # cuda on a GPU machine
EPISODES=${EPISODES:-50}                    # per cell
WORKERS=${WORKERS:-2}
DATA=${DATA:-results/datasets}              # the demonstrations (scripts/modular_vs_e2e.sh records through here)
RUNS=${RUNS:-results/runs/e2e-vs-tools}
PUBLISH=${PUBLISH:-results/e2e-vs-tools}
VARIANTS=(nominal viewpoints)
FINAL=$(printf '%06d' "$STEPS")              # LeRobot's checkpoint folder of the last step
export MUJOCO_GL=${MUJOCO_GL:-egl} HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1

test -x "$PY" || { echo "no $PY: run 'make xvla-env' first (or PY=/path/to/python with lerobot 0.6.1)"; exit 1; }

record() {  # $1: variant (RECORD_SEED: the base seed of the scenes; RECORD_SUFFIX: added to the folder name)
    local extra=()
    [ "$1" = viewpoints ] && extra=(viewpoint_randomization=true)
    "$PY" -m eval.record task=place_single camera=nominal episodes="$DEMOS" use_videos=false \
        'image_size=[96,128]' seed="${RECORD_SEED:-0}" out_dir="$DATA/place_single_$1${RECORD_SUFFIX:-}" "${extra[@]}"
}

train() {  # $1: variant; the reduced ACT of the README, sized for a 2-core CPU
    local out="results/train/act_place_single_$1"
    if [ -d "$out/checkpoints/$FINAL" ]; then echo "$out: step $STEPS done, skipped"; return; fi
    if [ -f "$out/checkpoints/last/pretrained_model/train_config.json" ]; then
        "$PY" -m lerobot.scripts.lerobot_train --resume=true \
            --config_path="$out/checkpoints/last/pretrained_model/train_config.json"
        return
    fi
    "$PY" -m lerobot.scripts.lerobot_train \
        --dataset.repo_id=local/widowx_place_single --dataset.root="$DATA/place_single_$1/dataset" \
        --policy.type=act --policy.device="$DEVICE" --policy.push_to_hub=false \
        --policy.pretrained_backbone_weights=null --policy.dim_model=256 --policy.dim_feedforward=1024 \
        --policy.n_encoder_layers=2 --policy.n_vae_encoder_layers=2 --policy.chunk_size=20 \
        --policy.n_action_steps=20 --policy.optimizer_lr=1e-4 --policy.optimizer_lr_backbone=1e-4 \
        --wandb.enable=false --num_workers=0 --batch_size=8 --steps="$STEPS" --save_freq=2000 --log_freq=250 \
        --output_dir="$out"
}

sweep() {  # agent overrides...: the named perturbations at their defaults, then orbit at three angles
    local common=(task=place_single episodes="$EPISODES" workers="$WORKERS" out_dir="$RUNS")
    "$PY" -m eval.run -m "$@" camera=nominal,shifted,rotated,zoomed,far "${common[@]}"
    "$PY" -m eval.run -m "$@" camera=orbit camera.magnitude=4,15,30 "${common[@]}"
}

for stage in $STAGES; do
    case $stage in
        record) for v in "${VARIANTS[@]}"; do record "$v"; done ;;
        # both at once, one thread each: on 2 cores this beats two runs one after the other
        train)
            pids=()
            for v in "${VARIANTS[@]}"; do (export OMP_NUM_THREADS=1; train "$v") & pids+=($!); done
            for p in "${pids[@]}"; do wait "$p"; done ;;
        eval)
            sweep agent=oracle
            sweep agent=classic camera.calibration=true,nominal
            for v in "${VARIANTS[@]}"; do
                sweep agent=lerobot agent.name="act_$v" agent.device="$DEVICE" \
                    agent.checkpoint="results/train/act_place_single_$v/checkpoints/$FINAL/pretrained_model"
            done ;;
        report)
            "$PY" -m eval.report "$RUNS" --calibration-columns
            mkdir -p "$PUBLISH"
            cp "$RUNS/comparison.csv" "$RUNS/comparison.png" "$PUBLISH/" ;;
        *) echo "unknown stage '$stage' (choose from: record train eval report)"; exit 2 ;;
    esac
done
