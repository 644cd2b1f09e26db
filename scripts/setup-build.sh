#!/usr/bin/env bash
# Installs the system packages building fraudstream needs (librdkafka is vendored; it needs a C toolchain and
# OpenSSL headers for SASL_SSL). Idempotent.
set -euo pipefail
need_apt=()
for pkg in libssl-dev pkg-config gcc g++ make; do
  dpkg -s "$pkg" >/dev/null 2>&1 || need_apt+=("$pkg")
done
if [ ${#need_apt[@]} -gt 0 ]; then
  echo "setup: installing ${need_apt[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need_apt[@]}"
fi
