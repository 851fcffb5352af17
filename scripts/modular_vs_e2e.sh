#!/usr/bin/env bash
# Regenerates results/modular-vs-e2e/: the learned pointer + tools against ACT, trained on the same oracle
# demonstrations of place_single with the same CPU budget, evaluated across the camera sweep and
# perturbation axes at two base seeds.
#
#   bash scripts/modular_vs_e2e.sh                       # every stage (hours on 2 cores; see the README there)
#   STAGES="eval report" JOBS=16 bash scripts/modular_vs_e2e.sh   # only some stages, 16 cells side by side
#   STAGES=list bash scripts/modular_vs_e2e.sh           # print the evaluation cells' commands
#
# Stages (each resumes: eval.record and eval.run continue their folders, training continues from its last
# checkpoint and a finished training is skipped):
#   record  200 oracle demonstrations at the nominal camera and 200 with a random viewpoint per episode
#           (eval.record also writes the pointer's pixel labels beside each dataset), base seed 0; and 20 of
#           each at HELDOUT_SEED for the pointer's held-out pixel error (neither learner trains on them)
#   train   per dataset, ACT (the e2e-vs-tools recipe, ACT_STEPS: 4,000 steps, about 30 min of one core) on
#           one core; then the pointer on one core, on the same 200 episodes, with the same budget: the steps
#           that fit in ACT's training time at the pointer's speed, measured over 60 steps on an idle machine
#           (its clock includes decoding the frames); pointer_*.budget.txt states the figures and what the
#           training then took. The four final checkpoints are published into CKPT (the evaluation reads
#           them there; git keeps the pointers' weights and the sha256 of ACT's, so on a clone the stage
#           trains ACT again, deterministically, and checks it against the published sha256)
#   eval    oracle, classic (true and stale calibration), both pointers (true and stale) and both ACT
#           policies: the camera sweep, then AXES at three magnitudes (and TOOL_AXES for the agents that
#           read the calibration: ACT never does, so its cells there would repeat its nominal ones); 50
#           episodes per cell (EPISODES; EPISODES_ACT_AXES for ACT on the axes) at base seeds SEEDS (1000:
#           never used while developing or tuning either learner; 0: the demonstrations' own scenes). The
#           cells' episode rows are written under RUNS, inside the published folder (traces and logs stay
#           out of git), so a later run continues where an earlier one stopped
#   report  eval.report per seed set and pooled: comparison, breaking points, paired differences (PAIRS in
#           tables.md), plots, written into PUBLISH (and PUBLISH/seed<S>) beside the training stage's budgets
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/sweep_cells.sh

PY=${PY:-.venv-xvla/bin/python}              # the LeRobot environment (make xvla-env)
STAGES=${STAGES:-"record train eval report"}
DEMOS=${DEMOS:-200}
ACT_STEPS=${ACT_STEPS:-4000}
ACT_LOG_FREQ=${ACT_LOG_FREQ:-250}
POINTER_ARGS=${POINTER_ARGS:-}                  # more agents.pointer.train flags (both variants)
POINTER_STEPS=${POINTER_STEPS:-auto}         # auto: as many as fit in ACT's measured training time
HELDOUT_DEMOS=${HELDOUT_DEMOS:-20}           # the pointer's held-out recording (pixel error only)
HELDOUT_SEED=${HELDOUT_SEED:-2000}           # its scenes' base seed: never trained on, never evaluated at
EPISODES=${EPISODES:-50}
EPISODES_ACT_AXES=${EPISODES_ACT_AXES:-$EPISODES}  # ACT cells on the axes (8 batched: about 100 s per 50 episodes)
SEEDS=${SEEDS:-"1000 0"}
JOBS=${JOBS:-$(nproc)}
ONLY=${ONLY:-.}                              # evaluate only the cells whose command matches this regex
DATA=${DATA:-results/datasets}
TRAIN=${TRAIN:-results/train/modular-vs-e2e}
PUBLISH=${PUBLISH:-results/modular-vs-e2e}
RUNS=${RUNS:-$PUBLISH/runs}                  # the cells' episode rows (git keeps them; .gitignore drops the rest)
CKPT=${CKPT:-$PUBLISH/checkpoints}           # the four published checkpoints the evaluation reads
VARIANTS=(nominal viewpoints)
AGENTS=(oracle classic pointer_nominal pointer_viewpoints act_nominal act_viewpoints)
PAIRS=${PAIRS:-pointer_nominal:act_nominal,pointer_viewpoints:act_viewpoints,pointer_nominal:classic}  # in tables.md
CAMERAS=(nominal shifted rotated zoomed far)
ORBITS=(4 15 30)
AXES=(                                       # every agent
    "light_intensity=0.6 0.35 0.2"
    "table_contrast=0.3 0.6 1"
    "clutter=1 2 4"
    "disturbance_cm=2 4 8"
)
TOOL_AXES=(                                  # the agents that read the reported calibration (not ACT)
    "calibration_error_mm=5 10 20"
)
FINAL=$(printf '%06d' "$ACT_STEPS")
export MUJOCO_GL=${MUJOCO_GL:-egl} HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1

