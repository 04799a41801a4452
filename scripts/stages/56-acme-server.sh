#!/usr/bin/env bash
# certloop serve's ACME server, driven by the real clients: certbot (RSA account key, RS256)
# and lego (P-256 account key, ES256) obtain, renew and revoke a certificate over HTTP-01 on
# loopback; each certificate verifies with `openssl verify` against the internal root, each
# revocation shows in the inventory, and ARI (RFC 9773) answers a window for the certificate;
# certbot binds an external account where the profile requires one, and lego runs again over
# the server's own TLS.
set -euo pipefail
cd "$(dirname "$0")/../.."
. scripts/lib.sh

ensure_apt openssl openssl
ensure_apt curl curl
ensure_apt certbot certbot
ensure_apt lego lego
export CARGO_INCREMENTAL=0

step "cargo build certloop (ACME server)"
cargo build -q --workspace --bins --locked
certloop="$PWD/target/debug/certloop"

work=$(mktemp -d "${TMPDIR:-/tmp}/certloop-acme-server.XXXXXX")
server_pid=
cleanup() {
  if [ -n "$server_pid" ]; then kill "$server_pid" 2>/dev/null || true; wait "$server_pid" 2>/dev/null || true; fi
  rm -rf "$work"
}
trap cleanup EXIT
export CERTLOOP_HOME="$work/home"
cl() { "$certloop" --home "$CERTLOOP_HOME" "$@"; }

fail() {
  echo "stage 56-acme-server: $*" >&2
  echo "--- server log" >&2
  cat "$work/server.log" >&2 || true
  exit 1
}

step "an ACME-enrolled profile on the internal CA"
cl init >/dev/null
cat >"$work/acme.json" <<'EOF'
{"slug": "acme", "templateId": "tls-server", "issuer": {"type": "internalCa", "caId": "certloop-issuing"},
 "enrollmentType": "ACME", "apiConfig": {"autoRenew": true, "renewBeforeDays": 30}}
EOF
cl profile create --file "$work/acme.json" >/dev/null
cat >"$work/acme-eab.json" <<'EOF'
{"slug": "acme-eab", "templateId": "tls-server", "issuer": {"type": "internalCa", "caId": "certloop-issuing"},
 "enrollmentType": "ACME", "acmeConfig": {"externalAccountRequired": true}}
EOF
cl profile create --file "$work/acme-eab.json" >/dev/null
cl acme eab create --profile acme-eab --json >"$work/eab.json"
eab_kid=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["kid"])' "$work/eab.json")
eab_hmac=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["hmacKey"])' "$work/eab.json")
cl ca export certloop-root >"$work/root.pem"

step "certloop serve with HTTP-01 validation on loopback"
port=$(free_port)
http01=$(free_port)
"$certloop" --home "$CERTLOOP_HOME" -v serve --listen "127.0.0.1:$port" \
  --acme-http01-port "$http01" \
  --acme-resolve www.certbot.test=127.0.0.1 --acme-resolve www.lego.test=127.0.0.1 \
  >"$work/server.out" 2>"$work/server.log" &
server_pid=$!
wait_for_port "$port" 60 || fail "the server did not listen"
directory="http://127.0.0.1:$port/acme/acme/directory"
curl -sfS "$directory" | grep -q '"newOrder"' || fail "no directory"

# verify CERT_WITH_CHAIN: the leaf verifies against the internal root with the rest as chain.
verify() {
  awk 'n>=1; /END CERTIFICATE/{n++}' "$1" >"$work/untrusted.pem"
  openssl verify -CAfile "$work/root.pem" -untrusted "$work/untrusted.pem" "$1" >/dev/null ||
    fail "$1 does not verify against the internal root"
}
serial_of() { openssl x509 -in "$1" -noout -serial | cut -d= -f2 | tr 'A-F' 'a-f' | sed 's/^0*//'; }
# state_of SERIAL: the inventory state of the certificate with that serial.
state_of() {
  cl list --json | python3 -c '
import json, sys
serial = sys.argv[1]
print(next(r["state"] for r in json.load(sys.stdin) if r["serialNumber"].lstrip("0") == serial))' "$1"
}

