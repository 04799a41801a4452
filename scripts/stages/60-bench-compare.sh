#!/usr/bin/env bash
# Smoke test of the peer comparison (benches/compare): certloop, the OpenSSL C library, the
# openssl CLI and Python `cryptography` each issue a few P-256 leaves, and every peer's leaf
# must pass `openssl verify -x509_strict -purpose sslserver` against its own chain. Uses the
# dev build, so its rates mean nothing; figures come from a release run (benches/README.md).
set -euo pipefail
cd "$(dirname "$0")/../.."
. scripts/lib.sh
export CARGO_INCREMENTAL=0

step "peer comparison smoke test (few leaves, dev build)"
CERTLOOP_COMPARE_PROFILE=dev bash benches/compare/compare.sh --count 20 --cli-count 3 --rounds 1
