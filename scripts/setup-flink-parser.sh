#!/usr/bin/env bash
# Installs Apache Flink's own SQL parser for the test that parses `fraudstream flink-sql` output
# (crates/cli/tests/flink_sql.rs). Idempotent: a machine that has it reuses it.
#
# Flink's jars are not on crates.io; the one registry here that ships them is PyPI, inside the PyFlink wheel
# apache-flink-libraries (329 MB download, a few seconds on this network). Only flink-table-planner.jar (46 MB: Flink's
# SQL grammar plus Calcite) is kept, with Debian's slf4j-api; the wheel is deleted. Needs a JDK (the test runs the
# parser harness with Java's source launcher).
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

echo "setup: fetching Flink $FLINK_VERSION's SQL parser from PyPI (apache-flink-libraries, once per machine)"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
python3 -m pip download --quiet --no-deps --disable-pip-version-check -d "$tmp" "apache-flink-libraries==$FLINK_VERSION"
mkdir -p "$dir.partial"
python3 - "$tmp" "$dir.partial" <<'PY'
import glob, io, sys, zipfile
tmp, out = sys.argv[1], sys.argv[2]
wheel = zipfile.ZipFile(glob.glob(f"{tmp}/apache_flink_libraries-*.whl")[0])
loader = next(n for n in wheel.namelist() if n.startswith("pyflink/lib/flink-table-planner-loader-"))
# The loader jar carries the planner (parser and Calcite included) as a nested jar.
with zipfile.ZipFile(io.BytesIO(wheel.read(loader))) as inner:
    with open(f"{out}/flink-table-planner.jar", "wb") as f:
        f.write(inner.read("flink-table-planner.jar"))
PY
rm -rf "$dir"
mv "$dir.partial" "$dir"
echo "$dir/flink-table-planner.jar:/usr/share/java/slf4j-api.jar" > "$dir/classpath"
echo "setup: Flink SQL parser ready in $dir"
