#!/usr/bin/env bash
# hoist serve: event-to-commit latency, webhook throughput on one core,
# and footprint watching many ImageRepositories. Numbers go into
# docs/benchmarks.md.
#   bench/serve.sh                     all three
#   HOIST_BENCH_EVENTS=200 HOIST_BENCH_REPOS=1000 HOIST_BENCH_TAGS=1000 (defaults)
# Needs: docker-registry, wrk, python3, curl, taskset (installed if missing).
set -euo pipefail
cd "$(dirname "$0")/.."
W=$PWD/bench/work/serve
mkdir -p "$W"
# shellcheck source=bench/lib.sh
. bench/lib.sh
bench_setup docker-registry:docker-registry wrk:wrk curl:curl taskset:util-linux
EVENTS=${HOIST_BENCH_EVENTS:-200}
REPOS=${HOIST_BENCH_REPOS:-1000}
TAGS=${HOIST_BENCH_TAGS:-1000}

PORT=${HOIST_BENCH_REGISTRY_PORT:-5056}
SERVE_PID=""
trap 'kill $REG_PID $SERVE_PID 2>/dev/null || true' EXIT
start_registry "$W/registry" "$PORT"

echo "== 1. event-to-commit latency, $EVENTS registry events on loopback"
python3 bench/serve.py latency "$HOIST" "127.0.0.1:$PORT" "$W" "$EVENTS"

echo "== 2. webhook throughput: signed GitHub deliveries, hoist serve on one core, wrk on the other"
cat > "$W/tp.toml" <<TOML
[git]
url = "file://$W/latency/fleet.git"
[server]
github_webhook_secret_env = "HOIST_B_GH"
interval = "1h"
TOML
printf '{"zen":"Keep it logically awesome.","hook_id":1}' > "$W/ping.json"
SIG=$(python3 bench/serve.py sign gh-secret "$W/ping.json")
HOIST_B_GH=gh-secret taskset -c 0 "$HOIST" serve --config "$W/tp.toml" --listen 127.0.0.1:5057 --state-dir "$W/tp-state" 2>"$W/tp.log" &
SERVE_PID=$!
for _ in $(seq 100); do (exec 3<>/dev/tcp/127.0.0.1/5057) 2>/dev/null && break; sleep 0.1; done
cat > "$W/tp.lua" <<LUA
wrk.method = "POST"
wrk.body = io.open("$W/ping.json"):read("*a")
wrk.headers["Content-Type"] = "application/json"
wrk.headers["X-GitHub-Event"] = "ping"
wrk.headers["X-Hub-Signature-256"] = "$SIG"
local n = 0
request = function()
  n = n + 1
  -- Every delivery is new: the signature is checked, the id remembered.
  wrk.headers["X-GitHub-Delivery"] = string.format("%d-%d", math.random(1, 2147483647), n)
  return wrk.format()
end
LUA
taskset -c 1 wrk -t1 -c32 -d10s -s "$W/tp.lua" http://127.0.0.1:5057/hooks/github | tee "$W/tp.out" | grep -E "Requests/sec|Non-2xx|Latency|requests in"
curl -s http://127.0.0.1:5057/metrics | grep 'hoist_webhook_deliveries_total{hook="github"' || true
kill $SERVE_PID; wait $SERVE_PID 2>/dev/null || true; SERVE_PID=""

echo "== 3. footprint: $REPOS ImageRepositories x $TAGS tags, hoist serve on one core"
python3 bench/serve.py footprint "$HOIST" "127.0.0.1:$PORT" "$W" "$W/registry/data" "$REPOS" "$TAGS"
