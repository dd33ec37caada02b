#!/usr/bin/env bash
# The sales benchmark of PERF.md: whole-process time and peak RSS of
#   weavelet run benches/sales  (CSV -> group by region -> aggregate -> CSV, and an SVG bar chart)
# beside the same work in plain Rust polars, at 1 M and 10 M rows.
#
# Usage: benches/sales/run.sh [RUNS]   (default 5 runs each; medians are printed)
# Builds with the dev profile, whose dependencies (polars, wasmtime) are
# optimised at opt-level 2 (see Cargo.toml); PROFILE=release for a release build.
set -euo pipefail
cd "$(dirname "$0")/../.."
runs="${1:-5}"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/weavelet/target}"
profile="${PROFILE:-dev}"
flag=(); dir=debug
if [ "$profile" = release ]; then flag=(--release); dir=release; fi

cargo build -q "${flag[@]}" -p weavelet --bin weavelet --example plain_polars
bin="$CARGO_TARGET_DIR/$dir"
data=benches/sales/data
mkdir -p "$data"
for rows in 1000000 10000000; do
    f="$data/sales-$((rows / 1000000))m.csv"
    [ -s "$f" ] || python3 benches/sales/generate.py "$rows" "$f"
done

# median of a column of numbers
median() { sort -g | awk '{ a[NR] = $1 } END { print a[int((NR + 1) / 2)] }'; }

measure() { # label, command...
    local label="$1"; shift
    local times=() rss=()
    for _ in $(seq "$runs"); do
        /usr/bin/time -v "$@" >/dev/null 2>/tmp/weavelet-bench-time
        times+=("$(awk -F': ' '/Elapsed \(wall clock\)/ { n = split($2, p, ":"); s = 0; for (i = 1; i <= n; i++) s = s * 60 + p[i]; print s }' /tmp/weavelet-bench-time)")
        rss+=("$(awk -F': ' '/Maximum resident/ { print $2 / 1024 }' /tmp/weavelet-bench-time)")
    done
    printf '| %-44s | %6.2f s | %7.0f MiB |\n' "$label" \
        "$(printf '%s\n' "${times[@]}" | median)" "$(printf '%s\n' "${rss[@]}" | median)"
}

out="$(mktemp -d)"
trap 'rm -rf "$out"' EXIT
echo "| workload ($runs runs, medians) | time | peak RSS |"
echo "|---|---|---|"
for size in 1m 10m; do
    measure "weavelet run benches/sales, $size rows" \
        "$bin/weavelet" run benches/sales -q --no-cache --param "path=data/sales-$size.csv" --save "by_region=$out/w.csv" --save "chart=$out/chart.svg" \
        --cache-dir "$out/cache"
    measure "plain Rust polars, $size rows" "$bin/examples/plain_polars" "$data/sales-$size.csv" "$out/p.csv"
    # Same groups and counts; sums equal up to float summation order.
    if ! python3 - "$out/w.csv" "$out/p.csv" <<'EOF'
import csv, math, sys
a, b = (list(csv.reader(open(p))) for p in sys.argv[1:3])
same = len(a) == len(b) and a[0] == b[0] and all(
    x[0] == y[0] and x[2] == y[2] and math.isclose(float(x[1]), float(y[1]), rel_tol=1e-9)
    for x, y in zip(a[1:], b[1:]))
sys.exit(0 if same else 1)
EOF
    then
        echo "the two programs disagree on $size rows:" >&2
        diff "$out/w.csv" "$out/p.csv" >&2 || true
        exit 1
    fi
done
