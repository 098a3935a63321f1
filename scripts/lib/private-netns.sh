# shellcheck shell=bash
# Sourced by the suites that run inside a private network namespace whose only interface is
# `lo` (sealed, proxy, resource, e2e-oidc): the prerequisites, checked one way everywhere.
# The sourcing script defines `skip MESSAGE` first (it says SKIPPED and decides the exit).

# Skips (via the caller's `skip`) unless this process may create a private network
# namespace: root, util-linux `unshare`, iproute2 `ip`, and the kernel allowing `unshare -n`.
require_private_netns() {
  [ "$(id -u)" = 0 ] || skip "not root (unshare -n, ip addr and cgroups need root)"
  command -v unshare >/dev/null 2>&1 || skip "unshare (util-linux) not installed"
  command -v ip >/dev/null 2>&1 || skip "ip (iproute2) not installed"
  unshare -n -- true 2>/dev/null || skip "unshare -n is not permitted here (no CAP_SYS_ADMIN?)"
}
