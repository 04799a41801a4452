#!/usr/bin/env bash
# Stage: the Python bindings. Builds the extension into a virtualenv under target/ with
# `maturin develop` (workspace dev profile, so it reuses the target dir), then runs pytest,
# mypy.stubtest against the hand-written stubs, and mypy --strict on a typed example.
set -euo pipefail
cd "$(dirname "$0")/../.."
. scripts/lib.sh

export CARGO_INCREMENTAL=0
ensure_apt openssl openssl
ensure_apt python3 python3
if ! python3 -c 'import venv, ensurepip' >/dev/null 2>&1; then
  # python3-venv installs no command of its own: name one that never exists so it is installed.
  ensure_apt certloop-python3-venv-missing python3-venv
fi

venv=target/python-venv
if [ ! -x "$venv/bin/python" ]; then
  step "python venv in $venv"
  python3 -m venv "$venv"
fi
py="$venv/bin/python"
# Pinned below the next major so a fresh clone gets what this stage was written against.
"$py" -m pip install --quiet --disable-pip-version-check \
  'maturin>=1.9.4,<2' 'pytest>=7,<9' 'cryptography>=42,<47' 'mypy>=1.10,<2'

step "maturin develop (dev profile, workspace target dir)"
# maturin runs `cargo rustc` for the extension; VIRTUAL_ENV tells it where to install.
(cd bindings-python && VIRTUAL_ENV="$PWD/../$venv" "../$venv/bin/maturin" develop --quiet --locked)

step "pytest bindings-python/tests"
"$py" -m pytest -q -p no:cacheprovider bindings-python/tests

step "mypy.stubtest certloop (stubs match the module)"
"$py" -m mypy.stubtest certloop --allowlist bindings-python/stubtest-allowlist.txt

step "mypy --strict on the typed example, then run it"
"$py" -m mypy --strict --no-incremental bindings-python/examples/typed_issue.py
example=$(mktemp -d)
trap 'rm -rf "$example"' EXIT
"$py" bindings-python/examples/typed_issue.py "$example/state" "$example/out"
[ "$(stat -c %a "$example/out/key.pem")" = 600 ] || { echo "key.pem is not 0600" >&2; exit 1; }
