#!/usr/bin/env bash
# How long `weavelet graph` takes to lay out and draw a pipeline of N Rhai
# nodes (each reading 1 to 3 of the 40 before it), as SVG and as PNG; best of
# R runs each. Usage: benches/graph/draw.sh [N] [R]   (default 500 nodes, 5 runs)
# Uses the release build: cargo build --release -p weavelet-cli
set -euo pipefail
n=${1:-500}
runs=${2:-5}
root=$(cd "$(dirname "$0")/../.." && pwd)
bin=${WEAVELET:-${CARGO_TARGET_DIR:-$root/target}/release/weavelet}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
python3 "$root/benches/graph/big_pipeline.py" "$n" > "$work/big.rhai"
best() {
    local best=""
    for _ in $(seq "$runs"); do
        local start end ms
        start=$(date +%s%N)
        "$bin" graph "$work/big.rhai" -q -p n=1 --cache-dir "$work/cache" --file "$work/$1" >/dev/null
        end=$(date +%s%N)
        ms=$(( (end - start) / 1000000 ))
        if [ -z "$best" ] || [ "$ms" -lt "$best" ]; then best=$ms; fi
    done
    echo "$best"
}
svg=$(best graph.svg)
png=$(best graph.png)
echo "$n nodes: svg ${svg} ms ($(stat -c %s "$work/graph.svg") bytes), png ${png} ms ($(stat -c %s "$work/graph.png") bytes); best of $runs"
