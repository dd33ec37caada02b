#!/usr/bin/env bash
# The second run of an unchanged pipeline: the whole `weavelet run` process,
# outputs included, once every node's result is in the cache. Beside it: the
# first run into an empty cache, and a run that computes everything (--no-cache).
#
# Usage: benches/cache/second_run.sh [RUNS]   (default 15 runs each; median and best)
# Builds with the dev profile (dependencies at opt-level 2, see Cargo.toml).
set -euo pipefail
cd "$(dirname "$0")/../.."
runs="${1:-15}"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/weavelet/target}"
cargo build -q -p weavelet-cli --bin weavelet
bin="$CARGO_TARGET_DIR/debug/weavelet"
cache="$(mktemp -d)"
trap 'rm -rf "$cache"' EXIT
export WEAVELET_CACHE_DIR="$cache"

# milliseconds of wall time of one command, its output discarded
ms() { local a b; a=$(date +%s%N); "$@" >/dev/null 2>&1; b=$(date +%s%N); echo $(( (b - a) / 1000 )) | awk '{ printf "%.1f\n", $1 / 1000 }'; }
stats() { sort -g | awk '{ a[NR] = $1 } END { printf "%s ms (best %s ms)", a[int((NR + 1) / 2)], a[1] }'; }

echo "| pipeline | first run, empty result cache | second run, unchanged | every node computed (--no-cache) |"
echo "|---|---|---|---|"
for pipeline in examples/diamond examples/sales-report examples/sales-report/rhai.toml examples/timeseries examples/dashboard; do
    # The first run builds Rust crates and compiles components; time it after those are cached.
    "$bin" run "$pipeline" -q >/dev/null 2>&1
    rm -rf "$cache/results"
    first=$(ms "$bin" run "$pipeline" -q)
    second=$(for _ in $(seq "$runs"); do ms "$bin" run "$pipeline" -q; done | stats)
    nocache=$(for _ in $(seq "$runs"); do ms "$bin" run "$pipeline" -q --no-cache; done | stats)
    echo "| \`$pipeline\` | $first ms | $second | $nocache |"
done
