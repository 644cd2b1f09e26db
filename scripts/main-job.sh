#!/usr/bin/env bash
# The main job, embedded (no broker): builds fraudstream and runs `fraudstream demo` — generates a full-size
# IEEE-CIS-shaped data set (590,540 transactions), trains a model on the features the stream computes, starts the
# scoring server, replays the data through the streaming job (event-time interval join, calendar and client
# features, the model called over HTTP) at a watchable speed, serves the live dashboard on http://127.0.0.1:8080,
# and prints a report. Output in demo-out/. Ctrl-C stops cleanly (a second Ctrl-C quits at once).
# Usage: scripts/main-job.sh [fraudstream demo flags, e.g. --data DIR --model M.onnx --speedup 500000 --exit-when-done]
set -euo pipefail
export PATH="$HOME/.cargo/bin:$PATH"
cd "$(dirname "$0")/.."

scripts/setup-build.sh
cargo build --release --locked -j2 -p fraudstream
exec target/release/fraudstream demo "$@"
