#!/usr/bin/env bash
# Node bindings: build the addon the way a user does (`npm install && npm run build`), check
# that the committed index.js / index.d.ts match the build, run the `node --test` suite and
# type-check a TypeScript example against index.d.ts.
#
# The addon is built by bindings-node/build.mjs (cargo build -p certloop-node, dev profile, no
# --target), so cargo uses the workspace's target/debug and the dependencies scripts/test already
# compiled; `napi build` would pass --target and compile every dependency again.
set -euo pipefail
cd "$(dirname "$0")/../.."
. scripts/lib.sh

export CARGO_INCREMENTAL=0
export CARGO_TERM_COLOR=${CARGO_TERM_COLOR:-never}
ensure_apt openssl openssl
if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
  ensure_apt node nodejs
  ensure_apt npm npm
fi

cd bindings-node

step "node: npm ci (locked devDependencies: @napi-rs/cli, typescript, @types/node)"
npm ci --no-audit --no-fund --loglevel=error

step "node: npm run build (build.mjs: cargo dev profile in the shared target dir + napi generators)"
npm run build --silent

step "node: the committed index.js and index.d.ts match the build"
git diff --exit-code -- index.js index.d.ts

step "node: node --test __test__/"
node --test --test-concurrency=1 __test__/

step "node: tsc --noEmit on the TypeScript example"
npx --no-install tsc --noEmit -p __test__/tsconfig.json
