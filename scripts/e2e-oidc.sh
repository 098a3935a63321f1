#!/usr/bin/env bash
# Issue 14 end-to-end: oidc-provider 9.x (CIMD through the Node kit) + the MCP TypeScript SDK
# client doing a full authorization-code + PKCE login, then hostile client_ids, inside a
# private network namespace whose only interface is `lo` (169.254.169.254 and 10.0.0.5 are
# added to that `lo` so the lab can count connections to them). Nothing leaves the machine.
#
# Needs node + npm, root, `unshare` and `ip`. Without root / unshare it says SKIPPED and
# exits 0. Usage: bash scripts/e2e-oidc.sh
set -euo pipefail
cd "$(dirname "$0")/.."

skip() {
  echo "e2e-oidc SKIPPED: $*"
  exit 0
}

command -v node >/dev/null 2>&1 || skip "node is not installed"
command -v npm >/dev/null 2>&1 || skip "npm is not installed"
# shellcheck source=lib/private-netns.sh
. scripts/lib/private-netns.sh
require_private_netns

# Everything that may need the network happens here, outside the namespace.
echo "== e2e-oidc: building the service and the test lab"
cargo build --locked --bin portcullis --example testlab
target_dir=$(cargo metadata --format-version 1 --no-deps | sed -n 's/.*"target_directory":"\([^"]*\)".*/\1/p')
export PORTCULLIS_BIN="$target_dir/debug/portcullis"
export PORTCULLIS_TESTLAB="$target_dir/debug/examples/testlab"
echo "== e2e-oidc: npm ci (clients/node, tests/e2e-oidc)"
(cd clients/node && npm ci --no-audit --no-fund --loglevel=error)
(cd tests/e2e-oidc && npm ci --no-audit --no-fund --loglevel=error)

echo "== e2e-oidc: entering a private network namespace"
PORTCULLIS_SEALED=1 unshare -n -- bash -euo pipefail -c '
  ip link set lo up
  ip addr add 169.254.169.254/32 dev lo
  ip addr add 10.0.0.5/32 dev lo
  others=$(ip -o link show | awk -F": " "{print \$2}" | grep -vx lo || true)
  if [ -n "$others" ]; then echo "NOT ISOLATED: interfaces $others" >&2; exit 1; fi
  if [ -n "$(ip route show default)$(ip -6 route show default)" ]; then
    echo "NOT ISOLATED: a default route exists" >&2; exit 1
  fi
  cd tests/e2e-oidc
  exec timeout 180 node --test e2e.test.js
'
echo "== e2e-oidc: passed"
