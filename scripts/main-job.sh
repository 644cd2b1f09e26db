#!/usr/bin/env bash
# The main job, embedded (no broker): builds fraudstream, generates a full-size IEEE-CIS-shaped data set if there
# is none, and scores every transaction with the reference team's ONNX model in-process.
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
"$bin" score --model "$model" --transactions "$data/train_transaction.csv" \
  --identities "$data/train_identity.csv" --out "$data/scores.csv"
echo "scores: $data/scores.csv (TransactionID,score,label)"
