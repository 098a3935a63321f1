#!/usr/bin/env bash
# The proxy suite (issue 17): real proxy clients (curl, Python requests in a venv, Node
# undici ProxyAgent pinned by tests/proxy/node/package-lock.json) and the proxy's loopback
# tests, run inside a private network namespace whose only interface is `lo`. The sealed
# adversarial catalogue (scripts/sealed-suite.sh) runs the same address, DNS and rebinding
# cases through the proxy as its `proxy` driver.
#
# Needs root, `unshare` and `ip` for the namespace; without them it says SKIPPED and exits 0.
# Installs (outside the namespace, needs the registries): `npm ci` in tests/proxy/node and a
# venv with tests/proxy/python/requirements.txt. Usage: bash scripts/proxy-suite.sh
set -euo pipefail
cd "$(dirname "$0")/.."

skip() {
  echo "proxy suite SKIPPED: $*"
  exit 0
}

# shellcheck source=lib/private-netns.sh
. scripts/lib/private-netns.sh
require_private_netns

echo "== proxy suite: installing clients"
command -v curl >/dev/null || echo "curl missing: its test will say SKIPPED"
if command -v npm >/dev/null; then
  (cd tests/proxy/node && npm ci --no-audit --no-fund --silent)
else
  echo "npm missing: the node test will say SKIPPED"
fi
venv="${PORTCULLIS_PROXY_VENV:-target/proxy-venv}"
if [ ! -x "$venv/bin/python" ]; then
  python3 -m venv "$venv"
fi
"$venv/bin/pip" install --quiet -r tests/proxy/python/requirements.txt
python_bin="$(cd "$(dirname "$venv/bin/python")" && pwd)/python"

echo "== proxy suite: building the integration suite"
bin=$(build_test_binary suite)

echo "== proxy suite: entering a private network namespace"
PORTCULLIS_PROXY_PYTHON="$python_bin" SUITE_BIN="$bin" \
  unshare -n -- bash -euo pipefail -c '
    ip link set lo up
    others=$(ip -o link show | awk -F": " "{print \$2}" | grep -vx lo || true)
    if [ -n "$others" ]; then echo "NOT ISOLATED: interfaces $others" >&2; exit 1; fi
    echo "isolated: interfaces [lo]"
    out=$("$SUITE_BIN" proxy --test-threads=2 --nocapture 2>&1) || { echo "$out"; exit 1; }
    echo "$out" | grep -E "^test |test result|SKIPPED|refusal code visible" || true
    if echo "$out" | grep -q SKIPPED; then
      echo "proxy suite: a client test was SKIPPED (see above)" >&2
      exit 1
    fi
  '
echo "== proxy suite: passed"
