#!/usr/bin/env bash
# What the run history's tools cost on a pipeline of N Rhai nodes (each
# reading 1 to 3 of the 40 before it): `weavelet report` (the HTML page),
# `runs diff` and `runs replay` (every node from the cache); best of R each.
# Usage: benches/history/history.sh [N] [R]   (default 500 nodes, 3 runs)
# Uses $WEAVELET, else the release build (cargo build --release -p weavelet-cli).
set -euo pipefail
n=${1:-500}
runs=${2:-3}
root=$(cd "$(dirname "$0")/../.." && pwd)
bin=${WEAVELET:-${CARGO_TARGET_DIR:-$root/target}/release/weavelet}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
python3 "$root/benches/graph/big_pipeline.py" "$n" > "$work/big.rhai"
cd "$work"
"$bin" run big.rhai -q -p n=1 --cache-dir c >/dev/null
"$bin" run big.rhai -q -p n=2 --cache-dir c >/dev/null
best() {
    local best=""
    for _ in $(seq "$runs"); do
        local start end ms
        start=$(date +%s%N)
        "$bin" "$@" --cache-dir c >/dev/null 2>&1 || true
        end=$(date +%s%N)
        ms=$(( (end - start) / 1000000 ))
        if [ -z "$best" ] || [ "$ms" -lt "$best" ]; then best=$ms; fi
    done
    echo "$best"
}
report=$(best report 1 -o report.html -q)
diff=$(best runs diff 1 2)
replay=$(best runs replay 1)
echo "$n nodes: report ${report} ms ($(stat -c %s report.html) bytes), runs diff ${diff} ms, runs replay ${replay} ms (all cached); best of $runs"
