#!/usr/bin/env bash
# Checks the observability contract with Prometheus's own tool:
#   - /metrics of a test instance after real traffic passes `promtool check metrics`;
#   - deploy/prometheus/alerts.yml passes `promtool check rules` and its unit tests
#     (`promtool test rules deploy/prometheus/alerts_test.yml`);
#   - every query of deploy/grafana/portcullis.json parses (`promtool check rules`).
# promtool comes from Debian's `prometheus` package. The package is downloaded and only
# promtool is unpacked; installing it would also start a Prometheus server.
set -euo pipefail
echo "== observability (promtool)"
cd "$(dirname "$0")/.."

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

promtool="$(command -v promtool || true)"
if [ -z "$promtool" ]; then
  cache="${PORTCULLIS_PROMTOOL_DIR:-/tmp/portcullis-promtool}"
  if [ ! -x "$cache/usr/bin/promtool" ]; then
    echo "== promtool: unpacking it from the Debian prometheus package"
    mkdir -p "$cache"
    (
      cd "$work"
      if ! apt-get download prometheus >/dev/null 2>&1; then
        apt-get update -qq
        apt-get download prometheus >/dev/null
      fi
      dpkg-deb -x prometheus_*.deb "$cache"
    )
  fi
  promtool="$cache/usr/bin/promtool"
fi
"$promtool" --version | head -n 1

echo "== telemetry tests (scrape /metrics after traffic)"
PORTCULLIS_METRICS_DUMP="$work/metrics.txt" \
PORTCULLIS_DASHBOARD_RULES="$work/dashboard-rules.yml" \
  cargo test --locked --test suite telemetry_e2e
PORTCULLIS_PROXY_METRICS_DUMP="$work/proxy-metrics.txt" \
  cargo test --locked --test suite proxy::an_allowed_target_is_tunnelled_pinned_and_audited
for f in metrics.txt dashboard-rules.yml proxy-metrics.txt; do
  if [ ! -s "$work/$f" ]; then
    echo "telemetry tests did not write $f" >&2
    exit 1
  fi
done

echo "== promtool check metrics"
lint="$("$promtool" check metrics <"$work/metrics.txt" 2>&1)" || {
  echo "$lint" >&2
  exit 1
}

echo "== promtool check metrics (fleet series; needs redis-server, else the test says SKIPPED)"
PORTCULLIS_FLEET_METRICS_DUMP="$work/fleet-metrics.txt" \
  cargo test --locked --test suite fleet::three_replicas
if [ -s "$work/fleet-metrics.txt" ]; then
  lint="$("$promtool" check metrics <"$work/fleet-metrics.txt" 2>&1)" || {
    echo "$lint" >&2
    exit 1
  }
else
  echo "SKIPPED: fleet metrics not dumped (redis-server not installed)"
fi
if [ -n "$lint" ]; then
  echo "$lint" >&2
  exit 1
fi
echo "$(grep -c '^# TYPE portcullis_' "$work/metrics.txt") metrics, no problem"
lint="$("$promtool" check metrics <"$work/proxy-metrics.txt" 2>&1)" || {
  echo "$lint" >&2
  exit 1
}
if [ -n "$lint" ]; then
  echo "$lint" >&2
  exit 1
fi
echo "$(grep -c '^# TYPE portcullis_proxy_' "$work/proxy-metrics.txt") proxy metrics, no problem"

echo "== promtool check rules"
"$promtool" check rules deploy/prometheus/alerts.yml
"$promtool" check rules "$work/dashboard-rules.yml"

echo "== promtool test rules"
"$promtool" test rules deploy/prometheus/alerts_test.yml
