#!/usr/bin/env bash
# Installs what building and testing fraudstream needs (system packages, a headless browser, PyFlink and Flink's SQL parser, then the test broker) on a fresh Debian machine with a Rust toolchain.
# Idempotent: what is already there is reused (the tansu build takes 11-18 minutes, so it is never repeated).
set -euo pipefail
export PATH="$HOME/.cargo/bin:$PATH"

"$(dirname "$0")/setup-build.sh"

# Headless Chromium and playwright-core for the dashboard's browser test (crates/dashboard/tests/browser.rs).
if ! command -v chromium >/dev/null 2>&1; then
  echo "setup: installing chromium"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium
fi
browser_dir="$(dirname "$0")/../tests/browser"
if [ ! -f "$browser_dir/node_modules/.package-lock.json" ] ||
  [ "$browser_dir/package-lock.json" -nt "$browser_dir/node_modules/.package-lock.json" ]; then
  echo "setup: installing playwright-core into tests/browser/node_modules"
  npm ci --prefix "$browser_dir" --no-audit --no-fund
fi

# Apache Flink 2.3 as PyFlink, for the test that runs the file form of `fraudstream flink-sql` on a local Flink
# (crates/cli/tests/flink_sql_run.rs). Before the parser: the parser setup takes its jar from this venv.
"$(dirname "$0")/setup-flink-runtime.sh"

# Apache Flink's SQL parser, for the test that parses the `fraudstream flink-sql` output.
"$(dirname "$0")/setup-flink-parser.sh"

# The Kafka-protocol broker the integration tests run against.
TANSU_VERSION=0.6.0
if command -v tansu >/dev/null 2>&1 && tansu --version 2>/dev/null | grep -q "$TANSU_VERSION"; then
  echo "setup: reusing $(command -v tansu) ($(tansu --version))"
else
  echo "setup: installing tansu $TANSU_VERSION (takes 11-18 minutes on 2 cores; done once per machine)"
  cargo install tansu --version "$TANSU_VERSION" --locked --features dynostore,libsql -j2
fi
