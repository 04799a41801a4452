#!/usr/bin/env bash
# Per-certificate cost of the script CA connector, through the CLI's batch issue (one process,
# the module stays loaded): the same openssl-backed example script in a child python3 and in
# the embedded interpreter, with the embedded internal CA measured in the same run as the peer.
# When python3 has the `cryptography` package, the same for examples/script-ca/crypto_ca.py,
# which signs in Python without starting a process per certificate.
# Usage: bash benches/scripts/script-ca.sh [COUNT]   (builds the CLI in release first)
set -euo pipefail
cd "$(dirname "$0")/../.."
count=${1:-200}
cargo build --release -p certloop-cli --locked -q
bin=target/release/certloop
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
home=$work/state
"$bin" --home "$home" init >/dev/null
for isolation in process inProcess; do
  cat >"$work/$isolation.json" <<JSON
{"slug": "corp-$(echo "$isolation" | tr 'A-Z' 'a-z')", "templateId": "tls-server",
 "issuer": {"type": "script", "path": "$PWD/examples/script-ca/corp_ca.py",
            "isolation": "$isolation",
            "params": [{"name": "ca_dir", "value": "$work/ca"},
                       {"name": "password", "value": "bench", "sensitive": true},
                       {"name": "ticket", "dynamic": true}]}}
JSON
  "$bin" --home "$home" profile create --file "$work/$isolation.json" >/dev/null
done
run() {
  local label=$1
  shift
  local start end
  start=$(date +%s%N)
  "$bin" --home "$home" issue --cn bench.corp --count "$count" --json "$@" >/dev/null
  end=$(date +%s%N)
  echo "$label $(( (end - start) / count / 1000 ))"
}
crypto=no
if python3 -c 'import cryptography' 2>/dev/null; then
  crypto=yes
  for isolation in process inProcess; do
    cat >"$work/crypto-$isolation.json" <<JSON
{"slug": "crypto-$(echo "$isolation" | tr 'A-Z' 'a-z')", "templateId": "tls-server",
 "issuer": {"type": "script", "path": "$PWD/examples/script-ca/crypto_ca.py",
            "isolation": "$isolation", "interpreter": "$(command -v python3)"}}
JSON
    "$bin" --home "$home" profile create --file "$work/crypto-$isolation.json" >/dev/null
  done
fi
echo "# microseconds per certificate, $count certificates per run"
run internal-ca --profile tls-server
run script-process --profile corp-process --param ticket=CHG-1
run script-inprocess --profile corp-inprocess --param ticket=CHG-1
if [ "$crypto" = yes ]; then
  run crypto-process --profile crypto-process
  run crypto-inprocess --profile crypto-inprocess
fi