cb=(--non-interactive --config-dir "$work/certbot/config" --work-dir "$work/certbot/work"
  --logs-dir "$work/certbot/logs")
step "certbot: obtain (standalone HTTP-01)"
timeout 180 certbot certonly "${cb[@]}" --standalone --agree-tos --register-unsafely-without-email \
  --server "$directory" --http-01-address 127.0.0.1 --http-01-port "$http01" \
  -d www.certbot.test >"$work/certbot.out" 2>&1 || { cat "$work/certbot.out"; fail "certbot certonly failed"; }
live="$work/certbot/config/live/www.certbot.test"
verify "$live/fullchain.pem"
first=$(serial_of "$live/cert.pem")
openssl x509 -in "$live/cert.pem" -noout -ext subjectAltName | grep -q "DNS:www.certbot.test" ||
  fail "the certbot certificate lacks its name"

step "ARI: renewal-info for certbot's certificate"
b64url() { xxd -r -p | base64 -w0 | tr '+/' '-_' | tr -d '='; }
aki=$(openssl x509 -in "$live/cert.pem" -noout -ext authorityKeyIdentifier | tail -n +2 | sed 's/keyid://' | tr -d ' :\n')
ari_id="$(printf '%s' "$aki" | b64url).$(printf '%s' "$first" | sed 's/^\(.\(..\)*\)$/0\1/' | b64url)"
curl -sfS -D "$work/ari.headers" "http://127.0.0.1:$port/acme/acme/renewal-info/$ari_id" >"$work/ari.json" ||
  fail "renewal-info failed for $ari_id"
python3 - "$work/ari.json" <<'EOF' || fail "renewal-info window is wrong"
import datetime, json, sys
w = json.load(open(sys.argv[1]))["suggestedWindow"]
start, end = (datetime.datetime.fromisoformat(w[k].replace("Z", "+00:00")) for k in ("start", "end"))
now = datetime.datetime.now(datetime.timezone.utc)
assert now < start < end, w  # 90 days, renew 30 days before: the window is weeks away
print("ARI window", w)
EOF
grep -qi '^retry-after:' "$work/ari.headers" || fail "renewal-info without Retry-After"

step "certbot: renew, then revoke"
timeout 180 certbot renew "${cb[@]}" --force-renewal --no-random-sleep-on-renew >"$work/certbot.out" 2>&1 ||
  { cat "$work/certbot.out"; fail "certbot renew failed"; }
verify "$live/fullchain.pem"
second=$(serial_of "$live/cert.pem")
[ "$second" != "$first" ] || fail "certbot renew kept the same certificate"
timeout 180 certbot revoke "${cb[@]}" --server "$directory" --cert-path "$live/cert.pem" \
  --reason keycompromise --no-delete-after-revoke >"$work/certbot.out" 2>&1 ||
  { cat "$work/certbot.out"; fail "certbot revoke failed"; }
[ "$(state_of "$second")" = revoked ] || fail "certbot's revocation did not reach the inventory"
[ "$(state_of "$first")" = issued ] || fail "the first certbot certificate changed state"

step "certbot with an external account binding (a profile that requires one)"
eab=(--non-interactive --config-dir "$work/certbot-eab/config" --work-dir "$work/certbot-eab/work"
  --logs-dir "$work/certbot-eab/logs" --server "http://127.0.0.1:$port/acme/acme-eab/directory")
if timeout 180 certbot register "${eab[@]}" --agree-tos --register-unsafely-without-email >"$work/certbot.out" 2>&1; then
  fail "certbot registered without the external account binding the profile requires"
fi
grep -qi "external account" "$work/certbot.out" || { cat "$work/certbot.out"; fail "no externalAccountRequired error"; }
timeout 180 certbot certonly "${eab[@]}" --standalone --agree-tos --register-unsafely-without-email \
  --eab-kid "$eab_kid" --eab-hmac-key "$eab_hmac" --http-01-address 127.0.0.1 --http-01-port "$http01" \
  -d www.certbot.test >"$work/certbot.out" 2>&1 || { cat "$work/certbot.out"; fail "certbot with EAB failed"; }
