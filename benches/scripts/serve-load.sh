#!/usr/bin/env bash
# REST issue requests/s: ApacheBench (Debian's apache2-utils) POSTs the issue body to a release
# `certloop serve` on loopback (SQLite + internal CA, every request authenticated and audited),
# beside the in-process façade issuing the same certificates one by one into an SQLite file
# (certloop-issue-leaves --mode facade), in the same run. Bounded: N requests, C at a time.
#
#   bash benches/scripts/serve-load.sh [REQUESTS] [CONCURRENCY]
set -euo pipefail
cd "$(dirname "$0")/../.."
. scripts/lib.sh

requests=${1:-5000}
concurrency=${2:-4}
ensure_apt ab apache2-utils
ensure_apt curl curl

step "release build (certloop, certloop-issue-leaves)"
cargo build --release --locked -q -p certloop-cli -p certloop-benches
certloop="$PWD/target/release/certloop"
leaves="$PWD/target/release/certloop-issue-leaves"

work=$(mktemp -d "${TMPDIR:-/tmp}/certloop-serve-load.XXXXXX")
server_pid=
cleanup() {
  if [ -n "$server_pid" ]; then kill "$server_pid" 2>/dev/null || true; wait "$server_pid" 2>/dev/null || true; fi
  rm -rf "$work"
}
trap cleanup EXIT
home="$work/home"
"$certloop" --home "$home" init >/dev/null
token=$("$certloop" --home "$home" token create --name load --profile tls-server --action issue 2>/dev/null)
printf '%s' '{"profileId": "tls-server", "attributes": {"commonName": "load.example", "altNames": [{"type": "DNS", "value": "load.example"}], "ttl": "30d"}}' >"$work/body.json"

port=$(free_port)
"$certloop" --home "$home" serve --listen "127.0.0.1:$port" >/dev/null 2>"$work/server.log" &
server_pid=$!
wait_for_port "$port" 60

step "ab: $requests issue requests, $concurrency at a time"
# Warm up (CA key unsealed, profile cached), then measure.
ab -q -n 50 -c 2 -p "$work/body.json" -T application/json -H "Authorization: Bearer $token" \
  "http://127.0.0.1:$port/api/v1/cert-manager/certificates" >/dev/null
ab -q -n "$requests" -c "$concurrency" -p "$work/body.json" -T application/json \
  -H "Authorization: Bearer $token" "http://127.0.0.1:$port/api/v1/cert-manager/certificates" \
  >"$work/ab.txt"
grep -E "^(Complete requests|Failed requests|Non-2xx responses|Requests per second|Time per request)" "$work/ab.txt"
if grep -q "^Non-2xx responses" "$work/ab.txt"; then
  echo "serve-load: some requests failed" >&2
  exit 1
fi
rest=$(awk '/^Requests per second/ {print $4}' "$work/ab.txt")
kill "$server_pid"; wait "$server_pid" 2>/dev/null || true; server_pid=

step "in-process: the façade issuing $requests one by one into SQLite"
inproc=$("$leaves" --count "$requests" --mode facade --store "$work/inproc.db")
echo "$inproc"
rate=$(python3 -c 'import json,sys; d=json.loads(sys.argv[1]); print(round(d["leaves"]/d["wall_seconds"]))' "$inproc")
echo
echo "REST issue: $rest requests/s (ab, $concurrency concurrent); in-process façade: $rate/s"
python3 -c 'import sys; r, i = float(sys.argv[1]), float(sys.argv[2]); print(f"REST / in-process = {r / i:.2f}")' "$rest" "$rate"
