#!/usr/bin/env bash
# Builds every cargo-fuzz target in fuzz/ and runs each for a bounded time; exits non-zero
# on any crash, property failure, leak-free hang (-timeout) or out-of-memory.
#
#   scripts/fuzz-ci.sh                          # CI: every target, 30 s each, 2 at a time
#   FUZZ_SECONDS=600 FUZZ_JOBS=1 scripts/fuzz-ci.sh              # the 10-minute local run
#   FUZZ_TARGETS="url_string rules_toml" FUZZ_SECONDS=120 scripts/fuzz-ci.sh
#   FUZZ_SANITIZER=address scripts/fuzz-ci.sh   # AddressSanitizer (sets RUSTC_BOOTSTRAP=1)
#
# Seeds in fuzz/corpus/<target>/ are read but never written: libFuzzer adds what it finds
# to fuzz/scratch/<target>/ (ignored by git). Crash inputs land in fuzz/artifacts/<target>/;
# turn each into a regression test in tests/suite/fuzz_regressions.rs.
set -euo pipefail
cd "$(dirname "$0")/../fuzz"

seconds="${FUZZ_SECONDS:-30}"
jobs="${FUZZ_JOBS:-2}"
sanitizer="${FUZZ_SANITIZER:-none}"
if [ "$sanitizer" != none ]; then
  # Sanitizers need nightly-only rustc flags; stable accepts them with RUSTC_BOOTSTRAP.
  export RUSTC_BOOTSTRAP=1
fi

if ! cargo fuzz --version >/dev/null 2>&1; then
  echo "== installing cargo-fuzz"
  cargo install cargo-fuzz --locked
fi

echo "== fuzz build (sanitizer: $sanitizer)"
cargo fuzz build -s "$sanitizer"

targets="${FUZZ_TARGETS:-$(cargo fuzz list)}"

dict_for() {
  case "$1" in
    url_string) echo dict/url.dict ;;
    rules_toml) echo dict/toml.dict ;;
    http_response_bytes | response_header_values | www_authenticate_header) echo dict/http.dict ;;
    ip_address_bytes | deadline_header_value) echo "" ;;
    *) echo dict/json.dict ;;
  esac
}

mkdir -p logs
run_one() {
  local t="$1" dict
  dict="$(dict_for "$t")"
  mkdir -p "scratch/$t" "corpus/$t"
  local args=(-max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1)
  [ -n "$dict" ] && args+=(-dict="$dict")
  if cargo fuzz run -s "$sanitizer" "$t" "scratch/$t" "corpus/$t" -- "${args[@]}" \
    >"logs/$t.log" 2>&1; then
    echo ok >"logs/$t.status"
  else
    echo FAILED >"logs/$t.status"
  fi
}

echo "== fuzz run: ${seconds}s per target, $jobs at a time"
running=0
for t in $targets; do
  run_one "$t" &
  running=$((running + 1))
  if [ "$running" -ge "$jobs" ]; then
    wait -n || true
    running=$((running - 1))
  fi
done
wait

failed=0
printf '%-42s %8s %14s %12s\n' target status execs exec/s
for t in $targets; do
  status="$(cat "logs/$t.status" 2>/dev/null || echo FAILED)"
  execs="$(sed -n 's/^stat::number_of_executed_units: *//p' "logs/$t.log" | tail -1)"
  rate="$(sed -n 's/^stat::average_exec_per_sec: *//p' "logs/$t.log" | tail -1)"
  printf '%-42s %8s %14s %12s\n' "$t" "$status" "${execs:--}" "${rate:--}"
  if [ "$status" != ok ]; then
    failed=1
    echo "---- fuzz/logs/$t.log (tail)"
    tail -n 60 "logs/$t.log"
  fi
done
exit "$failed"
