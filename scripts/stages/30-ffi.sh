#!/usr/bin/env bash
# C ABI stage: the committed header matches cbindgen, the C tests in ffi/tests/ pass against
# the shared and the static libcertloop, also under valgrind memcheck (zero errors, zero
# definite leaks), what they issue passes `openssl verify` (CRLs included), the PKCS#12 the
# deploy test writes is read by `openssl pkcs12` and its JKS by `keytool`, and the example
# in ffi/examples builds with make (shared, static, and through certloop.pc).
set -euo pipefail
cd "$(dirname "$0")/../.."
. scripts/lib.sh

ensure_apt gcc gcc
ensure_apt make make
ensure_apt valgrind valgrind
ensure_apt openssl openssl
ensure_apt pkg-config pkg-config
ensure_apt keytool openjdk-17-jre-headless

export CARGO_TERM_COLOR=${CARGO_TERM_COLOR:-never}
export CARGO_INCREMENTAL=0

step "ffi: build libcertloop (shared + static)"
cargo build -p certloop-ffi --locked
LIBDIR="$PWD/target/debug"

step "ffi: include/certloop.h is what the pinned cbindgen generates"
cargo test -p certloop-ffi --test header --locked

WORK=$(mktemp -d "$PWD/target/ffi-stage.XXXXXX")
trap 'rm -rf "$WORK"' EXIT

CFLAGS=(-Wall -Wextra -Werror -std=c11 -D_POSIX_C_SOURCE=200809L -g -Iffi/include)
# What `cargo rustc -p certloop-ffi --crate-type staticlib -- --print native-static-libs`
# reports on Linux/glibc (kept in one place with ffi/examples/Makefile).
STATIC_LIBS=(-lgcc_s -lutil -lrt -lpthread -lm -ldl -lc)

step "ffi: compile the C tests against the shared and the static library"
for test in flow errors deploy managed discovery; do
  gcc "${CFLAGS[@]}" "ffi/tests/$test.c" -L"$LIBDIR" -lcertloop -Wl,-rpath,"$LIBDIR" -lpthread \
    -o "$WORK/$test-shared"
  gcc "${CFLAGS[@]}" "ffi/tests/$test.c" "$LIBDIR/libcertloop.a" "${STATIC_LIBS[@]}" \
    -o "$WORK/$test-static"
done
# The static binaries must not need libcertloop.so at run time.
if ldd "$WORK/flow-static" | grep -q libcertloop; then
  echo "flow-static links libcertloop.so dynamically" >&2
  exit 1
fi

# expect_verify_fails TEXT ARGS...: `openssl verify ARGS` must fail saying TEXT.
expect_verify_fails() {
  local text=$1 out
  shift
  if out=$(openssl verify "$@" 2>&1); then
    echo "openssl verify $* passed, expected: $text" >&2
    exit 1
  fi
  grep -q "$text" <<<"$out" || { echo "$out" >&2; exit 1; }
}

# check_flow_output DIR: what flow wrote into DIR, checked by openssl.
check_flow_output() (
  cd "$1"
  openssl verify -CAfile root.pem -untrusted issuing.pem leaf.pem renewed.pem
  openssl verify -CAfile corp-root.pem -untrusted corp-issuing.pem csr-leaf.pem
  # The generated key belongs to the certificate; the CSR's key to the CSR's certificate.
  cmp <(openssl pkey -in leaf.key -pubout) <(openssl x509 -in leaf.pem -noout -pubkey)
  cmp <(openssl pkey -in request.key -pubout) <(openssl x509 -in csr-leaf.pem -noout -pubkey)
  # The CRLs are signed by their CA and say what happened.
  grep -q "verify OK" <<<"$(openssl crl -in corp.crl.pem -noout -CAfile corp-issuing.pem -verify 2>&1)"
  grep -q "verify OK" <<<"$(openssl crl -in held.crl.pem -noout -CAfile issuing.pem -verify 2>&1)"
  expect_verify_fails "certificate revoked" -crl_check -CRLfile corp.crl.pem \
    -CAfile corp-root.pem -untrusted corp-issuing.pem csr-leaf.pem
  expect_verify_fails "certificate revoked" -crl_check -CRLfile held.crl.pem \
    -CAfile root.pem -untrusted issuing.pem renewed.pem
  openssl verify -crl_check -CRLfile lifted.crl.pem -CAfile root.pem -untrusted issuing.pem \
    renewed.pem
)

# new_flow_dir NAME: a directory with a fresh P-256 CSR for the flow test.
new_flow_dir() {
  local dir="$WORK/out-$1"
  mkdir -p "$dir"
  openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
    -subj /CN=api.corp.example -addext subjectAltName=DNS:api.corp.example \
    -keyout "$dir/request.key" -out "$dir/request.csr" 2>/dev/null
  echo "$dir"
}

