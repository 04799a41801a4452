#!/usr/bin/env bash
# Time certloop, the OpenSSL C library, the openssl CLI and Python `cryptography` issuing the
# same P-256 leaves in one run, and print ratios (see compare.py for what is measured).
#
#   bash benches/compare/compare.sh [--count N] [--cli-count N] [--rounds R]
#
# Builds certloop-issue-leaves in release mode (CERTLOOP_COMPARE_PROFILE=dev uses the dev
# build instead: for the smoke test in scripts/stages, never for figures) and the C harness
# into target/compare, and installs `cryptography` into a venv at target/compare/venv (pip, on
# first use).
set -euo pipefail
cd "$(dirname "$0")/../.."
. scripts/lib.sh

# install_pkg PKG: apt-get install a Debian package that provides no command to test for.
install_pkg() {
  local sudo=""
  [ "$(id -u)" -eq 0 ] || sudo=sudo
  step "installing $1"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "$1" >/dev/null
}

ensure_apt openssl openssl
ensure_apt gcc gcc
ensure_apt python3 python3
[ -e /usr/include/openssl/evp.h ] || install_pkg libssl-dev
python3 -c 'import ensurepip, venv' 2>/dev/null || install_pkg python3-venv

target=${CARGO_TARGET_DIR:-target}
work="$target/compare"
mkdir -p "$work"

profile=${CERTLOOP_COMPARE_PROFILE:-release}
step "build certloop-issue-leaves ($profile)"
case "$profile" in
  release) cargo build --release --locked -p certloop-benches --bin certloop-issue-leaves
           bin="$target/release/certloop-issue-leaves" ;;
  dev)     cargo build --locked --workspace --bins
           bin="$target/debug/certloop-issue-leaves" ;;
  *)       echo "CERTLOOP_COMPARE_PROFILE must be release or dev, not $profile" >&2; exit 2 ;;
esac

step "build the OpenSSL C harness"
gcc -O2 -Wall -Werror -o "$work/openssl_issue_leaves" benches/compare/openssl_issue_leaves.c -lcrypto

if [ ! -x "$work/venv/bin/python" ] || ! "$work/venv/bin/python" -c 'import cryptography' 2>/dev/null; then
  step "python venv with cryptography"
  python3 -m venv "$work/venv"
  "$work/venv/bin/pip" install --quiet --upgrade pip
  "$work/venv/bin/pip" install --quiet cryptography
fi

step "compare (machine: $(lscpu | sed -n 's/^Model name: *//p'))"
python3 benches/compare/compare.py \
  --certloop "$bin" \
  --openssl-c "$work/openssl_issue_leaves" \
  --python "$work/venv/bin/python" \
  --work "$work/runs" "$@"
