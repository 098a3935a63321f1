# shellcheck shell=bash
# Sourced by the suites that run inside a private network namespace whose only interface is
# `lo` (sealed, proxy, resource, e2e-oidc): the prerequisites, checked one way everywhere,
# and the test binary built outside the namespace.
# The sourcing script defines `skip MESSAGE` first (it says SKIPPED and decides the exit).

# Skips (via the caller's `skip`) unless this process may create a private network
# namespace: root, util-linux `unshare`, iproute2 `ip`, and the kernel allowing `unshare -n`.
require_private_netns() {
  [ "$(id -u)" = 0 ] || skip "not root (unshare -n, ip addr and cgroups need root)"
  command -v unshare >/dev/null 2>&1 || skip "unshare (util-linux) not installed"
  command -v ip >/dev/null 2>&1 || skip "ip (iproute2) not installed"
  unshare -n -- true 2>/dev/null || skip "unshare -n is not permitted here (no CAP_SYS_ADMIN?)"
}

# Builds the integration-test target NAME outside the namespace (cargo may need the
# network) and prints its executable's path; on failure prints the build log and exits 1.
build_test_binary() {
  local name=$1 log bin
  log=$(mktemp)
  bin=$(cargo test --locked --no-run --test "$name" --message-format=json 2>"$log" |
    grep -o "\"executable\":\"[^\"]*/$name-[^\"]*\"" | tail -n 1 | cut -d'"' -f4) || true
  if [ -z "$bin" ] || [ ! -x "$bin" ]; then
    cat "$log" >&2
    rm -f "$log"
    echo "could not build or find the $name test binary" >&2
    exit 1
  fi
  rm -f "$log"
  echo "$bin"
}
