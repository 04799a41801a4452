#!/usr/bin/env bash
# Stage: the Python bindings. Builds the extension into a virtualenv under target/ with
# `maturin develop` (workspace dev profile, so it reuses the target dir), then runs pytest,
# mypy.stubtest against the hand-written stubs, and mypy --strict on a typed example.
set -euo pipefail
cd "$(dirname "$0")/../.."
. scripts/lib.sh

export CARGO_INCREMENTAL=0
ensure_apt openssl openssl
python_venv_with_certloop
py=$CERTLOOP_PY

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