test -x "$PY" || { echo "no $PY: run 'make xvla-env' first (or PY=/path/to/python with lerobot 0.6.1)"; exit 1; }

on_core() {  # $1: core; the rest: a command run on that core with one thread
    local core=$1; shift
    OMP_NUM_THREADS=1 MKL_NUM_THREADS=1 taskset -c "$core" "$@"
}

train_act() {  # $1: variant, $2: core (LeRobot's log, every segment appended, gives the training time)
    local out="$TRAIN/act_$1"
    if [ -d "$out/checkpoints/$FINAL" ]; then echo "$out: step $ACT_STEPS done, skipped"; return; fi
    mkdir -p "$TRAIN"
    if [ -f "$out/checkpoints/last/pretrained_model/train_config.json" ]; then
        on_core "$2" "$PY" -m lerobot.scripts.lerobot_train --resume=true \
            --config_path="$out/checkpoints/last/pretrained_model/train_config.json" >> "$out.log" 2>&1
    else
        on_core "$2" "$PY" -m lerobot.scripts.lerobot_train \
            --dataset.repo_id=local/widowx_place_single --dataset.root="$DATA/place_single_$1/dataset" \
            --policy.type=act --policy.device=cpu --policy.push_to_hub=false \
            --policy.pretrained_backbone_weights=null --policy.dim_model=256 --policy.dim_feedforward=1024 \
            --policy.n_encoder_layers=2 --policy.n_vae_encoder_layers=2 --policy.chunk_size=20 \
            --policy.n_action_steps=20 --policy.optimizer_lr=1e-4 --policy.optimizer_lr_backbone=1e-4 \
            --wandb.enable=false --num_workers=0 --batch_size=8 --steps="$ACT_STEPS" --save_freq=2000 \
            --log_freq="$ACT_LOG_FREQ" --output_dir="$out" >> "$out.log" 2>&1
    fi
}

train_act_both() {  # both variants side by side, one core each
    local rc=0 a b
    train_act nominal 0 & a=$!; train_act viewpoints 1 & b=$!; wait $a || rc=$?; wait $b || rc=$?
    [ $rc = 0 ] || { echo "ACT training failed ($rc): see $TRAIN/act_*.log"; exit $rc; }
}

