#!/usr/bin/env bash
# The issue's load run: 100,000 requests at 64 concurrent connections to each function in HTTP
# mode, zero errors, and peak RSS at 100,000 requests within 10 % of that at 10,000.
#
# Each function is started fresh, as bench/load.sh starts it (presign-url with its own key and a
# 600-character token; issue-token with AUTH_MODE=none against bench/sts_standin.py). Then one
# wrk -t1 -c64 run with bench/wrk_requests.lua sends exactly 100,000 requests over the same 64
# connections; the Lua script reads the server's VmHWM (/proc/PID/status) when the 10,000th
# answer arrives, and this script reads it again after the last. One run, not two: a second
# wrk would open 64 new connections while the server still closes the old ones, and that
# moment's buffers (about 1 MiB) would be measured instead of growth with requests. wrk has no
# request count; wrk_requests.lua sends exactly the number asked (it counts what it writes,
# and once there writes nothing more), waits for as many answers and then ends wrk.
#
# A third case, issue-token with AUTH_MODE=jwt (HS256), does the same with many callers: the
# first 20,000 requests each from a new caller (about five times what the credential cache
# holds, CachedRole::CAPACITY = 4,096, so it is full and keeps evicting), then the same callers
# again, in turn. The stand-in STS there (bench/peers/sts_standin.mjs) counts its calls, and the
# script checks they lie between the number of callers (each new one makes one) and the number
# of requests (none makes more than one). Every stand-in credential expires at the same time, so
# which entries eviction drops among those ties is arbitrary: the call count measures no
# eviction policy.
#
# Prints one row per case; exits 1 if any request was not answered 2xx, any socket error
# occurred, any count is off, or a VmHWM ratio exceeds 1.10.
#
# usage: bench/load_100k.sh [--no-jwt]   (--no-jwt: only the issue's two cases; no Node needed)
set -euo pipefail
cd "$(dirname "$0")/.."

jwt_case=1
case "${1:-}" in
  "") ;;
  --no-jwt) jwt_case=0 ;;
  *) echo "usage: bench/load_100k.sh [--no-jwt]" >&2; exit 2 ;;
esac
source bench/lib.sh  # die, wait_ready
trap 'exit 130' INT TERM  # (so that the EXIT trap below runs)
tools=(wrk curl python3 cargo)
[ "$jwt_case" = 0 ] || tools+=(node)
for tool in "${tools[@]}"; do
  command -v "$tool" >/dev/null || die "needs $tool (wrk: apt-get install wrk)"
done

PRESIGN_PORT=9480 ISSUE_PORT=9481 JWT_PORT=9482 STS_PORT=9483 NODE_STS_PORT=9484
for port in $PRESIGN_PORT $ISSUE_PORT $JWT_PORT $STS_PORT $NODE_STS_PORT; do
  if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then die "port $port is already in use"; fi
done
FIRST=10000 MORE=90000 LIMIT_RATIO=1.10 WRK_BOUND=600s

cargo build --release --quiet -p issue-token -p presign-url
out=$(mktemp -d "${TMPDIR:-/tmp}/stsvend-load100k.XXXXXX")

# Every process started here is stopped on exit, however the script exits.
started=()
cleanup() {
  local pid
  for pid in "${started[@]+"${started[@]}"}"; do kill "$pid" 2>/dev/null || true; done
  for pid in "${started[@]+"${started[@]}"}"; do wait "$pid" 2>/dev/null || true; done
}
trap cleanup EXIT

hwm() {  # PID: VmHWM in KiB
  awk '/^VmHWM:/ {print $2}' "/proc/$1/status"
}
figure() {  # FILE SED-PATTERN: the number the pattern's group matches, or 0
  local v
  v=$(sed -n "s/$2/\\1/p" "$1" | head -n1)
  echo "${v:-0}"
}
node_sts_calls() {
  curl -sf "http://127.0.0.1:$NODE_STS_PORT/calls" | python3 -c 'import json, sys; print(json.load(sys.stdin)["calls"])'
}

# The environments: bench/load.sh's.
security_token="CAIS$(printf 'x%.0s' $(seq 600))"
common=(ALIBABA_CLOUD_ACCESS_KEY_ID=LTAI-test-bench-key ALIBABA_CLOUD_ACCESS_KEY_SECRET=bench-secret
        BUCKET=examplebucket BUCKET_REGION=cn-hangzhou RUST_LOG=warn)
