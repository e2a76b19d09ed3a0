#!/usr/bin/env bash
# The Rust client's checks, sharing the daemon's target directory (whose
# debug binary the tests start): fmt, clippy, the examples, the tests (real
# daemon, real AS, real resource server tests/rs/bank.mjs for examples/call_resource.rs).
set -euo pipefail
cd "$(dirname "$0")"
(cd ../../tests/rs && npm ci --no-audit --no-fund --loglevel=error)
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$(cd ../.. && pwd)/target}"
[ -x "$CARGO_TARGET_DIR/debug/fapi-agent" ] || (cd ../.. && cargo build --locked --bin fapi-agent)
cargo fmt -- --check
cargo clippy --all-targets --locked -- -D warnings
cargo build --examples --locked
cargo test --locked
