#!/usr/bin/env bash
# The main job, embedded (no broker): builds fraudstream, generates a full-size IEEE-CIS-shaped data set if there
# is none, and runs the streaming job over it — event-time interval join of transactions and identities, calendar
# features, the reference team's ONNX model in-process — writing out/scores.csv, alerts.jsonl, dead_letters.jsonl.
# Usage: scripts/main-job.sh [DATA_DIR] [MODEL]
set -euo pipefail
export PATH="$HOME/.cargo/bin:$PATH"
cd "$(dirname "$0")/.."
data="${1:-data}"
model="${2:-../shared/reference/seed-model/pipeline_75.onnx}"

scripts/setup-build.sh
cargo build --release --locked -j2 -p fraudstream
bin=target/release/fraudstream

if [ ! -s "$data/train_transaction.csv" ]; then
  "$bin" generate --rows 590540 --seed 42 --out "$data"
fi
"$bin" run --model "$model" --transactions "$data/train_transaction.csv" \
  --identities "$data/train_identity.csv" --out out
