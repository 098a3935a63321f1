#!/usr/bin/env bash
# The resource suite (issue 12 "Proof"): the release `portcullis serve` in a memory-capped
# cgroup, inside a private network namespace whose only interface is `lo`, attacked class by
# class (examples/attack.rs: h2 idlers, window-0 and control-frame floods, padded documents,
# slow-drip origins, redirectors → one victim, cache-busting on a shared host) while a
# legitimate caller is measured. Fails if a class fails; never skips silently.
#
# Needs root, `unshare` (util-linux), `ip` (iproute2) and the cgroup `memory` controller
# (v1 at /sys/fs/cgroup/memory, or v2 with `memory` in cgroup.subtree_control).
# Env: MEMORY_MAX (default 256M), SECS per class (default 20), CLASSES (default 1,2,3,4,5,6),
# ALLOW_SKIP=1 to exit 0 (with SKIPPED printed) when the prerequisites are missing.
# Usage: bash scripts/resource-suite.sh
set -euo pipefail
cd "$(dirname "$0")/.."
MEMORY_MAX=${MEMORY_MAX:-256M}
SECS=${SECS:-20}
CLASSES=${CLASSES:-1,2,3,4,5,6}

skip() {
  echo "resource suite SKIPPED: $*"
  [ "${ALLOW_SKIP:-0}" = 1 ] && exit 0
  echo "(set ALLOW_SKIP=1 to accept the skip)"
  exit 1
}

# shellcheck source=lib/private-netns.sh
. scripts/lib/private-netns.sh
require_private_netns

# The cgroup: v1 memory controller, else v2.
name="portcullis-resource-$$"
if [ -d /sys/fs/cgroup/memory ] && [ -w /sys/fs/cgroup/memory ]; then
  cg=/sys/fs/cgroup/memory/$name
  mkdir "$cg" || skip "cannot create $cg"
  echo "$MEMORY_MAX" >"$cg/memory.limit_in_bytes"
  # Memory+swap too, when swap accounting exists: the cap must be real.
  [ -f "$cg/memory.memsw.limit_in_bytes" ] && echo "$MEMORY_MAX" >"$cg/memory.memsw.limit_in_bytes" || true
  echo "cgroup v1: $cg, memory.limit_in_bytes=$(cat "$cg/memory.limit_in_bytes")"
elif [ -f /sys/fs/cgroup/cgroup.controllers ] && grep -qw memory /sys/fs/cgroup/cgroup.controllers; then
  grep -qw memory /sys/fs/cgroup/cgroup.subtree_control ||
    echo +memory >/sys/fs/cgroup/cgroup.subtree_control 2>/dev/null || true
  cg=/sys/fs/cgroup/$name
  mkdir "$cg" || skip "cannot create $cg"
  echo "$MEMORY_MAX" >"$cg/memory.max" || skip "cannot set memory.max (memory controller not delegated)"
  [ -f "$cg/memory.swap.max" ] && echo 0 >"$cg/memory.swap.max" || true
  echo "cgroup v2: $cg, memory.max=$(cat "$cg/memory.max")"
else
  skip "no cgroup memory controller (v1 /sys/fs/cgroup/memory or v2 memory)"
fi
cleanup() {
  # Processes left in the cgroup (only ours: the service started by the driver).
  if [ -f "$cg/cgroup.procs" ]; then
    while read -r pid; do kill "$pid" 2>/dev/null || true; done <"$cg/cgroup.procs"
    sleep 0.5
  fi
  rmdir "$cg" 2>/dev/null || true
}
trap cleanup EXIT

# Build outside the namespace (cargo may need the network); run inside.
echo "== resource suite: building release portcullis and examples/attack.rs"
cargo build --release --locked --bin portcullis --example attack

echo "== resource suite: entering a private network namespace"
RESOURCE_CG="$cg" RESOURCE_SECS="$SECS" RESOURCE_CLASSES="$CLASSES" \
  unshare -n -- bash -euo pipefail -c '
    ip link set lo up
    ip addr add 127.0.0.2/8 dev lo 2>/dev/null || true
    others=$(ip -o link show | awk -F": " "{print \$2}" | grep -vx lo || true)
    if [ -n "$others" ]; then echo "NOT ISOLATED: interfaces $others" >&2; exit 1; fi
    if [ -n "$(ip route show default)$(ip -6 route show default)" ]; then
      echo "NOT ISOLATED: a default route exists" >&2; exit 1
    fi
    echo "isolated: interfaces [lo]"
    ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)"
    exec target/release/examples/attack suite --portcullis target/release/portcullis \
      --cgroup "$RESOURCE_CG" --secs "$RESOURCE_SECS" --classes "$RESOURCE_CLASSES"
  '
