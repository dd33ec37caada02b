#!/usr/bin/env bash
# The sales benchmark of PERF.md: whole-process time and peak RSS of
#   weavelet run benches/sales  (CSV -> group by region -> aggregate -> CSV, and an SVG bar chart)
# beside the same work in plain Rust polars, and in Hamilton with Python polars when
# `sf-hamilton` and `polars` can be installed into a venv (~/.cache/weavelet/hamilton-venv;
# NO_HAMILTON=1 skips it), at 1 M and 10 M rows, in the same run.
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

cargo build -q "${flag[@]}" -p weavelet-cli --bin weavelet
cargo build -q "${flag[@]}" -p weavelet-benches --features drivers --example plain_polars
bin="$CARGO_TARGET_DIR/$dir"
hamilton=""
venv="$HOME/.cache/weavelet/hamilton-venv"
if [ -z "${NO_HAMILTON:-}" ]; then
    if ! "$venv/bin/python" -c 'import hamilton, polars' 2>/dev/null; then
        { python3 -m venv "$venv" && "$venv/bin/pip" install -q sf-hamilton polars; } >/dev/null 2>&1 || true
    fi
    if "$venv/bin/python" -c 'import hamilton, polars' 2>/dev/null; then
        hamilton="$venv/bin/python"
    else
        echo "(Hamilton could not be installed into $venv: measuring without it)" >&2
    fi
fi
data=benches/sales/data
mkdir -p "$data"
for rows in 1000000 10000000; do
    f="$data/sales-$((rows / 1000000))m.csv"
    [ -s "$f" ] || python3 benches/sales/generate.py "$rows" "$f"
done

# median of a column of numbers
median() { sort -g | awk '{ a[NR] = $1 } END { print a[int((NR + 1) / 2)] }'; }

# One run of a command: its wall time and peak RSS (MiB) appended to $out/<key>.
once() { # key, command...
    local key="$1"; shift
    /usr/bin/time -v "$@" >/dev/null 2>/tmp/weavelet-bench-time
    printf '%s %s\n' \
        "$(awk -F': ' '/Elapsed \(wall clock\)/ { n = split($2, p, ":"); s = 0; for (i = 1; i <= n; i++) s = s * 60 + p[i]; print s }' /tmp/weavelet-bench-time)" \
        "$(awk -F': ' '/Maximum resident/ { print $2 / 1024 }' /tmp/weavelet-bench-time)" >>"$out/$key"
}

# The medians of a key's runs.
report() { # key, label
    printf '| %-44s | %6.2f s | %7.0f MiB |\n' "$2" \
        "$(cut -d' ' -f1 "$out/$1" | median)" "$(cut -d' ' -f2 "$out/$1" | median)"
}

# Whether two CSV outputs hold the same groups and counts, and sums equal up to
# float summation order; stops the benchmark if not.
agree() { # weavelet.csv, other.csv, other's name, size
    if ! python3 - "$1" "$2" <<'EOF'
import csv, math, sys
a, b = (list(csv.reader(open(p))) for p in sys.argv[1:3])
same = len(a) == len(b) and a[0] == b[0] and all(
    x[0] == y[0] and x[2] == y[2] and math.isclose(float(x[1]), float(y[1]), rel_tol=1e-9)
    for x, y in zip(a[1:], b[1:]))
sys.exit(0 if same else 1)
EOF
    then
        echo "weavelet and $3 disagree on $4 rows:" >&2
        diff "$1" "$2" >&2 || true
        exit 1
    fi
}

out="$(mktemp -d)"
trap 'rm -rf "$out"' EXIT
echo "| workload ($runs runs, medians; $profile profile) | time | peak RSS |"
echo "|---|---|---|"
for size in 1m 10m; do
    # The contenders take turns, run after run, so a change in the machine's
    # state (other work, frequency, page cache) falls on all of them alike.
    for _ in $(seq "$runs"); do
        # Nodes in worker processes (the default), then in the weavelet process itself.
        for isolation in process in-process; do
            once "$size-$isolation" \
                "$bin/weavelet" run benches/sales -q --no-cache --isolation "$isolation" --param "path=data/sales-$size.csv" \
                --save "by_region=$out/w.csv" --save "chart=$out/chart.svg" --cache-dir "$out/cache"
        done
        once "$size-plain" "$bin/examples/plain_polars" "$data/sales-$size.csv" "$out/p.csv"
        if [ -n "$hamilton" ]; then
            once "$size-hamilton" \
                "$hamilton" benches/sales/hamilton_sales.py "$data/sales-$size.csv" "$out/h.csv" "$out/h.svg"
        fi
    done
    for isolation in process in-process; do
        report "$size-$isolation" "weavelet run benches/sales, $size rows, $isolation"
    done
    report "$size-plain" "plain Rust polars, $size rows"
    if [ -n "$hamilton" ]; then report "$size-hamilton" "Hamilton + Python polars, $size rows"; fi
    # Same groups and counts; sums equal up to float summation order.
    agree "$out/w.csv" "$out/p.csv" "plain polars" "$size"
    if [ -n "$hamilton" ]; then agree "$out/w.csv" "$out/h.csv" "Hamilton" "$size"; fi
done
