#!/usr/bin/env bash
# Installs Apache Flink 2.3 as PyFlink (PyPI apache-flink) into a virtualenv, for the test that runs the file form of
# `fraudstream flink-sql` on a local Flink mini-cluster (crates/cli/tests/flink_sql_run.rs).
# Idempotent: a venv whose install finished is reused. Needs Python >= 3.9 (python3-venv is installed if missing).
# Running the test needs Java 17, installed by setup-flink-parser.sh, which runs after this one and takes its parser
# jar from this venv instead of downloading apache-flink-libraries a second time.
set -euo pipefail
FLINK_VERSION=2.3.0
venv="${FRAUDSTREAM_CACHE:-$HOME/.cache/fraudstream}/pyflink-$FLINK_VERSION"

# The marker is written last, so an interrupted install is redone rather than reused.
if [ -f "$venv/installed" ] && [ -x "$venv/bin/python" ]; then
  echo "setup: reusing PyFlink $FLINK_VERSION in $venv"
  exit 0
fi

if ! python3 -m venv --help >/dev/null 2>&1; then
  echo "setup: installing python3-venv"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-venv
fi

echo "setup: installing PyFlink $FLINK_VERSION into $venv (once per machine)"
rm -rf "$venv"
python3 -m venv "$venv"
"$venv/bin/python" -m pip install --quiet --disable-pip-version-check \
  "apache-flink==$FLINK_VERSION"
"$venv/bin/python" -c "import pyflink.table"
echo "$FLINK_VERSION" > "$venv/installed"
echo "setup: PyFlink $FLINK_VERSION ready in $venv"
