#!/usr/bin/env bash
# issue + policy + inventory insert + audit event per second, one thread: the façade's
# `issue_many` (100 per transaction) on SQLite and on PostgreSQL, beside the same binary built
# from BASELINE (a git revision, default: the parent of the PostgreSQL store work) on SQLite,
# rounds interleaved so the machine's noise hits every variant alike. One JSON line per run.
# Each run is pinned to CPU 1 with taskset when there is one (PostgreSQL's server is not), so
# "per second" is on one core for the certloop side.
# Usage: bash benches/scripts/issue-store.sh [COUNT] [ROUNDS] [BASELINE]
set -euo pipefail
cd "$(dirname "$0")/../.."
. scripts/lib.sh
count=${1:-20000}
rounds=${2:-5}
baseline=${3:-e9bbbc3}
bin=target/release/certloop-issue-leaves
cargo build --release -p certloop-benches --bin certloop-issue-leaves --locked -q
base_dir=target/bench-baseline
if [ ! -d "$base_dir/src" ]; then
  rm -rf "$base_dir"
  git worktree add --detach "$base_dir/src" "$baseline" >/dev/null
fi
(cd "$base_dir/src" && CARGO_TARGET_DIR=../target \
  cargo build --release -p certloop-benches --bin certloop-issue-leaves --locked -q)
base_bin=$base_dir/target/release/certloop-issue-leaves
start_postgres
cleanup() {
  stop_postgres
  git worktree remove --force "$base_dir/src" >/dev/null 2>&1 || true
}
trap cleanup EXIT
one_core=()
if command -v taskset >/dev/null; then one_core=(taskset -c 1); fi
for ((round = 1; round <= rounds; round++)); do
  db=bench_$round
  "$PG_BIN/psql" -q "$CERTLOOP_TEST_POSTGRES/postgres" -c "CREATE DATABASE $db" 2>/dev/null ||
    psql -q "$CERTLOOP_TEST_POSTGRES/postgres" -c "CREATE DATABASE $db"
  echo "{\"round\": $round, \"variant\": \"baseline $baseline\", \"run\": $("${one_core[@]}" "$base_bin" --count "$count" --mode facade-batch)}"
  echo "{\"round\": $round, \"variant\": \"sqlite\", \"run\": $("${one_core[@]}" "$bin" --count "$count" --mode facade-batch)}"
  echo "{\"round\": $round, \"variant\": \"postgres\", \"run\": $("${one_core[@]}" "$bin" --count "$count" --mode facade-batch --store "$CERTLOOP_TEST_POSTGRES/$db")}"
done
