#!/usr/bin/env bash
# ACME against real Pebble + pebble-challtestsrv on loopback: HTTP-01 (webroot served by a
# static server, and our standalone responder), DNS-01 through a hook, EAB, manual fallback +
# resume after a restart, revocation, error cases; then the CLI's manual flow (exit code 10),
# and the Python, Node and C bindings' order + nginx deployment (bindings-python/tests/
# test_acme_nginx.py, bindings-node/__test__/acme-nginx.test.mjs, ffi/tests/acme_nginx.c).
set -euo pipefail
cd "$(dirname "$0")/../.."
. scripts/lib.sh

ensure_apt pebble pebble
ensure_apt pebble-challtestsrv pebble
ensure_apt openssl openssl
ensure_apt curl curl
ensure_apt python3 python3
export CARGO_TERM_COLOR=${CARGO_TERM_COLOR:-never}
export CARGO_INCREMENTAL=0

work=$(mktemp -d "${TMPDIR:-/tmp}/certloop-acme.XXXXXX")
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
  rm -rf "$work"
}
trap cleanup EXIT

step "TLS certificate for Pebble (its own root + a localhost leaf)"
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 \
  -subj /CN=certloop-pebble-root -keyout "$work/tls-root.key" -out "$work/tls-root.pem" 2>/dev/null
openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj /CN=localhost \
  -keyout "$work/tls.key" -out "$work/tls.csr" 2>/dev/null
printf 'subjectAltName=DNS:localhost,IP:127.0.0.1\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n' > "$work/ext.cnf"
openssl x509 -req -in "$work/tls.csr" -CA "$work/tls-root.pem" -CAkey "$work/tls-root.key" \
  -CAcreateserial -days 2 -extfile "$work/ext.cnf" -out "$work/tls.pem" 2>/dev/null

dns_port=$(free_port); chall_mgmt=$(free_port)
http_port=$(free_port); standalone_port=$(free_port)
acme_port=$(free_port); mgmt_port=$(free_port)
eab_port=$(free_port); eab_mgmt=$(free_port)

step "pebble-challtestsrv (DNS on $dns_port, management on $chall_mgmt)"
pebble-challtestsrv -defaultIPv4 127.0.0.1 -defaultIPv6 "" -dns01 "127.0.0.1:$dns_port" \
  -http01 "" -https01 "" -tlsalpn01 "" -management "127.0.0.1:$chall_mgmt" \
  >"$work/challtestsrv.log" 2>&1 &
pids+=($!)

mkdir -p "$work/webroot"
python3 -m http.server "$http_port" --bind 127.0.0.1 --directory "$work/webroot" \
  >"$work/webroot.log" 2>&1 &
pids+=($!)

eab_key=zWNDZM6eQGHWpSRTPal5eIUYFTu7EajVIoguysqZ9wG44nMEtx3MUAsUDkMTQ12W
write_config() { # FILE ACME_PORT MGMT_PORT HTTP_PORT EAB_REQUIRED
  cat >"$1" <<JSON
{"pebble": {"listenAddress": "127.0.0.1:$2", "managementListenAddress": "127.0.0.1:$3",
  "certificate": "$work/tls.pem", "privateKey": "$work/tls.key",
  "httpPort": $4, "tlsPort": $(free_port), "ocspResponderURL": "",
  "externalAccountBindingRequired": $5, "domainBlocklist": ["blocked.certloop.test"],
  "certificateValidityPeriod": 7776000,
  "externalAccountMACKeys": {"kid-1": "$eab_key"}}}
JSON
}
write_config "$work/pebble.json" "$acme_port" "$mgmt_port" "$http_port" false
write_config "$work/pebble-eab.json" "$eab_port" "$eab_mgmt" "$standalone_port" true

step "Pebble (ACME on $acme_port; EAB-required Pebble on $eab_port)"
# PEBBLE_VA_NOSLEEP: no random validation delays. Nonce rejection (5%) stays on on purpose.
PEBBLE_VA_NOSLEEP=1 pebble -config "$work/pebble.json" -dnsserver "127.0.0.1:$dns_port" \
  >"$work/pebble.log" 2>&1 &
