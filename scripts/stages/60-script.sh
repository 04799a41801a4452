#!/usr/bin/env bash
# Stage: the Python-script CA connector with the `cryptography` package, which the plain
# `cargo test` run does not have: a venv under target/ gets it, then the ignored tests that
# need it run, in a child process (the venv's interpreter) and embedded (its site-packages on
# PYTHONPATH). The rest of the script connector's tests run in `cargo test --workspace`.
set -euo pipefail
cd "$(dirname "$0")/../.."
. scripts/lib.sh

ensure_apt python3 python3
ensure_apt python3-config python3-dev
ensure_apt openssl openssl
export CARGO_INCREMENTAL=0

venv=target/script-ca-venv
if ! "$venv/bin/python" -c 'import cryptography' >/dev/null 2>&1; then
  step "venv with cryptography in $venv"
  rm -rf "$venv"
  if ! python3 -c 'import ensurepip' >/dev/null 2>&1; then
    # Debian's python3 needs python3-venv for `-m venv` (no command to test with ensure_apt).
    step "installing python3-venv"
    sudo=""
    [ "$(id -u)" -eq 0 ] || sudo=sudo
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq python3-venv >/dev/null
  fi
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet --disable-pip-version-check 'cryptography>=41'
fi
python_bin=$(cd "$venv/bin" && pwd)/python
site=$("$python_bin" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')
platsite=$("$python_bin" -c 'import sysconfig; print(sysconfig.get_paths()["platlib"])')

step "script CA with cryptography: child process and embedded interpreter"
CERTLOOP_TEST_PYTHON="$python_bin" PYTHONPATH="$site:$platsite" \
  cargo test --workspace --locked --test script_ca -- --ignored cryptography

step "example script CA runs under the plain interpreter (contract smoke test)"
python3 - <<'PY'
import importlib.util, subprocess, tempfile, os
spec = importlib.util.spec_from_file_location("corp_ca", "examples/script-ca/corp_ca.py")
corp = importlib.util.module_from_spec(spec)
spec.loader.exec_module(corp)
with tempfile.TemporaryDirectory() as work:
    subprocess.run(["openssl", "req", "-new", "-newkey", "ec", "-pkeyopt",
                    "ec_paramgen_curve:P-256", "-nodes", "-keyout", f"{work}/k.pem",
                    "-subj", "/CN=smoke.corp", "-addext", "subjectAltName=DNS:smoke.corp",
                    "-out", f"{work}/req.pem"], check=True, capture_output=True)
    csr = open(f"{work}/req.pem").read()
    args = {"ca_dir": f"{work}/ca", "password": "pw", "ticket": "CHG-1"}
    pem = corp.certificate_request(csr, "smoke.corp", args)
    open(f"{work}/chain.pem", "w").write(pem)
    leaf = pem[: pem.index("-----END CERTIFICATE-----") + 26]
    open(f"{work}/leaf.pem", "w").write(leaf)
    subprocess.run(["openssl", "verify", "-CAfile", f"{work}/ca/ca.pem", f"{work}/leaf.pem"],
                   check=True)
PY