presign_env=(AUTH_MODE=none PORT=$PRESIGN_PORT ALIBABA_CLOUD_SECURITY_TOKEN="$security_token" "${common[@]}")
issue_env=(AUTH_MODE=none PORT=$ISSUE_PORT STS_ENDPOINT=http://127.0.0.1:$STS_PORT
           ROLE_ARN=acs:ram::1234567890123:role/bench "${common[@]}")
presign_url="http://127.0.0.1:$PRESIGN_PORT/?key=uploads/anonymous/photo%201.jpg&method=PUT&contentType=image/jpeg"

python3 bench/sts_standin.py "$STS_PORT" 2>"$out/sts_standin.log" &
started+=($!)
wait_ready $! "$STS_PORT" sts_standin
if [ "$jwt_case" = 1 ]; then
  node bench/peers/sts_standin.mjs "$NODE_STS_PORT" >"$out/sts_standin_node.log" 2>&1 &
  started+=($!)
  wait_ready $! "$NODE_STS_PORT" sts_standin_node
  secret=$(python3 -c 'import sys; sys.path.insert(0, "bench"); from callers import SECRET; print(SECRET)')
  jwt_env=(AUTH_MODE=jwt JWT_HS256_SECRET="$secret" JWT_ISSUER=bench JWT_AUDIENCE=bench PORT=$JWT_PORT
           STS_ENDPOINT=http://127.0.0.1:$NODE_STS_PORT ROLE_ARN=acs:ram::1234567890123:role/bench "${common[@]}")
  python3 bench/jwt_tokens.py 20000 "$out/tokens.txt"  # u00000001 ... u00020000
fi

echo "# bench/load_100k.sh: $(date -u +%Y-%m-%dT%H:%M:%SZ), $(nproc) cores, load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
echo
echo "wrk -t1 -c64 -s bench/wrk_requests.lua: exactly $((FIRST + MORE)) requests in one run, VmHWM at the $FIRST-th answer and at the end;"
echo "each server started fresh; raw output in $out"
echo
printf '| %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |\n' case "requests sent" "answered" "non-2xx" \
  "socket errors" "VmHWM at 10k (KiB)" "VmHWM at 100k (KiB)" "ratio" "STS calls" result
echo "|---|---:|---:|---:|---:|---:|---:|---:|---:|---|"

failed=0
run_case() {  # NAME LABEL PORT URL ENV-ARRAY-NAME BINARY STS(python|node) [TOKENS FILE]
  local name=$1 label=$2 port=$3 url=$4 envname=$5 binary=$6 sts=$7 tokens=${8:-}
  local -n env_=$envname
  local pid calls0 calls100 hwm10 hwm100 n file args sent=0 answered=0 non2xx=0 errors=0
  local problems=()
  calls0=$(sts_calls "$sts")
  env "${env_[@]}" "target/release/$binary" >"$out/$name.log" 2>&1 &
  pid=$!
  started+=("$pid")
  wait_ready "$pid" "$port" "$name"
  # One wrk run of FIRST + MORE requests on the same 64 connections; the Lua script reads the
  # server's VmHWM when the FIRST-th answer arrives, so no reconnect falls between the readings.
  n=$((FIRST + MORE))
  file="$out/$name.txt"
  args=("$n")
  # With tokens: caller 1, 2, ... each new until the file's end, then again from the first.
  [ -z "$tokens" ] || args+=("$tokens" cycle 1)
  WRK_PROBE_PID=$pid WRK_PROBE_AT=$FIRST wrk -t1 -c64 -d"$WRK_BOUND" --latency -s bench/wrk_requests.lua \
    "$url" -- "${args[@]}" >"$file" 2>&1 || die "wrk failed: $(cat "$file")"
  kill -0 "$pid" 2>/dev/null || die "$name died during the run (its log: $out/$name.log)"
  sent=$(figure "$file" '^lua: sent \([0-9]*\).*')
  answered=$(figure "$file" '^lua: sent [0-9]*, answered \([0-9]*\).*')
  non2xx=$(figure "$file" '.*, non-2xx \([0-9]*\).*')
  errors=$(sed -n 's/.*Socket errors: connect \([0-9]*\), read \([0-9]*\), write \([0-9]*\), timeout \([0-9]*\).*/\1 \2 \3 \4/p' "$file" |
      awk '{print $1 + $2 + $3 + $4}')
  errors=${errors:-0}
  [ "$sent" = "$n" ] || problems+=("sent $sent, not $n")
  [ "$answered" = "$sent" ] || problems+=("$answered answers to $sent requests (wrk stopped at -d $WRK_BOUND?)")
  hwm10=$(figure "$file" '^probe: VmHWM \([0-9]*\) kB.*')
  [ "$hwm10" -gt 0 ] || die "no VmHWM probe at $FIRST answers in $file"
  hwm100=$(hwm "$pid")
  calls100=$(sts_calls "$sts")
  kill "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
  [ "$non2xx" = 0 ] || problems+=("$non2xx non-2xx")
  [ "$errors" = 0 ] || problems+=("$errors socket errors")
  local ratio
  ratio=$(python3 -c 'import sys; print(f"{int(sys.argv[2]) / int(sys.argv[1]):.3f}")' "$hwm10" "$hwm100")
  python3 -c 'import sys; sys.exit(float(sys.argv[1]) > float(sys.argv[2]))' "$ratio" "$LIMIT_RATIO" ||
    problems+=("VmHWM ratio $ratio > $LIMIT_RATIO")
  local calls="$((calls100 - calls0))"
  if [ -n "$tokens" ]; then
    # Every caller is new until the token file's end, and no request makes more than one call.
    local callers
    callers=$(grep -c . "$tokens")
    [ $((calls100 - calls0)) -ge "$callers" ] && [ $((calls100 - calls0)) -le "$sent" ] ||
      problems+=("$((calls100 - calls0)) STS calls for $sent requests from $callers callers")
  fi
  [ -n "$tokens" ] || [ "$binary" != issue-token ] || [ $((calls100 - calls0)) -le 1 ] ||
    problems+=("one caller made $((calls100 - calls0)) STS calls")
  [ "$binary" = issue-token ] || calls="—"
  local result="pass"
  if [ ${#problems[@]} -gt 0 ]; then
    result="**FAIL**: $(IFS=';'; echo "${problems[*]}")"
    failed=1
  fi
  printf '| %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |\n' "$label" "$sent" "$answered" "$non2xx" \
    "$errors" "$hwm10" "$hwm100" "$ratio" "$calls" "$result"
}
sts_calls() {  # python|node: AssumeRole calls the stand-in has answered so far
  if [ "$1" = node ]; then
    node_sts_calls
  else
    sleep 0.2  # (it logs each call just after answering it)
    local v
    v=$(grep -c '^calls=' "$out/sts_standin.log" || true)
    echo "${v:-0}"
  fi
}

run_case presign-url "presign-url" $PRESIGN_PORT "$presign_url" presign_env presign-url python
run_case issue-token "issue-token (AUTH_MODE=none)" $ISSUE_PORT "http://127.0.0.1:$ISSUE_PORT/" issue_env issue-token python
if [ "$jwt_case" = 1 ]; then
  run_case issue-token-jwt "issue-token (AUTH_MODE=jwt; 20,000 new callers, then the same again)" \
    $JWT_PORT "http://127.0.0.1:$JWT_PORT/" jwt_env issue-token node "$out/tokens.txt"
fi

cat <<EOF

- Load average after: $(cut -d' ' -f1-3 /proc/loadavg). VmHWM is the server's peak resident set
  (/proc/PID/status), read at the $FIRST-th answer (by the Lua script, mid-run) and after all
  $((FIRST + MORE)); ratio =
  the second ÷ the first (pass: at most $LIMIT_RATIO).
- requests sent and answered are bench/wrk_requests.lua's counts (sent = requests written; it writes
  no more than asked, so there is no overshoot); non-2xx is any status outside 200-299; socket
  errors are wrk's (connect, read, write, timeout).
- STS calls: issue-token with AUTH_MODE=none is one caller: 1 call, then its cache. With
  AUTH_MODE=jwt the first 20,000 requests are new callers, one call each; the rest cycle over the
  same callers, about five times what the cache holds (CachedRole::CAPACITY), so most are
  evicted before they come back and call again.
EOF
exit "$failed"
