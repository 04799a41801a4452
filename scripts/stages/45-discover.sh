#!/usr/bin/env bash
# Discovery against what real programs make: keystores from keytool (JKS) and openssl
# (PKCS#12, PEM, DER), TLS endpoints served by `openssl s_server` on loopback. The same tests
# run in the main `cargo test` without keytool; here the keytool one runs too.
set -euo pipefail
cd "$(dirname "$0")/../.."
. scripts/lib.sh

ensure_apt openssl openssl
ensure_apt keytool openjdk-17-jre-headless
ensure_apt runuser util-linux
export CARGO_INCREMENTAL=0

step "cargo test --test discovery (keytool JKS, openssl PKCS#12/PEM/DER, s_server endpoints)"
CERTLOOP_TEST_KEYTOOL=1 cargo test --workspace --test discovery --locked
step "cargo test --test discover_cli (certloop discover files/network; unreadable files)"
cargo test --workspace --test discover_cli --locked
