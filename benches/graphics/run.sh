#!/usr/bin/env bash
# The graphics benchmarks of issue 5:
#   1. a 1 000-bar chart rendered to SVG and PNG (each step timed);
#   2. thumbnailing 100 photos of 2000 × 1500 with --jobs 1 and --jobs 2
#      (four Rhai nodes, 25 photos each, whole process, medians).
#
# Usage: benches/graphics/run.sh [RUNS]   (default 3)
# Dev profile: dependencies (resvg, image, polars) at opt-level 2, Weavelet's
# own code unoptimised (see Cargo.toml).
set -euo pipefail
cd "$(dirname "$0")/../.."
runs="${1:-3}"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/weavelet/target}"
cargo build -q -p weavelet-cli --bin weavelet
cargo build -q -p weavelet-benches --features drivers --example chart_render --example generate_photos
bin="$CARGO_TARGET_DIR/debug"

echo "== 1 000-bar chart"
"$bin/examples/chart_render" 15 1000

photos=benches/graphics/data/photos
if [ "$(ls "$photos" 2>/dev/null | wc -l)" -lt 100 ]; then
    "$bin/examples/generate_photos" "$photos" 100 2000 1500
fi

median() { sort -g | awk '{ a[NR] = $1 } END { print a[int((NR + 1) / 2)] }'; }
out="$(mktemp -d)"
trap 'rm -rf "$out"' EXIT
echo
echo "== thumbnails of 100 photos, 2000 × 1500 JPEG → at most 200 × 200 PNG ($runs runs, medians)"
echo "| jobs | time | peak RSS |"
echo "|---|---|---|"
for jobs in 1 2; do
    times=(); rss=()
    for _ in $(seq "$runs"); do
        rm -rf "$out/thumbs"
        /usr/bin/time -v "$bin/weavelet" run benches/graphics/thumbnails.toml -q --no-cache --jobs "$jobs" \
            --save "thumbnails=$out/thumbs/{name}.png" --cache-dir "$out/cache" >/dev/null 2>"$out/time"
        times+=("$(awk -F': ' '/Elapsed \(wall clock\)/ { n = split($2, p, ":"); s = 0; for (i = 1; i <= n; i++) s = s * 60 + p[i]; print s }' "$out/time")")
        rss+=("$(awk -F': ' '/Maximum resident/ { print $2 / 1024 }' "$out/time")")
    done
    n="$(ls "$out/thumbs" | wc -l)"
    [ "$n" -eq 100 ] || { echo "expected 100 thumbnails, got $n" >&2; exit 1; }
    printf '| %s | %6.2f s | %5.0f MiB |\n' "$jobs" \
        "$(printf '%s\n' "${times[@]}" | median)" "$(printf '%s\n' "${rss[@]}" | median)"
done
