#!/usr/bin/env bash
# Load on both functions in HTTP mode over loopback, with wrk (Debian's package): 3 runs of
# 10 s at 64 connections each; issue-token against bench/sts_standin.py. Prints wrk's figures,
# the servers' peak RSS (VmHWM) and how many STS calls issue-token made.
set -euo pipefail
cd "$(dirname "$0")/.."
command -v wrk >/dev/null || { echo "needs wrk (apt-get install wrk)"; exit 1; }
cargo build --release --quiet -p issue-token -p presign-url
token="CAIS$(printf 'x%.0s' $(seq 600))"
python3 bench/sts_standin.py 9440 2>/tmp/stsvend-sts-calls.log & sts=$!
AUTH_MODE=none PORT=9431 STS_ENDPOINT=http://127.0.0.1:9440 ALIBABA_CLOUD_ACCESS_KEY_ID=LTAI-test-bench-key \
  ALIBABA_CLOUD_ACCESS_KEY_SECRET=bench-secret ROLE_ARN=acs:ram::1234567890123:role/bench BUCKET=examplebucket \
  BUCKET_REGION=cn-hangzhou RUST_LOG=warn target/release/issue-token >/dev/null & issue=$!
AUTH_MODE=none PORT=9430 ALIBABA_CLOUD_ACCESS_KEY_ID=LTAI-test-bench-key ALIBABA_CLOUD_ACCESS_KEY_SECRET=bench-secret \
  ALIBABA_CLOUD_SECURITY_TOKEN="$token" BUCKET=examplebucket BUCKET_REGION=cn-hangzhou RUST_LOG=warn \
  target/release/presign-url >/dev/null & presign=$!
trap 'kill $sts $issue $presign 2>/dev/null' EXIT
sleep 1
for run in 1 2 3; do
  echo "presign-url, run $run:"
  wrk -t1 -c64 -d10s --latency "http://127.0.0.1:9430/?key=uploads/anonymous/photo%201.jpg&method=PUT&contentType=image/jpeg" | grep -E "Requests/sec|50%|99%|Non-2xx|errors"
  echo "issue-token, run $run:"
  wrk -t1 -c64 -d10s --latency "http://127.0.0.1:9431/" | grep -E "Requests/sec|50%|99%|Non-2xx|errors"
done
echo "presign-url $(grep VmHWM /proc/$presign/status)"
echo "issue-token $(grep VmHWM /proc/$issue/status)"
echo "STS calls made by issue-token: $(tail -n1 /tmp/stsvend-sts-calls.log)"
