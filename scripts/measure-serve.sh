#!/usr/bin/env bash
# Measures `amigo serve` start-up (exec until /readyz answers 200 on an empty
# data directory) and idle resident memory after five seconds, RUNS times.
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS=${RUNS:-5}
PORT=${PORT:-18090}
bin=$(mktemp -d)/amigo
go build -o "$bin" ./cmd/amigo
printf 'binary: %s bytes\n' "$(stat -c %s "$bin")"
for _ in $(seq "$RUNS"); do
  dir=$(mktemp -d)
  t0=$(date +%s%N)
  "$bin" serve --data "$dir" --http "127.0.0.1:$PORT" --log-format json 2>/dev/null &
  pid=$!
  until curl -sf "http://127.0.0.1:$PORT/readyz" >/dev/null; do sleep 0.005; done
  t1=$(date +%s%N)
  sleep 5
  rss=$(awk '/VmRSS/ {print $2}' "/proc/$pid/status")
  kill -TERM "$pid"
  wait "$pid" && rc=0 || rc=$?
  printf 'ready_ms=%d idle_rss_kb=%d exit=%d\n' $(((t1 - t0) / 1000000)) "$rss" "$rc"
  rm -rf "$dir"
done
