#!/usr/bin/env bash
# `certloop serve` driven by curl, as a pipeline would: a token per profile, Infisical's issue
# body verbatim, the certificate verified by openssl against the internal root, a token for
# profile A refused on profile B (403, and audited), a revoked certificate in the CRL, and
# /metrics. The Rust tests (serve/tests/rest.rs) cover the rest with a real HTTP client.
set -euo pipefail
cd "$(dirname "$0")/../.."
. scripts/lib.sh

ensure_apt openssl openssl
ensure_apt curl curl
export CARGO_INCREMENTAL=0

step "cargo build certloop (serve)"
# --workspace, as scripts/test built it: `-p certloop-cli` unifies features differently and
# rebuilds half the tree (minutes on two cores).
cargo build -q --workspace --bins --locked
certloop="$PWD/target/debug/certloop"

work=$(mktemp -d "${TMPDIR:-/tmp}/certloop-serve.XXXXXX")
server_pid=
cleanup() {
  if [ -n "$server_pid" ]; then kill "$server_pid" 2>/dev/null || true; wait "$server_pid" 2>/dev/null || true; fi
  rm -rf "$work"
}
trap cleanup EXIT
export CERTLOOP_HOME="$work/home"
cl() { "$certloop" --home "$CERTLOOP_HOME" "$@"; }

# fail MESSAGE: print the server's log and stop.
fail() {
  echo "stage 55-serve: $*" >&2
  echo "--- server log" >&2
  cat "$work/server.log" >&2 || true
  exit 1
}

step "certloop init, a second profile, two tokens"
cl init >/dev/null
cat >"$work/other.json" <<'EOF'
{"slug": "other", "templateId": "tls-server", "issuer": {"type": "internalCa", "caId": "certloop-issuing"}}
EOF
cl profile create --file "$work/other.json" >/dev/null
cl token create --name pipeline-a --profile tls-server --action issue --action read >"$work/token-a" 2>/dev/null
cl token create --name admin --profile '*' --action all >"$work/token-admin" 2>/dev/null
token_a=$(cat "$work/token-a")
token_admin=$(cat "$work/token-admin")
cl token list | grep -q pipeline-a || fail "token list does not show pipeline-a"
if cl token list --json | grep -q "${token_a##*_}"; then fail "token list shows a secret"; fi

step "certloop serve on a free loopback port"
port=$(free_port)
# The program itself in the background (not through `cl`, a function: its subshell would get
# the SIGTERM below instead of certloop).
"$certloop" --home "$CERTLOOP_HOME" -v serve --listen "127.0.0.1:$port" >"$work/server.out" 2>"$work/server.log" &
server_pid=$!
wait_for_port "$port" 60 || fail "the server did not listen"
base="http://127.0.0.1:$port/api/v1/cert-manager"
grep -q "listening on http://127.0.0.1:$port" "$work/server.out" || fail "no listening line"

step "Infisical's issue request, verbatim, with curl"
status=$(curl -sS -o "$work/issued.json" -w '%{http_code}' --request POST "$base/certificates" \
  --header "Authorization: Bearer $token_a" \
  --header 'Content-Type: application/json' \
  --data-raw '{
"profileId": "tls-server",
"attributes": {
"commonName": "service.acme.com",
"ttl": "90d",
"keyAlgorithm": "EC_prime256v1",
"keyUsages": ["digital_signature", "key_encipherment"],
"extendedKeyUsages": ["server_auth"],
"altNames": [
{
"type": "DNS",
"value": "service.acme.com"
},
{
"type": "DNS",
"value": "www.service.acme.com"
}
]
}
}')
[ "$status" = 201 ] || fail "issue answered $status: $(cat "$work/issued.json")"
python3 - "$work" <<'PY'
import json, sys
work = sys.argv[1]
issued = json.load(open(f"{work}/issued.json"))
cert = issued["certificate"]
open(f"{work}/leaf.pem", "w").write(cert["certificate"])
chain = cert["certificateChain"]
# The chain runs from the issuing CA to the root: the last one is the trust anchor.
marker = "-----BEGIN CERTIFICATE-----"
parts = [marker + p for p in chain.split(marker)[1:]]
open(f"{work}/root.pem", "w").write(parts[-1])
open(f"{work}/intermediates.pem", "w").write("".join(parts[:-1]))
assert "BEGIN PRIVATE KEY" in cert["privateKey"], "a generated key comes back once"
open(f"{work}/id", "w").write(cert["certificateId"])
PY
openssl verify -CAfile "$work/root.pem" -untrusted "$work/intermediates.pem" -purpose sslserver \
  "$work/leaf.pem" || fail "openssl does not verify the issued certificate"