act_windows() {  # $1: variant -> "<sum> <median x steps>": ACT's training time in seconds. LeRobot logs, per
    # window of ACT_LOG_FREQ steps, the mean update and data-loading time of a step: the first figure is their
    # sum times the window over every window once (a window logged again by a run resumed from an earlier
    # checkpoint is keyed by the same epoch count), the second the median window's time per step times all
    # steps (what a window slowed by other work on the machine would have taken)
    grep -o "epch:[0-9.]* .*updt_s:[0-9.]* data_s:[0-9.]*" "$TRAIN/act_$1.log" | "$PY" -c '
import re, statistics, sys
windows = {}
for line in sys.stdin:
    epoch = line.split()[0]
    u, d = (float(x) for x in re.findall(r"(?:updt_s|data_s):([0-9.]+)", line))
    windows[epoch] = u + d
print(round(sum(windows.values()) * '"$ACT_LOG_FREQ"'), round(statistics.median(windows.values()) * '"$ACT_STEPS"'))'
}

act_wall() { act_windows "$1" | cut -d' ' -f1; }

pointer_flags() {  # $1: variant -> the pointer's data flags: every recorded episode trains; the held-out pixel
    # error is measured on the separate recording of HELDOUT_SEED's scenes
    echo "--dataset $DATA/place_single_$1 --heldout-episodes 0 --heldout-dataset $DATA/place_single_$1_heldout"
}

publish_checkpoint() {  # $1: agent label (act_<v>, pointer_<v>): the final checkpoint into CKPT, with its sha256.
    # Where CKPT already states a sha256 (a published run), the new weights must match it: the committed cells
    # were evaluated with those weights
    local src sha
    case $1 in act_*) src="$TRAIN/$1/checkpoints/$FINAL/pretrained_model" ;; *) src="$TRAIN/$1/checkpoint" ;; esac
    test -f "$src/config.json" || { echo "no finished checkpoint in $src"; exit 4; }
    sha=$(sha256sum "$src/model.safetensors" | cut -d' ' -f1)
    if [ -f "$CKPT/$1.sha256" ] && [ "$(cut -d' ' -f1 "$CKPT/$1.sha256")" != "$sha" ]; then
        echo "$src/model.safetensors (sha256 $sha) is not the published $1 ($CKPT/$1.sha256): the cells under" \
             "$RUNS were evaluated with the published weights; remove $CKPT and $RUNS/*/$1 to publish new ones"
        exit 5
    fi
    rm -rf "$CKPT/$1.tmp"; mkdir -p "$CKPT"; cp -r "$src" "$CKPT/$1.tmp"
    rm -rf "$CKPT/$1"; mv "$CKPT/$1.tmp" "$CKPT/$1"
    echo "$sha  $1/model.safetensors" > "$CKPT/$1.sha256"  # sha256sum's format: sha256sum -c checks it in CKPT
}

published() {  # $1...: learners (act, pointer) -> whether CKPT holds the weights of every variant of each
    local l v
    for l in "$@"; do for v in "${VARIANTS[@]}"; do
        [ -f "$CKPT/${l}_$v/model.safetensors" ] || return 1
    done; done
}

