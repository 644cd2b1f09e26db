"""Runs a `fraudstream flink-sql --connector filesystem` script on a local Apache Flink mini-cluster (PyFlink).

Usage: run_flink_sql.py SCRIPT.sql

Streaming mode, so the interval join runs on event time and watermarks as it would on Kafka: the bounded file
sources end with the maximum watermark, which closes every join window and commits the filesystem sink's files.
The session time zone is deliberately not UTC: the script's calendar features must not depend on it.
"""

import sys
import time

from pyflink.table import EnvironmentSettings, TableEnvironment


def statements(text):
    """The script's statements: comment lines dropped, split at a `;` that ends a line."""
    body = "\n".join(line for line in text.splitlines() if not line.lstrip().startswith("--"))
    return [s.strip() for s in body.split(";\n") if s.strip().rstrip(";").strip()]


def main():
    with open(sys.argv[1], encoding="utf-8") as f:
        script = f.read()
    env = TableEnvironment.create(EnvironmentSettings.in_streaming_mode())
    config = env.get_config()
    config.set("parallelism.default", "2")
    config.set("table.local-time-zone", "America/Los_Angeles")
    started = time.monotonic()
    inserts = 0
    for statement in statements(script):
        result = env.execute_sql(statement.rstrip(";"))
        if statement.upper().startswith("INSERT"):
            result.wait()
            inserts += 1
    if inserts != 1:
        sys.exit(f"expected one INSERT in the script, ran {inserts}")
    print(f"flink job finished in {time.monotonic() - started:.1f}s")


if __name__ == "__main__":
    main()
