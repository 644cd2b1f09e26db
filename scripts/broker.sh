#!/usr/bin/env bash
# Starts a tansu broker on 127.0.0.1:${FRAUDSTREAM_TEST_PORT:-9092} (in-memory storage) unless one already listens,
# and waits until it accepts connections. Prints the PID it started (nothing if it reused a running broker).
set -euo pipefail
export PATH="$HOME/.cargo/bin:$PATH"
port="${FRAUDSTREAM_TEST_PORT:-9092}"
listening() { (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; }
if listening; then
  echo "broker: reusing the broker already listening on 127.0.0.1:$port" >&2
  exit 0
fi
log="${TMPDIR:-/tmp}/fraudstream-tansu-$port.log"
tansu broker --storage-engine memory://tansu/ \
  --listener-url "tcp://127.0.0.1:$port" --advertised-listener-url "tcp://127.0.0.1:$port" >"$log" 2>&1 &
pid=$!
for _ in $(seq 1 100); do
  if listening; then
    echo "broker: tansu (pid $pid) listening on 127.0.0.1:$port, log $log" >&2
    echo "$pid"
    exit 0
  fi
  kill -0 "$pid" 2>/dev/null || { cat "$log" >&2; echo "broker: tansu exited" >&2; exit 1; }
  sleep 0.1
done
echo "broker: tansu did not start listening on $port within 10 s" >&2
exit 1