train_pointer() {  # $1: variant, $2: core
    local out="$TRAIN/pointer_$1" budget steps
    if [ -f "$out/checkpoint/config.json" ] && [ -f "$out/eval.json" ]; then echo "$out: done, skipped"; return; fi
    budget=$(act_wall "$1")
    steps=$POINTER_STEPS
    if [ "$steps" = auto ]; then  # the steps that fit in ACT's time at this machine's speed, measured once
        if [ "$(cut -d' ' -f1 "$out.steps" 2>/dev/null)" = "$budget" ]; then steps=$(cut -d' ' -f2 "$out.steps"); else
            rm -rf "$out.rate"  # 60 steps on the same core while nothing else runs
            # shellcheck disable=SC2046
            on_core "$2" "$PY" -m agents.pointer.train $(pointer_flags "$1") --out "$out.rate" --steps 100000 \
                --stop-at-step 60 --threads 1 --log-every 10 $POINTER_ARGS > /dev/null 2>&1
            # the clock starts before the frames are decoded: budget less (decoding + step 1), at steps 10-60's pace
            steps=$("$PY" -c '
import json, sys
wall = {r["step"]: r["wall_s"] for r in map(json.loads, open(sys.argv[1]))}
print(int((float(sys.argv[2]) - wall[1]) * 50 / (wall[60] - wall[10])), round(wall[1], 1), round((wall[60] - wall[10]) / 50, 4))' \
                "$out.rate/train_log.jsonl" "$budget")
            echo "$budget $steps" > "$out.steps"  # budget, steps, decoding + step 1 (s), s per step
            rm -rf "$out.rate"
            steps=${steps%% *}
        fi
    fi
    {
        printf 'act_%s: %s steps; training time (update + data loading, one core) %s s; median window x steps: %s s\n' \
            "$1" "$ACT_STEPS" "$budget" "$(act_windows "$1" | cut -d' ' -f2)"
        printf 'pointer_%s: %s steps planned in that budget (measured: budget, steps, decoding + step 1 s, s/step = %s)\n' \
            "$1" "$steps" "$(cat "$out.steps" 2>/dev/null || echo "given: POINTER_STEPS")"
    } > "$out.budget.txt"
    # shellcheck disable=SC2046
    on_core "$2" "$PY" -m agents.pointer.train $(pointer_flags "$1") --out "$out" --steps "$steps" --threads 1 \
        $POINTER_ARGS >> "$out.log" 2>&1
    "$PY" -c 'import json, sys; i = json.load(open(sys.argv[1]))
print("pointer_%s: done %s steps in %s s of wall time (stopped by %s)" % (sys.argv[2], i["steps"], i["train_wall_s"],
      i["stopped_by"]))' "$out/eval.json" "$1" >> "$out.budget.txt"
}

agent_args() {  # $1: agent label -> eval.run overrides
    case "$1" in
        oracle) echo "agent=oracle" ;;
        classic) echo "agent=classic" ;;
        pointer_*) echo "agent=learned agent.name=$1 agent.reasoner.checkpoint=$CKPT/$1" ;;
        act_*) echo "agent=lerobot agent.name=$1 agent.device=cpu batch_episodes=8 agent.checkpoint=$CKPT/$1" ;;
        *) echo "unknown agent $1" >&2; exit 2 ;;
    esac
}

cell_args() {  # $1: seed, $2: agent label, $3: episodes -> the overrides every cell of that agent shares
    echo "task=place_single episodes=$3 $(agent_args "$2") workers=1 seed=$1"
}

commands() {  # one eval.run command (one cell) per line: the camera sweep at both seeds first, then the axes
    local seed a n args calibs c cam m ax level axes
    for seed in $SEEDS; do
        for a in "${AGENTS[@]}"; do
            args=$(cell_args "$seed" "$a" "$EPISODES")
            calibs="true"
            case $a in classic|pointer_*) calibs="true nominal" ;; esac
            for c in $calibs; do
                for cam in "${CAMERAS[@]}"; do
                    echo "$PY -m eval.run $args camera=$cam camera.calibration=$c out_dir=$RUNS/seed$seed/$a/${cam}_$c"
                done
                for m in "${ORBITS[@]}"; do
                    echo "$PY -m eval.run $args camera=orbit camera.magnitude=$m camera.calibration=$c" \
                         "out_dir=$RUNS/seed$seed/$a/orbit${m}_$c"
                done
            done
        done
    done
    for seed in $SEEDS; do
        for a in "${AGENTS[@]}"; do
            n=$EPISODES axes=("${AXES[@]}" "${TOOL_AXES[@]}")
            case $a in act_*) n=$EPISODES_ACT_AXES axes=("${AXES[@]}") ;; esac
            args=$(cell_args "$seed" "$a" "$n")
            for ax in "${axes[@]}"; do
                for level in ${ax#*=}; do
                    echo "$PY -m eval.run $args factors.${ax%%=*}=$level out_dir=$RUNS/seed$seed/$a/${ax%%=*}_$level"
                done
            done
        done
    done
}

