# Shared helpers for scripts/test and scripts/stages/*.sh. Source it; it defines functions only.

# step: a heading with the seconds since scripts/test began, so a log shows where time goes.
export CERTLOOP_TEST_T0=${CERTLOOP_TEST_T0:-$(date +%s)}
step() { printf '\n==> [%ss] %s\n' "$(($(date +%s) - CERTLOOP_TEST_T0))" "$*"; }

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

# python_venv_with_certloop: the virtualenv target/python-venv with maturin, pytest,
# cryptography and mypy, and the extension built into it by `maturin develop` (workspace dev
# profile, so it reuses the target dir). Sets CERTLOOP_PY to its interpreter.
python_venv_with_certloop() {
  ensure_apt python3 python3
  if ! python3 -c 'import venv, ensurepip' >/dev/null 2>&1; then
    # python3-venv installs no command of its own: name one that never exists so it is installed.
    ensure_apt certloop-python3-venv-missing python3-venv
  fi
  local venv=target/python-venv
  if [ ! -x "$venv/bin/python" ]; then
    step "python venv in $venv"
    python3 -m venv "$venv"
  fi
  CERTLOOP_PY="$venv/bin/python"
  # Pinned below the next major so a fresh clone gets what the stages were written against.
  "$CERTLOOP_PY" -m pip install --quiet --disable-pip-version-check \
    'maturin>=1.9.4,<2' 'pytest>=7,<9' 'cryptography>=42,<47' 'mypy>=1.10,<2'
  step "maturin develop (dev profile, workspace target dir)"
  # maturin runs `cargo rustc` for the extension; VIRTUAL_ENV tells it where to install.
  (cd bindings-python && VIRTUAL_ENV="$PWD/../$venv" "../$venv/bin/maturin" develop --quiet --locked)
}

# pg_bin: the directory holding PostgreSQL's server programs (initdb, pg_ctl), installing
# Debian's `postgresql` package when none is found. Debian keeps them off PATH.
pg_bin() {
  local dir
  for dir in $(command -v initdb 2>/dev/null | xargs -r dirname) /usr/lib/postgresql/*/bin; do
    [ -x "$dir/initdb" ] && [ -x "$dir/pg_ctl" ] && { echo "$dir"; return 0; }
  done
  [ -n "${CERTLOOP_PG_INSTALLING:-}" ] && { echo "postgresql installed no initdb" >&2; return 1; }
  CERTLOOP_PG_INSTALLING=1 ensure_apt certloop-no-such-command postgresql >&2
  CERTLOOP_PG_INSTALLING=1 pg_bin
}

# start_postgres: a throwaway PostgreSQL cluster in a temp directory, listening on a free
# 127.0.0.1 port with trust authentication for the `postgres` role. Exports PG_DIR and
# CERTLOOP_TEST_POSTGRES (the server's base URL); stop it with stop_postgres.
start_postgres() {
  local bin port as=()
  bin=$(pg_bin)
  port=$(free_port)
  PG_DIR=$(mktemp -d /tmp/certloop-pg.XXXXXX)
  # initdb refuses to run as root: the cluster then belongs to the `postgres` user.
  if [ "$(id -u)" -eq 0 ]; then
    chown postgres "$PG_DIR"
    as=(runuser -u postgres --)
  fi
  "${as[@]}" "$bin/initdb" -D "$PG_DIR/data" -U postgres -A trust -E UTF8 --no-sync >/dev/null
  "${as[@]}" "$bin/pg_ctl" -D "$PG_DIR/data" -l "$PG_DIR/server.log" -w -t 60 \
    -o "-p $port -k $PG_DIR -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=200" \
    start >/dev/null
  export PG_DIR PG_BIN=$bin PG_AS="${as[*]}"
  export CERTLOOP_TEST_POSTGRES="postgres://postgres@127.0.0.1:$port"
}

# stop_postgres: stop the cluster start_postgres made and remove its directory.
stop_postgres() {
  [ -n "${PG_DIR:-}" ] || return 0
  # shellcheck disable=SC2086
  $PG_AS "$PG_BIN/pg_ctl" -D "$PG_DIR/data" -m fast -w -t 60 stop >/dev/null 2>&1 || true
  rm -rf "$PG_DIR"
  PG_DIR=
  # Later stages must not reach for a cluster that is gone: their PostgreSQL suites skip.
  unset CERTLOOP_TEST_POSTGRES CERTLOOP_TEST_REQUIRE_POSTGRES
}
