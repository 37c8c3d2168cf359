#!/bin/sh
# What a quota check adds to one presign-url request over loopback: p50 and p99 of one
# connection (wrk -t1 -c1 --latency, 8 s after a 2 s warm-up), release presign-url as
# bench/hot_path.py runs it (AUTH_MODE=none, an OSS V4 PUT), without a quota, with a file quota
# on SQLite (a temporary file) and on Redis, and with a grant rate too.
#
# usage: bench/quota_latency.sh [REDIS_PORT]   (needs wrk and redis-server; builds nothing:
#        cargo build --release -p presign-url first; $CARGO_TARGET_DIR, else target/)
set -eu
cd "$(dirname "$0")/.."
BIN="${CARGO_TARGET_DIR:-target}/release/presign-url"
REDIS_PORT="${1:-6391}"
QUERY="/?key=uploads/anonymous/photo%201.jpg&method=PUT&contentType=image/jpeg"
DIR="$(mktemp -d)"
redis-server --bind 127.0.0.1 --port "$REDIS_PORT" --save "" --appendonly no --dir "$DIR" >/dev/null 2>&1 &
REDIS=$!
trap 'kill $REDIS 2>/dev/null; rm -rf "$DIR"' EXIT
sleep 1
run() {
  port=$1
  shift
  env -i PATH="$PATH" AUTH_MODE=none PORT="$port" BUCKET=examplebucket BUCKET_REGION=cn-hangzhou \
    ALIBABA_CLOUD_ACCESS_KEY_ID=LTAI-test-bench-key ALIBABA_CLOUD_ACCESS_KEY_SECRET=bench-secret \
    RUST_LOG=warn "$@" "$BIN" >/dev/null 2>&1 &
  pid=$!
  sleep 1
  wrk -t1 -c1 -d2s "http://127.0.0.1:$port$QUERY" >/dev/null
  echo "== ${*:-no quota}"
  wrk -t1 -c1 -d8s --latency "http://127.0.0.1:$port$QUERY" | grep -E "50%|99%|Requests/sec|Non-2xx"
  kill "$pid"
  wait "$pid" 2>/dev/null || true
}
run 9411
run 9412 QUOTA_FILES=1000000 QUOTA_STORE="sqlite:$DIR/quota.db"
run 9413 QUOTA_FILES=1000000 QUOTA_STORE="redis://127.0.0.1:$REDIS_PORT"
run 9414 QUOTA_FILES=1000000 GRANT_RATE=1000000/second QUOTA_STORE="redis://127.0.0.1:$REDIS_PORT"