verify "$work/certbot-eab/config/live/www.certbot.test/fullchain.pem"

lg=(--accept-tos --email ops@example.test --server "$directory" --path "$work/lego"
  --domains www.lego.test --http --http.port "127.0.0.1:$http01")
step "lego: obtain, renew, revoke (HTTP-01, ES256 account key)"
timeout 180 lego "${lg[@]}" run >"$work/lego.out" 2>&1 || { cat "$work/lego.out"; fail "lego run failed"; }
crt="$work/lego/certificates/www.lego.test.crt"
verify "$crt"
lego_first=$(serial_of "$crt")
timeout 180 lego "${lg[@]}" renew --days 3650 --no-random-sleep >"$work/lego.out" 2>&1 ||
  { cat "$work/lego.out"; fail "lego renew failed"; }
verify "$crt"
lego_second=$(serial_of "$crt")
[ "$lego_second" != "$lego_first" ] || fail "lego renew kept the same certificate"
timeout 180 lego "${lg[@]}" revoke >"$work/lego.out" 2>&1 || { cat "$work/lego.out"; fail "lego revoke failed"; }
[ "$(state_of "$lego_second")" = revoked ] || fail "lego's revocation did not reach the inventory"

step "the same server over its own TLS: lego against an https directory"
kill -TERM "$server_pid"
wait "$server_pid" || fail "the server exited with an error after SIGTERM"
server_pid=
cl issue --cn localhost --san IP:127.0.0.1 --san DNS:localhost --out "$work/tls" >/dev/null
"$certloop" --home "$CERTLOOP_HOME" serve --listen "127.0.0.1:$port" \
  --tls-cert "$work/tls/fullchain.pem" --tls-key "$work/tls/key.pem" \
  --acme-http01-port "$http01" --acme-resolve www.lego.test=127.0.0.1 \
  >"$work/server.out" 2>>"$work/server.log" &
server_pid=$!
wait_for_port "$port" 60 || fail "the TLS server did not listen"
grep -q "listening on https://127.0.0.1:$port" "$work/server.out" || fail "no https listening line"
https_directory="https://127.0.0.1:$port/acme/acme/directory"
curl -sfS --cacert "$work/root.pem" "$https_directory" | grep -q "\"newOrder\":\"https://127.0.0.1:$port/" ||
  fail "the https directory does not link https URLs"
if curl -sS -o /dev/null "$https_directory" 2>/dev/null; then fail "curl trusted the server without the root"; fi
LEGO_CA_CERTIFICATES="$work/root.pem" timeout 180 lego --accept-tos --email ops@example.test \
  --server "$https_directory" --path "$work/lego-tls" --domains www.lego.test \
  --http --http.port "127.0.0.1:$http01" run >"$work/lego.out" 2>&1 ||
  { cat "$work/lego.out"; fail "lego over https failed"; }
verify "$work/lego-tls/certificates/www.lego.test.crt"

step "SIGTERM; the audit log has the accounts, validations and issuances"
kill -TERM "$server_pid"
wait "$server_pid" || fail "the TLS server exited with an error after SIGTERM"
server_pid=
cl audit --json >"$work/audit.json"
python3 - "$work/audit.json" <<'EOF' || fail "the audit log is missing ACME events"
import collections, json, sys
events = json.load(open(sys.argv[1]))
count = collections.Counter(e["action"] for e in events)
assert count["acmeAccountRegistered"] == 4, count
assert count["acmeChallengeValidated"] >= 6, count
issued = [e for e in events if e["action"] == "issued" and e["actor"].startswith("acme:")]
assert len(issued) == 6, issued
assert any("bound to EAB key" in e["detail"] for e in events), "no EAB-bound account"
assert count["revoked"] == 2, count
print(dict(count))
EOF
if grep -q "panicked" "$work/server.log"; then fail "the server panicked"; fi
if grep -qF "$eab_hmac" "$work/audit.json" "$work/server.log"; then fail "the EAB HMAC key was logged"; fi
echo "stage 56-acme-server: certbot and lego obtained, renewed and revoked over HTTP-01"