# new_lifecycle_dir NAME: a directory with a certificate certloop did not issue, to discover.
new_lifecycle_dir() {
  local dir="$WORK/out-$1"
  mkdir -p "$dir/scan/nested"
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout /dev/null \
    -subj /CN=outside.example.internal -days 30 -out "$dir/scan/nested/outside.pem" 2>/dev/null
  echo "$dir"
}

# check_lifecycle_output DIR: the PKCS#12 the deploy test wrote, read by openssl.
check_lifecycle_output() (
  cd "$1"
  [ "$(stat -c %a ks.p12)" = 600 ]
  [ "$(stat -c %a ks-key.pem)" = 600 ]
  openssl pkcs12 -in ks.p12 -passin pass:c-s3cret -nokeys -clcerts -out p12-leaf.pem
  cmp <(openssl x509 -in p12-leaf.pem -noout -fingerprint -sha256) \
    <(openssl x509 -in ks-leaf.pem -noout -fingerprint -sha256)
  openssl pkcs12 -in ks.p12 -passin pass:c-s3cret -nocerts -nodes -out p12-key.pem
  grep -q "friendlyName: web" p12-key.pem
  cmp <(openssl pkey -in p12-key.pem -pubout) <(openssl x509 -in ks-leaf.pem -noout -pubkey)
  cmp <(openssl pkey -in ks-key.pem -pubout) <(openssl x509 -in ks-leaf.pem -noout -pubkey)
  if openssl pkcs12 -in ks.p12 -passin pass:wrong -nokeys >/dev/null 2>&1; then
    echo "ks.p12 opens with a wrong password" >&2
    exit 1
  fi
  # The JKS holds the same leaf under alias web (keytool prints SHA256: AB:CD:...).
  [ "$(stat -c %a ks.jks)" = 600 ]
  keytool -list -v -keystore ks.jks -storetype JKS -storepass c-s3cret >jks.txt 2>&1
  grep -q "Alias name: web" jks.txt
  grep -q "Entry type: PrivateKeyEntry" jks.txt
  leaf_sha256=$(openssl x509 -in ks-leaf.pem -noout -fingerprint -sha256 | cut -d= -f2)
  grep -q "SHA256: $leaf_sha256" jks.txt
)

for linkage in shared static; do
  step "ffi: C tests, $linkage library"
  dir=$(new_flow_dir "flow-$linkage")
  "$WORK/flow-$linkage" "$dir"
  check_flow_output "$dir"
  "$WORK/errors-$linkage"
  # The lifecycle tests, by theme, in one directory (deploy leaves the keystores checked).
  dir=$(new_lifecycle_dir "lifecycle-$linkage")
  for test in deploy managed discovery; do
    "$WORK/$test-$linkage" "$dir"
  done
  check_lifecycle_output "$dir"
done

step "ffi: C tests under valgrind memcheck"
VALGRIND=(valgrind --quiet --leak-check=full --show-leak-kinds=definite
  --errors-for-leak-kinds=definite --error-exitcode=97 --suppressions=ffi/tests/valgrind.supp)
dir=$(new_flow_dir flow-valgrind)
"${VALGRIND[@]}" "$WORK/flow-shared" "$dir"
check_flow_output "$dir"
"${VALGRIND[@]}" "$WORK/errors-shared"
dir=$(new_lifecycle_dir lifecycle-valgrind)
for test in deploy managed discovery; do
  "${VALGRIND[@]}" "$WORK/$test-shared" "$dir"
done
check_lifecycle_output "$dir"

step "ffi: make -C ffi/examples (shared, static, pkg-config)"
make -s -C ffi/examples clean issue
mkdir -p "$WORK/example"
ffi/examples/issue www.example.test "$WORK/example"
openssl verify -CAfile "$WORK/example/chain.pem" "$WORK/example/cert.pem"
[ "$(stat -c %a "$WORK/example/key.pem")" = 600 ]
cmp <(openssl pkey -in "$WORK/example/key.pem" -pubout) \
  <(openssl x509 -in "$WORK/example/cert.pem" -noout -pubkey)
make -s -C ffi/examples clean issue STATIC=1
ffi/examples/issue static.example.test "$WORK/example"
openssl verify -CAfile "$WORK/example/chain.pem" "$WORK/example/cert.pem"
make -s -C ffi/examples clean
make -s -C ffi/examples certloop.pc
# shellcheck disable=SC2046 # word splitting of pkg-config output is intended
gcc "${CFLAGS[@]}" ffi/examples/issue.c $(PKG_CONFIG_PATH="$LIBDIR/pkgconfig" pkg-config --cflags --libs certloop) \
  -o "$WORK/issue-pc"
"$WORK/issue-pc" pc.example.test "$WORK/example"
openssl verify -CAfile "$WORK/example/chain.pem" "$WORK/example/cert.pem"

echo "ffi stage: all checks passed"
