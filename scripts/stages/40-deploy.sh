#!/usr/bin/env bash
# Deployment against real programs on loopback: nginx (unprivileged, own prefix, free port),
# an OpenSSH server (own config, own host and user keys, free port), keytool and openssl.
# Starts them, runs the gated Rust tests (core/tests/deploy.rs), stops them on exit.
set -euo pipefail
cd "$(dirname "$0")/../.."
. scripts/lib.sh

ensure_apt openssl openssl
ensure_apt nginx nginx
ensure_apt sshd openssh-server
ensure_apt keytool openjdk-17-jre-headless
export CARGO_INCREMENTAL=0

work=$(mktemp -d "${TMPDIR:-/tmp}/certloop-deploy.XXXXXX")
pids=()
cleanup() {
  if [ -f "$work/nginx/nginx.pid" ]; then kill "$(cat "$work/nginx/nginx.pid")" 2>/dev/null || true; fi
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  rm -rf "$work"
}
trap cleanup EXIT

# ---- nginx: serves tls/fullchain.pem + tls/key.pem on a free loopback port ----------------
step "nginx on loopback"
nginx_port=$(free_port)
mkdir -p "$work/nginx/tls" "$work/nginx/logs" "$work/nginx/tmp"
# A first certificate so that nginx can start; the tests deploy over it.
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 1 \
  -subj /CN=placeholder -keyout "$work/nginx/tls/key.pem" -out "$work/nginx/tls/fullchain.pem" 2>/dev/null
: >"$work/nginx/extra.conf"
cat >"$work/nginx/nginx.conf" <<CONF
worker_processes 1;
pid $work/nginx/nginx.pid;
error_log $work/nginx/logs/error.log warn;
events { worker_connections 64; }
http {
  access_log off;
  client_body_temp_path $work/nginx/tmp/body;
  proxy_temp_path $work/nginx/tmp/proxy;
  fastcgi_temp_path $work/nginx/tmp/fastcgi;
  uwsgi_temp_path $work/nginx/tmp/uwsgi;
  scgi_temp_path $work/nginx/tmp/scgi;
  include $work/nginx/extra.conf;
  server {
    listen 127.0.0.1:$nginx_port ssl;
    server_name localhost;
    ssl_certificate $work/nginx/tls/fullchain.pem;
    ssl_certificate_key $work/nginx/tls/key.pem;
    location / { return 200 "ok\n"; }
  }
}
CONF
nginx -p "$work/nginx" -c "$work/nginx/nginx.conf" -e "$work/nginx/logs/error.log"
wait_for_port "$nginx_port" 20

# ---- sshd: the current user logs in with a key made here --------------------------------
step "sshd on loopback"
ssh_port=$(free_port)
mkdir -p "$work/ssh/remote" /run/sshd 2>/dev/null || mkdir -p "$work/ssh/remote"
ssh-keygen -q -t ed25519 -N '' -f "$work/ssh/host_key"
ssh-keygen -q -t ed25519 -N '' -f "$work/ssh/id_ed25519"
cp "$work/ssh/id_ed25519.pub" "$work/ssh/authorized_keys"
chmod 600 "$work/ssh/authorized_keys"
printf '[127.0.0.1]:%s %s\n' "$ssh_port" "$(cut -d' ' -f1,2 "$work/ssh/host_key.pub")" >"$work/ssh/known_hosts"
cat >"$work/ssh/sshd_config" <<CONF
ListenAddress 127.0.0.1
Port $ssh_port
HostKey $work/ssh/host_key
PidFile $work/ssh/sshd.pid
AuthorizedKeysFile $work/ssh/authorized_keys
PubkeyAuthentication yes
PasswordAuthentication no
KbdInteractiveAuthentication no
PermitRootLogin prohibit-password
StrictModes no
UsePAM no
Subsystem sftp internal-sftp
CONF
"$(command -v sshd)" -D -e -f "$work/ssh/sshd_config" 2>"$work/ssh/sshd.log" &
pids+=($!)
wait_for_port "$ssh_port" 20

# ---- the tests -------------------------------------------------------------------------------
export CERTLOOP_TEST_NGINX_DIR="$work/nginx"
export CERTLOOP_TEST_NGINX_PORT="$nginx_port"
export CERTLOOP_TEST_SSH_DIR="$work/ssh"
export CERTLOOP_TEST_SSH_PORT="$ssh_port"
export CERTLOOP_TEST_KEYTOOL=1
# --workspace: the feature set scripts/test built with, so nothing is compiled again.
step "cargo test --test deploy (nginx, sshd, keytool, openssl)"
cargo test --workspace --test deploy --locked -- --test-threads 1
step "cargo test --test deploy_cli (issue --target, deploy, pin-check exit codes)"
cargo test --workspace --test deploy_cli --locked -- --test-threads 1
step "cargo test --test agent_cli (certloop agent renews and deploys to nginx in its window; rollback)"
cargo test --workspace --test agent_cli --locked -- --test-threads 1
