#!/usr/bin/env bash
# RFC 9864 verdict-algorithm interop (issue 15): signs one verdict per algorithm (Ed25519,
# EdDSA, ES256) with the service's KeyRing and verifies each with four independent
# verifiers — Rust jsonwebtoken, joserfc and PyJWT (pinned in tests/interop/python/
# requirements.txt, in a venv under target/), jose for Node (pinned by tests/interop/node/
# package-lock.json) — then prints the table and compares it with tests/interop/expected.txt
# (the table in docs/conformance.md). Fails when the table changes or when the default
# algorithm (config::DEFAULT_SIGNING_ALG, ES256) is not accepted by every verifier.
# No network except the package registries (pip, npm) on first run. Usage:
#   bash scripts/alg-interop.sh
set -euo pipefail
cd "$(dirname "$0")/.."

work=target/alg-interop
out=$work/out
mkdir -p "$out"

command -v python3 >/dev/null || { echo "alg interop FAILED: python3 missing"; exit 1; }
command -v npm >/dev/null || { echo "alg interop FAILED: node/npm missing"; exit 1; }

if [ ! -x "$work/venv/bin/python" ]; then
  python3 -m venv "$work/venv"
fi
"$work/venv/bin/pip" install -q -r tests/interop/python/requirements.txt
(cd tests/interop/node && npm ci --no-audit --no-fund --silent)

results=$(mktemp)
trap 'rm -f "$results"' EXIT
cargo run -q --locked --example alg_interop -- "$out" >>"$results"
"$work/venv/bin/python" tests/interop/python/verify.py "$out" >>"$results"
(cd tests/interop/node && node verify.mjs "../../../$out") >>"$results"

echo "verifier      | Ed25519 | EdDSA | ES256"
echo "--------------|---------|-------|------"
for v in jsonwebtoken joserfc PyJWT jose; do
  row="$(printf '%-13s' "$v")"
  for alg in Ed25519 EdDSA ES256; do
    line=$(grep -E "^$v $alg " "$results" || echo "$v $alg missing")
    verdict=$(echo "$line" | cut -d' ' -f3)
    case "$line" in *deprecat*) verdict="$verdict (deprecated)";; esac
    row="$row | $verdict"
  done
  echo "$row"
done
echo
echo "details:"
sed 's/^/  /' "$results"

# Compare with the documented table: verifier alg accept|accept-deprecated|reject.
got=$(awk '{v=$3; if ($0 ~ /deprecat/) v="accept-deprecated"; print $1, $2, v}' "$results" | sort)
want=$(sort tests/interop/expected.txt)
if [ "$got" != "$want" ]; then
  echo "alg interop FAILED: the table differs from tests/interop/expected.txt"
  diff <(echo "$want") <(echo "$got") || true
  exit 1
fi
if grep -E " ES256 " "$results" | grep -qv " accept"; then
  echo "alg interop FAILED: the default algorithm ES256 is not accepted by every verifier"
  exit 1
fi
echo "alg interop OK: the table matches tests/interop/expected.txt; ES256 accepted by all"
