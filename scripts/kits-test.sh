#!/usr/bin/env bash
# Issue 14: the client kits' own tests, each against the real `portcullis serve` binary and
# the loopback test lab (examples/testlab.rs). Loopback only; no namespace needed.
#   clients/node: npm ci && npm test   (node:test)
#   clients/rust: cargo test            (pure verifier + the real binary)
# Usage: bash scripts/kits-test.sh
set -euo pipefail
cd "$(dirname "$0")/.."

echo "== kits: building the service and the test lab"
cargo build --locked --bin portcullis --example testlab
target_dir=$(cargo metadata --format-version 1 --no-deps | sed -n 's/.*"target_directory":"\([^"]*\)".*/\1/p')
export PORTCULLIS_BIN="$target_dir/debug/portcullis"
export PORTCULLIS_TESTLAB="$target_dir/debug/examples/testlab"

echo "== kits: clients/rust (clippy, cargo test)"
(cd clients/rust && cargo clippy --locked --all-targets -- -D warnings \
  && cargo clippy --locked --all-targets --no-default-features -- -D warnings \
  && cargo test --locked -- --nocapture)

if command -v npm >/dev/null 2>&1; then
  echo "== kits: clients/node (npm ci && npm test)"
  (cd clients/node && npm ci --no-audit --no-fund --loglevel=error && npm test)
else
  echo "kits: clients/node SKIPPED: npm is not installed"
fi
