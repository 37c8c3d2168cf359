#!/usr/bin/env bash
# Where presign-url's CPU per request goes (bench/HOT_PATH_PROFILE.md): builds presign-url
# with debug symbols (the release profile otherwise unchanged) into target/hot-path-prof/
# (under $CARGO_TARGET_DIR when set),
# starts it as bench/hot_path.py does, and under wrk -t1 -c16 records 8 s of it with
# `perf record --call-graph dwarf`; then prints each step's share of the samples and µs per
# request (bench/hot_path_categories.py), given the CPU per request bench/hot_path.py measured
# (the first argument, default 26.85 µs). Needs perf (kernel.perf_event_paranoid <= 1) and wrk.
# Leaves perf.data and its script in its hot-path-profile/ folder.
#
#   bench/hot_path_profile.sh [US_PER_REQUEST] [PRESIGN_URL_BINARY]
set -euo pipefail
cd "$(dirname "$0")/.."
per_request=${1:-26.85}
target="${CARGO_TARGET_DIR:-target}/hot-path-prof"
binary=${2:-$target/release/presign-url}
command -v wrk >/dev/null || { echo "needs wrk (apt-get install wrk)"; exit 1; }
command -v perf >/dev/null || { echo "needs perf (apt-get install linux-perf)"; exit 1; }
if [ -z "${2:-}" ]; then
  CARGO_TARGET_DIR="$target" CARGO_PROFILE_RELEASE_DEBUG=true CARGO_PROFILE_RELEASE_STRIP=false \
    cargo build --release --locked --quiet -p presign-url
fi
out="$target/hot-path-profile"
mkdir -p "$out"
port=9612
url="http://127.0.0.1:$port/?key=uploads/anonymous/photo%201.jpg&method=PUT&contentType=image/jpeg"
AUTH_MODE=none PORT=$port BUCKET=examplebucket BUCKET_REGION=cn-hangzhou \
  ALIBABA_CLOUD_ACCESS_KEY_ID=LTAI-test-bench-key ALIBABA_CLOUD_ACCESS_KEY_SECRET=bench-secret \
  ALIBABA_CLOUD_SECURITY_TOKEN="CAIS$(printf 'x%.0s' $(seq 600))" "$binary" >/dev/null 2>&1 &
server=$!
trap 'kill $server 2>/dev/null' EXIT
for _ in $(seq 50); do (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && break; sleep 0.1; done
wrk -t1 -c16 -d2s "$url" >/dev/null
wrk -t1 -c16 -d12s "$url" >"$out/wrk.txt" &
load=$!
sleep 1
perf record -q -F 999 --call-graph dwarf,32768 -p "$server" -o "$out/perf.data" -- sleep 8
wait $load
grep -E "requests in|Non-2xx|Socket errors" "$out/wrk.txt"
perf script -i "$out/perf.data" --inline -F comm,tid,period,ip,sym,srcline 2>/dev/null >"$out/perf.script"
python3 bench/hot_path_categories.py --per-request "$per_request" --top 25 <"$out/perf.script"