pids+=($!)
PEBBLE_VA_NOSLEEP=1 pebble -config "$work/pebble-eab.json" -dnsserver "127.0.0.1:$dns_port" \
  >"$work/pebble-eab.log" 2>&1 &
pids+=($!)
for port in "$chall_mgmt" "$http_port" "$acme_port" "$mgmt_port" "$eab_port" "$eab_mgmt"; do
  wait_for_port "$port" 30
done
curl -sfk "https://127.0.0.1:$mgmt_port/roots/0" >"$work/pebble-root.pem"
curl -sfk "https://127.0.0.1:$mgmt_port/intermediates/0" >"$work/pebble-intermediate.pem"
printf '%s' "$eab_key" >"$work/eab.key"

export CERTLOOP_ACME_DIRECTORY="https://127.0.0.1:$acme_port/dir"
export CERTLOOP_ACME_MANAGEMENT="https://127.0.0.1:$mgmt_port"
export CERTLOOP_ACME_EAB_DIRECTORY="https://127.0.0.1:$eab_port/dir"
export CERTLOOP_ACME_EAB_KID=kid-1
export CERTLOOP_ACME_EAB_KEY_FILE="$work/eab.key"
export CERTLOOP_ACME_TLS_ROOT="$work/tls-root.pem"
export CERTLOOP_ACME_ROOT="$work/pebble-root.pem"
export CERTLOOP_ACME_WEBROOT="$work/webroot"
export CERTLOOP_ACME_WEBROOT_ADDR="127.0.0.1:$http_port"
export CERTLOOP_ACME_STANDALONE_ADDR="127.0.0.1:$standalone_port"
export CERTLOOP_CHALLTESTSRV="http://127.0.0.1:$chall_mgmt"
export CERTLOOP_ACME_DNS_HOOK="$PWD/core/tests/fixtures/dns-hook-challtestsrv.py"

step "cargo test --test acme_pebble (real Pebble)"
# --workspace: the same feature set as scripts/test's build, so nothing is rebuilt.
cargo test --workspace --locked --test acme_pebble -- --test-threads=4

step "CLI: manual validation -> exit 10 -> show -> resume -> openssl verify"
cargo build --workspace --locked --bins -q
cli="$PWD/target/debug/certloop"
home="$work/cli-home"
"$cli" --home "$home" init >/dev/null
cat >"$work/le.json" <<JSON
{"slug": "le", "templateId": "tls-server",
 "issuer": {"type": "acme", "directoryUrl": "$CERTLOOP_ACME_DIRECTORY",
            "caRoots": "$CERTLOOP_ACME_TLS_ROOT", "email": "ops@example.com",
            "solver": {"type": "manual"}}}
JSON
"$cli" --home "$home" profile create --file "$work/le.json" >/dev/null
set +e
"$cli" --home "$home" --json issue --profile le --cn cli.certloop.test --out "$work/out" \
  2>"$work/issue.err"
code=$?
set -e
[ "$code" -eq 10 ] || { echo "expected exit 10, got $code"; cat "$work/issue.err"; exit 1; }
order=$("$cli" --home "$home" --json order list | python3 -c 'import json,sys; print(json.load(sys.stdin)[0]["id"])')
"$cli" --home "$home" show "$order" | tee "$work/show.txt" | grep -q "acme-challenge"
# The "person": put the file where the instructions say.
"$cli" --home "$home" --json order show "$order" | python3 -c '
import json, os, sys
order = json.load(sys.stdin)
for step in order["instructions"]["steps"]:
    path = os.path.join(sys.argv[1], step["path"])
    os.makedirs(os.path.dirname(path), exist_ok=True)
    open(path, "w").write(step["content"])
' "$CERTLOOP_ACME_WEBROOT"
"$cli" --home "$home" order resume "$order" --out "$work/out" >/dev/null
openssl verify -CAfile "$CERTLOOP_ACME_ROOT" -untrusted "$work/out/chain.pem" "$work/out/cert.pem"
step "Python binding: order from Pebble (manual validation, resume), deploy to nginx, pin check"
ensure_apt nginx nginx
# Stage 10 built the extension into target/python-venv when scripts/test runs every stage;
# this reuses that build (alone, it builds it).
python_venv_with_certloop
"$CERTLOOP_PY" -m pytest -q -p no:cacheprovider bindings-python/tests/test_acme_nginx.py

