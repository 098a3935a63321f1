#!/usr/bin/env bash
# CONNECT proxy benchmark (issue 17): added latency vs direct TLS, tunnel throughput, memory
# per idle tunnel. Everything on loopback (examples/proxy_bench.rs). Numbers: docs/benchmarks.md.
# Usage: bash scripts/proxy-bench.sh [N_LATENCY=300] [MIB=1024] [K_IDLE=1000]
set -euo pipefail
cd "$(dirname "$0")/.."
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
cargo build --release --locked --example proxy_bench
target/release/examples/proxy_bench "${1:-300}" "${2:-1024}" "${3:-1000}"