openssl x509 -in "$work/leaf.pem" -noout -ext subjectAltName | grep -q "www.service.acme.com" ||
  fail "SAN missing"
id=$(cat "$work/id")

step "a token for profile tls-server is refused on profile other (403)"
status=$(curl -sS -o "$work/refused.json" -w '%{http_code}' -X POST "$base/certificates" \
  -H "Authorization: Bearer $token_a" -H 'Content-Type: application/json' \
  -d '{"profileId": "other", "attributes": {"commonName": "b.example"}}')
[ "$status" = 403 ] || fail "expected 403, got $status: $(cat "$work/refused.json")"
grep -q '"code":"FORBIDDEN"' "$work/refused.json" || fail "no FORBIDDEN code: $(cat "$work/refused.json")"
status=$(curl -sS -o /dev/null -w '%{http_code}' -X POST "$base/certificates/$id/revoke" \
  -H "Authorization: Bearer $token_a" -H 'Content-Type: application/json' -d '{}')
[ "$status" = 403 ] || fail "a token without revoke revoked ($status)"
status=$(curl -sS -o /dev/null -w '%{http_code}' "$base/certificates")
[ "$status" = 401 ] || fail "no token answered $status"

step "bad input: malformed JSON, wrong content type; the server keeps serving"
status=$(curl -sS -o "$work/bad.json" -w '%{http_code}' -X POST "$base/certificates" \
  -H "Authorization: Bearer $token_admin" -H 'Content-Type: application/json' -d '{"profileId":')
[ "$status" = 400 ] && grep -q MALFORMED_JSON "$work/bad.json" || fail "malformed JSON: $status"
status=$(curl -sS -o /dev/null -w '%{http_code}' -X POST "$base/certificates" \
  -H "Authorization: Bearer $token_admin" -H 'Content-Type: text/plain' -d '{}')
[ "$status" = 415 ] || fail "wrong content type answered $status"

step "revoke with the admin token; the CRL lists it"
curl -sfS -X POST "$base/certificates/$id/revoke" -H "Authorization: Bearer $token_admin" \
  -H 'Content-Type: application/json' -d '{"revocationReason": "keyCompromise"}' >"$work/revoked.json" ||
  fail "revoke failed"
grep -q '"state":"revoked"' "$work/revoked.json" || fail "not revoked: $(cat "$work/revoked.json")"
curl -sfS "$base/cas/certloop-issuing/crl" -H "Authorization: Bearer $token_admin" \
  -H 'Accept: application/pkix-crl' -o "$work/crl.der" || fail "CRL download failed"
cat "$work/intermediates.pem" "$work/root.pem" >"$work/chain.pem"
openssl crl -inform DER -in "$work/crl.der" -CAfile "$work/chain.pem" -noout 2>&1 | grep -q "verify OK" ||
  fail "openssl does not verify the CRL's signature"
serial=$(openssl x509 -in "$work/leaf.pem" -noout -serial | cut -d= -f2)
openssl crl -inform DER -in "$work/crl.der" -noout -text | tr -d ' :' | grep -qi "SerialNumber$serial" ||
  fail "the CRL does not list serial $serial"

step "/metrics"
curl -sfS "http://127.0.0.1:$port/metrics" >"$work/metrics.txt" || fail "no metrics"
grep -q '^certloop_certificates{state="revoked"} 1$' "$work/metrics.txt" || fail "metrics: $(cat "$work/metrics.txt")"

step "SIGTERM stops the server; the audit log names each token"
kill -TERM "$server_pid"
wait "$server_pid" || fail "the server exited with an error after SIGTERM"
server_pid=
cl audit --json >"$work/audit.json"
python3 - "$work" "$token_a" <<'PY'
import json, sys
work, token = sys.argv[1], sys.argv[2]
events = json.load(open(f"{work}/audit.json"))
requests = [e for e in events if e["action"] == "apiRequest"]
refused = [e for e in requests if e["actor"] == "token:pipeline-a" and e["detail"].endswith(" 403")]
assert len(refused) == 2, requests
assert any(e["actor"] == "anonymous" and e["detail"].endswith(" 401") for e in requests)
issued = [e for e in events if e["action"] == "issued" and e["actor"] == "token:pipeline-a"]
assert len(issued) == 1, issued
text = open(f"{work}/audit.json").read() + open(f"{work}/server.log").read()
assert token.split("_")[-1] not in text, "a token secret reached the audit log or the server log"
print(f"{len(requests)} requests audited")
PY
grep -q "request" "$work/server.log" || fail "-v logs no requests"