step "Node binding: order from Pebble (manual validation, resume), deploy to nginx, pin check"
command -v node >/dev/null 2>&1 || ensure_apt node nodejs
command -v npm >/dev/null 2>&1 || ensure_apt npm npm
# Stage 20 built the addon when scripts/test runs every stage; alone, build it here.
if [ ! -f bindings-node/certloop.linux-x64-gnu.node ]; then
  (cd bindings-node && npm ci --no-audit --no-fund --loglevel=error && npm run build --silent)
fi
(cd bindings-node && node --test --test-concurrency=1 __test__/acme-nginx.test.mjs)

step "C binding: order from Pebble (manual validation, resume), deploy to nginx, pin check"
ensure_apt gcc gcc
# Stage 30 built libcertloop when scripts/test runs every stage; alone, build it here.
if [ ! -f target/debug/libcertloop.so ]; then
  cargo build -p certloop-ffi --locked
fi
gcc -Wall -Wextra -Werror -std=c11 -D_POSIX_C_SOURCE=200809L -g -Iffi/include \
  ffi/tests/acme_nginx.c -L"$PWD/target/debug" -lcertloop -Wl,-rpath,"$PWD/target/debug" \
  -lpthread -o "$work/acme_nginx"
# nginx with its own prefix on a free loopback port, serving a placeholder until the deploy.
nginx_dir="$work/c-nginx"
nginx_port=$(free_port)
mkdir -p "$nginx_dir/tls" "$nginx_dir/logs" "$nginx_dir/tmp" "$work/c-out"
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 1 \
  -subj /CN=placeholder -keyout "$nginx_dir/tls/key.pem" -out "$nginx_dir/tls/fullchain.pem" \
  2>/dev/null
cat >"$nginx_dir/nginx.conf" <<CONF
worker_processes 1;
pid $nginx_dir/nginx.pid;
error_log $nginx_dir/logs/error.log warn;
events { worker_connections 64; }
http {
  access_log off;
  client_body_temp_path $nginx_dir/tmp/body;
  proxy_temp_path $nginx_dir/tmp/proxy;
  fastcgi_temp_path $nginx_dir/tmp/fastcgi;
  uwsgi_temp_path $nginx_dir/tmp/uwsgi;
  scgi_temp_path $nginx_dir/tmp/scgi;
  server {
    listen 127.0.0.1:$nginx_port ssl;
    ssl_certificate $nginx_dir/tls/fullchain.pem;
    ssl_certificate_key $nginx_dir/tls/key.pem;
    location / { return 200 "ok\n"; }
  }
}
CONF
nginx -p "$nginx_dir" -c "$nginx_dir/nginx.conf" -e "$nginx_dir/logs/error.log" \
  -g 'daemon off;' &
nginx_pid=$!
pids+=("$nginx_pid")
wait_for_port "$nginx_port" 30
CERTLOOP_NGINX_PREFIX="$nginx_dir" CERTLOOP_NGINX_CONF="$nginx_dir/nginx.conf" \
  CERTLOOP_NGINX_PORT="$nginx_port" "$work/acme_nginx" "$work/c-out"
openssl verify -CAfile "$CERTLOOP_ACME_ROOT" -untrusted "$work/c-out/chain.pem" \
  "$work/c-out/leaf.pem"
# What nginx serves now is the certificate ordered from Pebble.
cmp <(openssl s_client -connect "127.0.0.1:$nginx_port" -servername localhost </dev/null \
  2>/dev/null | openssl x509 -noout -fingerprint -sha256) \
  <(openssl x509 -in "$work/c-out/leaf.pem" -noout -fingerprint -sha256)
kill "$nginx_pid"
wait "$nginx_pid" 2>/dev/null || true
echo "50-acme: passed"
