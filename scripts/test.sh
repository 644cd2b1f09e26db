#!/usr/bin/env bash
# The test command: installs what is missing, starts a Kafka-protocol broker, runs every check and test.
# Usage: scripts/test.sh [extra cargo test args]
set -euo pipefail
export PATH="$HOME/.cargo/bin:$PATH"
cd "$(dirname "$0")/.."

scripts/setup.sh

broker_pid="$(scripts/broker.sh)"
cleanup() { [ -n "$broker_pid" ] && kill "$broker_pid" 2>/dev/null || true; }
trap cleanup EXIT
export FRAUDSTREAM_TEST_BROKERS="127.0.0.1:${FRAUDSTREAM_TEST_PORT:-9092}"

cargo fmt --all -- --check
cargo clippy --workspace --all-targets --locked -j2 -- -D warnings
cargo test --workspace --locked -j2 "$@"
