#!/usr/bin/env bash
# Fleet-mode benchmark (issue 16): the load lab with and without `[fleet]`, against a
# throwaway redis-server on a Unix socket (no TCP). Measures
#   1. cached verdicts per replica (wrk, HTTP/1.1 keep-alive), fleet off vs on;
#   2. cold-miss latency through the service, fleet off vs on (unique URLs);
#   3. Redis commands per cold miss (INFO commandstats).
# Nothing leaves the machine.
set -euo pipefail
cd "$(dirname "$0")/.."
DURATION=${DURATION:-10}
ROUNDS=${ROUNDS:-2}
PORT=${PORT:-18797}
COLD=${COLD:-300}

command -v wrk >/dev/null || { apt-get update -qq && apt-get install -y -qq wrk; }
command -v redis-server >/dev/null || { apt-get update -qq && apt-get install -y -qq redis-server; }
cargo build --release --locked --example loadlab
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true

work=$(mktemp -d)
redis-server --port 0 --save '' --appendonly no --unixsocket "$work/redis.sock" \
  --unixsocketperm 700 --dir "$work" >/dev/null &
redis_pid=$!
lab_pid=""
cleanup() {
  [ -n "$lab_pid" ] && kill "$lab_pid" 2>/dev/null || true
  kill "$redis_pid" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT
for _ in $(seq 50); do [ -S "$work/redis.sock" ] && break; sleep 0.1; done
head -c 48 /dev/urandom | base64 >"$work/secret"
redis_url="redis+unix://$work/redis.sock"
rcli() { redis-cli -s "$work/redis.sock" "$@"; }

cached() {
  local label=$1
  local out="$work/lab.out"
  : >"$out"
  target/release/examples/loadlab serve "$PORT" >"$out" &
  lab_pid=$!
  for _ in $(seq 100); do [ -s "$out" ] && break; sleep 0.1; done
  local info service doc_url
  info=$(head -1 "$out")
  service=$(echo "$info" | sed 's/.*"service":"\([^"]*\)".*/\1/')
  doc_url=$(echo "$info" | sed 's/.*"doc_url":"\([^"]*\)".*/\1/')
  case "$service" in http://127.*) ;; *) echo "refusing: service not on loopback: $service"; exit 1;; esac
  echo; echo "== cached verdicts, fleet $label: wrk -t2 -c64 -d${DURATION}s"
  PORTCULLIS_URL="$doc_url" wrk -t2 -c64 -d"${DURATION}s" --latency -s scripts/wrk-fetch.lua "$service"
  kill "$lab_pid"; wait "$lab_pid" 2>/dev/null || true; lab_pid=""
}

# Alternate (the machine is shared: one pair of runs can differ by noise alone).
for round in $(seq "${ROUNDS:-2}"); do
  cached "off (round $round)"
  rcli CONFIG RESETSTAT >/dev/null
  PORTCULLIS_FLEET_REDIS="$redis_url" PORTCULLIS_FLEET_SECRET="$work/secret" cached "on (round $round)"
  echo "Redis calls during that run:"
  rcli INFO commandstats | grep -E 'cmdstat_(evalsha|eval|get|set)' || echo "  none"
done

echo; echo "== cold misses through the service (${COLD}), fleet off"
target/release/examples/loadlab cold "$COLD"
rcli CONFIG RESETSTAT >/dev/null
echo; echo "== cold misses through the service (${COLD}), fleet on"
PORTCULLIS_FLEET_REDIS="$redis_url" PORTCULLIS_FLEET_SECRET="$work/secret" \
  target/release/examples/loadlab cold "$COLD"
echo; echo "== Redis commands during the fleet-on cold run ($((COLD + 1)) cold misses)"
rcli INFO commandstats | grep -E 'cmdstat_(evalsha|eval|get|set|ping|scan|mget|subscribe|publish|script)' || true