for stage in $STAGES; do
    case $stage in
        list) cells ;;
        record)  # the same demos as e2e-vs-tools; then HELDOUT_DEMOS of other scenes for the pointer's pixel error
            PY="$PY" DEMOS="$DEMOS" DATA="$DATA" STAGES=record bash scripts/e2e_vs_tools.sh
            PY="$PY" DEMOS="$HELDOUT_DEMOS" DATA="$DATA" RECORD_SEED="$HELDOUT_SEED" RECORD_SUFFIX=_heldout \
                STAGES=record bash scripts/e2e_vs_tools.sh ;;
        train)  # the two variants side by side, one core each: ACT first, then the pointer with ACT's budget
            if published act pointer; then
                echo "$CKPT holds the four checkpoints: training skipped (remove them to train again)"; continue
            fi
            if published pointer; then
                # a clone: git holds the pointers' weights (1 MB) but only the sha256 of ACT's (62 MB each);
                # ACT's training is deterministic, so it is trained again and must give the published weights
                echo "retraining ACT to the published weights (about 27 min, both variants side by side)"
                train_act_both
                for v in "${VARIANTS[@]}"; do publish_checkpoint "act_$v"; done
                echo "ACT retrained: sha256 as published"; continue
            fi
            # budgets are wall time on one core: other work on the machine would slow one learner and not
            # the other, so the stage wants an idle machine (FORCE=1 runs it anyway; the load is logged)
            load=$(cut -d' ' -f1 /proc/loadavg)
            if [ "${FORCE:-0}" != 1 ] && awk "BEGIN {exit !($load > 0.5)}"; then
                echo "load average $load: train on an idle machine (matched wall-time budgets), or FORCE=1"; exit 3
            fi
            mkdir -p "$TRAIN"; echo "$(date -u +%FT%TZ) train stage starts, load average $load" >> "$TRAIN/load.log"
            start=$SECONDS
            train_act_both
            rc=0; train_pointer nominal 0 & a=$!; train_pointer viewpoints 1 & b=$!; wait $a || rc=$?; wait $b || rc=$?
            [ $rc = 0 ] || { echo "pointer training failed ($rc): see $TRAIN/pointer_*.log"; exit $rc; }
            for v in "${VARIANTS[@]}"; do publish_checkpoint "act_$v"; publish_checkpoint "pointer_$v"; done
            mkdir -p "$PUBLISH"
            cp "$TRAIN"/pointer_*.budget.txt "$TRAIN"/load.log "$PUBLISH"/
            for v in "${VARIANTS[@]}"; do cp "$TRAIN/pointer_$v/eval.json" "$PUBLISH/pointer_${v}_heldout.json"; done
            cat "$TRAIN"/pointer_*.budget.txt
            echo "$(date -u +%FT%TZ) train stage ends, load average $(cut -d' ' -f1 /proc/loadavg)" >> "$TRAIN/load.log"
            echo "modular-vs-e2e: training took $((SECONDS - start)) s" ;;
        eval) mkdir -p "$RUNS"; CELL_TIMES=$RUNS/cell_times.tsv run_cells modular-vs-e2e ;;  # seconds per cell
        report)  # per seed set, then pooled (episodes of both seed sets count in one cell; pairs match by seed)
            for seed in $SEEDS; do
                "$PY" -m eval.report "$RUNS/seed$seed" --calibration-columns --pairs "$PAIRS" --out "$PUBLISH/seed$seed"
                printf '%s\n' "# Base seed $seed alone" "" "The tables and plots of ../README.md for the episodes at base seed $seed only" \
                    "(\`tables.md\`), written by \`STAGES=report bash scripts/modular_vs_e2e.sh\` from \`../runs/seed$seed/\`." \
                    > "$PUBLISH/seed$seed/README.md"
            done
            "$PY" -m eval.report "$RUNS" --calibration-columns --pairs "$PAIRS" --out "$PUBLISH"
            echo "published into $PUBLISH" ;;
        *) echo "unknown stage '$stage' (choose from: list record train eval report)"; exit 2 ;;
    esac
done
