# Sourced by the sweep scripts (factor_sweep.sh, semantic_tasks.sh, modular_vs_e2e.sh): each defines
# commands(), one eval.run command (one cell) per line, and sets JOBS; ONLY (a regex) picks some cells.

cells() {  # the sweep's cells, those matching ONLY
    commands | grep -E -- "${ONLY:-.}"
}

run_cells() {  # $1: the sweep's name for the log line. JOBS cells side by side, one core each; resumable
    local start=$SECONDS
    # one core each: a cell's PyTorch (a policy, the pointer) uses one thread, not one per core of the machine
    export OMP_NUM_THREADS=${OMP_NUM_THREADS:-1} MKL_NUM_THREADS=${MKL_NUM_THREADS:-1}
    cells | xargs -P "$JOBS" -I{} sh -c '{} > /dev/null 2>&1 || echo "failed ($?): {}"'
    echo "$1: runs took $((SECONDS - start)) s with JOBS=$JOBS"
}
