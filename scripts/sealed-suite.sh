#!/usr/bin/env bash
# The sealed lab (issue 8): runs the adversarial catalogue (tests/adversarial/) inside a
# private network namespace whose only interface is `lo`. "Internal" addresses are put on
# that `lo`, so the lab's DNS responder and TLS origins can listen on them and any
# connection a regression let through would be seen — and could not leave the machine.
#
# Needs root, `unshare` (util-linux) and `ip` (iproute2). Without them it says so and
# exits 0 (skipped); CI runs as root, so there it runs. Usage: bash scripts/sealed-suite.sh
set -euo pipefail
cd "$(dirname "$0")/.."

skip() {
  echo "sealed suite SKIPPED: $*"
  exit 0
}

# shellcheck source=lib/private-netns.sh
. scripts/lib/private-netns.sh
require_private_netns

# Build outside the namespace (cargo may need the network); run the binary inside.
echo "== sealed suite: building tests/adversarial/"
summary=$(mktemp)
trap 'rm -f "$summary"' EXIT
bin=$(build_test_binary adversarial)

echo "== sealed suite: entering a private network namespace"
PORTCULLIS_SEALED=1 PORTCULLIS_SEALED_SUMMARY="$summary" SEALED_BIN="$bin" \
  unshare -n -- bash -euo pipefail -c '
    ip link set lo up
    for a in 10.0.0.1/32 169.254.169.254/32 192.168.1.1/32 203.0.113.10/32; do
      ip addr add "$a" dev lo
    done
    ip -6 addr add fd00:ec2::254/128 dev lo nodad

    # Isolation check: only lo exists, no default route, every route uses lo.
    others=$(ip -o link show | awk -F": " "{print \$2}" | grep -vx lo || true)
    if [ -n "$others" ]; then echo "NOT ISOLATED: interfaces $others" >&2; exit 1; fi
    if [ -n "$(ip route show default)$(ip -6 route show default)" ]; then
      echo "NOT ISOLATED: a default route exists" >&2; exit 1
    fi
    if ip -o route show table all | grep -v " dev lo " | grep -q .; then
      echo "NOT ISOLATED: a route not via lo" >&2; ip route show table all >&2; exit 1
    fi
    echo "isolated: interfaces [lo], addresses:"
    ip -o addr show dev lo | awk "{print \"  \" \$4}"

    exec "$SEALED_BIN" --include-ignored --test-threads=2 --nocapture
  '
echo "== sealed suite: passed"
cat "$summary"
