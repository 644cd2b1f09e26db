#!/usr/bin/env bash
# Installs Apache Flink's own SQL parser for the test that parses `fraudstream flink-sql` output
# (crates/cli/tests/flink_sql.rs). Idempotent: a machine that has it reuses it.
#
# Flink's jars are not on crates.io; the one registry here that ships them is PyPI, inside the PyFlink wheel
# apache-flink-libraries. scripts/setup.sh runs setup-flink-runtime.sh first, which installs that wheel into the
# PyFlink venv, so the planner loader jar is taken from there; without the venv (this script run alone) the wheel is
# downloaded (329 MB, a few seconds on this network) and deleted after. Only flink-table-planner.jar (46 MB: Flink's
# SQL grammar plus Calcite) is kept, with Debian's slf4j-api. Needs a JDK (the test runs the parser harness with
# Java's source launcher).
set -euo pipefail
FLINK_VERSION=2.3.0
dir="${FRAUDSTREAM_CACHE:-$HOME/.cache/fraudstream}/flink-sql-parser-$FLINK_VERSION"
if [ -s "$dir/classpath" ]; then
  echo "setup: reusing Flink $FLINK_VERSION SQL parser in $dir"
  exit 0
fi

need_apt=()
command -v javac >/dev/null 2>&1 || need_apt+=(openjdk-17-jdk-headless)
[ -f /usr/share/java/slf4j-api.jar ] || need_apt+=(libslf4j-java)
if [ ${#need_apt[@]} -gt 0 ]; then
  echo "setup: installing ${need_apt[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need_apt[@]}"
fi

tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
venv="${FRAUDSTREAM_CACHE:-$HOME/.cache/fraudstream}/pyflink-$FLINK_VERSION"
loader_jar=""
if [ -f "$venv/installed" ]; then
  loader_jar="$(find "$venv/" -path "*/pyflink/lib/flink-table-planner-loader-$FLINK_VERSION.jar" -print -quit)"
fi
if [ -n "$loader_jar" ]; then
  echo "setup: taking Flink $FLINK_VERSION's SQL parser from the PyFlink venv ($loader_jar)"
else
  echo "setup: fetching Flink $FLINK_VERSION's SQL parser from PyPI (apache-flink-libraries, once per machine)"
  python3 -m pip download --quiet --no-deps --disable-pip-version-check -d "$tmp" \
    "apache-flink-libraries==$FLINK_VERSION"
  python3 - "$tmp" <<'PY'
import glob, sys, zipfile
tmp = sys.argv[1]
wheel = zipfile.ZipFile(glob.glob(f"{tmp}/apache_flink_libraries-*.whl")[0])
loader = next(n for n in wheel.namelist() if n.startswith("pyflink/lib/flink-table-planner-loader-"))
with open(f"{tmp}/planner-loader.jar", "wb") as f:
    f.write(wheel.read(loader))
PY
  loader_jar="$tmp/planner-loader.jar"
fi
mkdir -p "$dir.partial"
python3 - "$loader_jar" "$dir.partial" <<'PY'
import sys, zipfile
loader, out = sys.argv[1], sys.argv[2]
# The loader jar carries the planner (parser and Calcite included) as a nested jar.
with zipfile.ZipFile(loader) as inner:
    with open(f"{out}/flink-table-planner.jar", "wb") as f:
        f.write(inner.read("flink-table-planner.jar"))
PY
rm -rf "$dir"
mv "$dir.partial" "$dir"
echo "$dir/flink-table-planner.jar:/usr/share/java/slf4j-api.jar" > "$dir/classpath"
echo "setup: Flink SQL parser ready in $dir"
