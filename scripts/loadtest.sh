#!/usr/bin/env bash
# Reproducible loopback load test (issue 7). Starts the load lab (DNS responder, TLS origin
# and the real service, all on 127.0.0.0/8) and drives it with wrk:
#   1. cached verdicts over HTTP/1.1 keep-alive: throughput and latency percentiles;
#   2. 2,000 concurrent requests for distinct URLs against a slow origin: peak RSS;
#   3. cold fetches through the service vs a plain hyper/rustls client (same run).
# Nothing leaves the machine: every address is loopback and the service's fetcher is
# restricted to loopback connections.
set -euo pipefail
cd "$(dirname "$0")/.."
DURATION=${DURATION:-10}
PORT=${PORT:-18787}
COLD=${COLD:-500}

command -v wrk >/dev/null || { apt-get update -qq && apt-get install -y -qq wrk; }
cargo build --release --locked --example loadlab
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true

lab_out=$(mktemp)
target/release/examples/loadlab serve "$PORT" >"$lab_out" &
lab_pid=$!
trap 'kill $lab_pid 2>/dev/null || true; rm -f "$lab_out"' EXIT
for _ in $(seq 50); do [ -s "$lab_out" ] && break; sleep 0.1; done
info=$(head -1 "$lab_out")
service=$(echo "$info" | sed 's/.*"service":"\([^"]*\)".*/\1/')
doc_url=$(echo "$info" | sed 's/.*"doc_url":"\([^"]*\)".*/\1/')
slow_url=$(echo "$info" | sed 's/.*"slow_url":"\([^"]*\)".*/\1/')
case "$service" in http://127.*) ;; *) echo "refusing: service not on loopback: $service"; exit 1;; esac

rss() { awk '/VmRSS|VmHWM/ {printf "%s=%s kB ", $1, $2}' "/proc/$lab_pid/status"; }
echo "machine: $(nproc) cores, $(awk '/MemTotal/ {print $2/1024/1024 " GiB"}' /proc/meminfo)"
echo "before: $(rss)"

echo; echo "== 1. cached verdicts, HTTP/1.1 keep-alive, 2 threads x 64 connections, ${DURATION}s"
PORTCULLIS_URL="$doc_url" wrk -t2 -c64 -d"${DURATION}s" --latency -s scripts/wrk-fetch.lua "$service"
echo "after cached load: $(rss)"

echo; echo "== 2. 2000 concurrent distinct URLs against a slow origin (1 KiB over ~4 s), ${DURATION}s"
PORTCULLIS_URL="$slow_url" UNIQUE=1 wrk -t2 -c2000 -d"${DURATION}s" --timeout 15s -s scripts/wrk-fetch.lua "$service" || true
echo "after slow-origin load: $(rss)"

echo; echo "== 3. cold fetch latency: service vs plain hyper/rustls client (${COLD} each)"
target/release/examples/loadlab cold "$COLD"
