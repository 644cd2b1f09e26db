#!/usr/bin/env bash
# Installs what building and testing fraudstream needs on a fresh Debian machine with a Rust toolchain.
# Idempotent: what is already there is reused (the tansu build takes 11-18 minutes, so it is never repeated).
set -euo pipefail

need_apt=()
for pkg in libssl-dev pkg-config gcc make; do
  dpkg -s "$pkg" >/dev/null 2>&1 || need_apt+=("$pkg")
done
if [ ${#need_apt[@]} -gt 0 ]; then
  echo "setup: installing ${need_apt[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need_apt[@]}"
fi

# The Kafka-protocol broker the integration tests run against.
TANSU_VERSION=0.6.0
if command -v tansu >/dev/null 2>&1 && tansu --version 2>/dev/null | grep -q "$TANSU_VERSION"; then
  echo "setup: reusing $(command -v tansu) ($(tansu --version))"
else
  echo "setup: installing tansu $TANSU_VERSION (takes 11-18 minutes on 2 cores; done once per machine)"
  cargo install tansu --version "$TANSU_VERSION" --locked --features dynostore,libsql -j2
fi
