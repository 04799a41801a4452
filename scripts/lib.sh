# Shared helpers for scripts/test and scripts/stages/*.sh. Source it; it defines functions only.

step() { printf '\n==> %s\n' "$*"; }

# ensure_apt CMD PKG: install Debian package PKG when command CMD is missing.
ensure_apt() {
  local cmd=$1 pkg=$2
  command -v "$cmd" >/dev/null 2>&1 && return 0
  step "installing $pkg (for $cmd)"
  local sudo=""
  [ "$(id -u)" -eq 0 ] || sudo=sudo
  if [ -z "${CERTLOOP_APT_UPDATED:-}" ]; then
    $sudo apt-get update -qq
    export CERTLOOP_APT_UPDATED=1
  fi
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "$pkg" >/dev/null
}

# free_port: a free TCP port on 127.0.0.1.
free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'
}

# wait_for_port PORT [SECONDS]: wait until 127.0.0.1:PORT accepts connections (bounded).
wait_for_port() {
  local port=$1 limit=${2:-30} i
  for ((i = 0; i < limit * 10; i++)); do
    (exec 3<>/dev/tcp/127.0.0.1/"$port") 2>/dev/null && return 0
    sleep 0.1
  done
  echo "nothing listens on 127.0.0.1:$port after ${limit}s" >&2
  return 1
}
