#!/usr/bin/env bash
# What a request of a node granted `net` costs: a node asking a local HTTP server
# (python3 -m http.server on 127.0.0.1) for a small file 1 and 201 times, in a worker
# process (the request goes through the supervisor) and in process. The difference
# over 200 is the cost of one request, beside the same requests from a Python loop
# (the server's own pace: python's http.server is the slowest part).
#
# Usage: benches/net/requests.sh [RUNS]   (default 7 runs each; median and best)
set -euo pipefail
cd "$(dirname "$0")/../.."
runs="${1:-7}"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/weavelet/target}"
cargo build -q -p weavelet-cli --bin weavelet
bin="$CARGO_TARGET_DIR/debug/weavelet"
work="$(mktemp -d)"
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
python3 -m http.server "$port" --bind 127.0.0.1 --directory examples/rates/service >/dev/null 2>&1 &
server=$!
trap 'kill $server; rm -rf "$work"' EXIT
sleep 0.5
export WEAVELET_CACHE_DIR="$work/cache"

ms() { local a b; a=$(date +%s%N); "$@" >/dev/null 2>&1; b=$(date +%s%N); echo $(( (b - a) / 1000 )) | awk '{ printf "%.1f\n", $1 / 1000 }'; }
median() { sort -g | awk '{ a[NR] = $1 } END { print a[int((NR + 1) / 2)] }'; }

for isolation in process in-process; do
    mkdir -p "$work/$isolation"
    cat > "$work/$isolation/weavelet.toml" <<TOML
[pipeline]
outputs = ["keep_asking"]
[[components]]
rust = "$PWD/guests/network"
[params]
url = "http://127.0.0.1:$port/latest"
[policy.nodes.keep_asking]
net = ["127.0.0.1:$port"]
net_requests = 1000
timeout = "60s"
isolation = "$isolation"
TOML
    "$bin" run "$work/$isolation" -q --no-cache --param times=1 >/dev/null  # builds the node folder once
    one=$(for _ in $(seq "$runs"); do ms "$bin" run "$work/$isolation" -q --no-cache --param times=1; done | median)
    many=$(for _ in $(seq "$runs"); do ms "$bin" run "$work/$isolation" -q --no-cache --param times=201; done | median)
    echo "| $isolation | $one ms | $many ms | $(awk -v a="$one" -v b="$many" 'BEGIN { printf "%.2f", (b - a) / 200 }') ms |"
done
# The server's own pace: 200 requests from one Python loop, each on a new connection as above.
loop=$(for _ in $(seq "$runs"); do ms python3 -c "import urllib.request
for _ in range(200): urllib.request.urlopen('http://127.0.0.1:$port/latest').read()"; done | median)
echo "| the same 200 requests from a Python loop (urllib) | | $loop ms | $(awk -v b="$loop" 'BEGIN { printf "%.2f", b / 200 }') ms (with interpreter start) |"
