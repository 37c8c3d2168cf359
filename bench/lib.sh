# Shared by bench/load_100k.sh and bench/peers/run (sourced, after `out` names the run's
# folder, where each server's log is NAME.log).

die() { echo "$0: $*" >&2; exit 1; }

wait_ready() {  # PID PORT NAME: until the port accepts a connection (no HTTP request is sent,
  local i         # so that no server answers, or calls STS, before its check)
  for i in $(seq 150); do
    kill -0 "$1" 2>/dev/null || die "$3 exited before it listened (its log: $out/$3.log)"
    if (exec 3<>"/dev/tcp/127.0.0.1/$2") 2>/dev/null; then return; fi
    sleep 0.1
  done
  die "$3 did not listen on 127.0.0.1:$2 within 15 s (its log: $out/$3.log)"
}
