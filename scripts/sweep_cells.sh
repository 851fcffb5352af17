# Sourced by the sweep scripts (factor_sweep.sh, semantic_tasks.sh, modular_vs_e2e.sh): each defines
# commands(), one eval.run command (one cell) per line, and sets JOBS; ONLY (a regex) picks some cells.

cells() {  # the sweep's cells, those matching ONLY
    commands | grep -E -- "${ONLY:-.}"
}

run_cells() {  # $1: the sweep's name for the log line. JOBS cells side by side, one core each; resumable.
    # CELL_TIMES (a file), if set, gets one line per cell as it ends: seconds, exit status, command (tab-separated)
    local start=$SECONDS
    # one core each: a cell's PyTorch (a policy, the pointer) uses one thread, not one per core of the machine
    export OMP_NUM_THREADS=${OMP_NUM_THREADS:-1} MKL_NUM_THREADS=${MKL_NUM_THREADS:-1}
    export CELL_TIMES=${CELL_TIMES:-/dev/null}
    cells | xargs -P "$JOBS" -I{} sh -c 't=$(date +%s); {} > /dev/null 2>&1; rc=$?
        printf "%s\t%s\t%s\n" "$(($(date +%s) - t))" "$rc" "{}" >> "$CELL_TIMES"
        [ "$rc" = 0 ] || echo "failed ($rc): {}"'
    echo "$1: runs took $((SECONDS - start)) s with JOBS=$JOBS"
}
