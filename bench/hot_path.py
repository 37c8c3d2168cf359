#!/usr/bin/env python3
"""presign-url's hot path against a trivial server, in one run: server CPU per request.

Builds release presign-url and bench/trivial-server (std only, a fixed JSON answer of the
same length as presign-url's), starts both on 127.0.0.1, and runs wrk (-t1 -c16 -d10s by
default) against each in turn, alternating which goes first, for 3 rounds. Around each wrk
run it reads the server's utime + stime from /proc/PID/stat, and prints the server's CPU per
request (µs) for each, and presign-url's over the trivial server's, per round and the median.

presign-url runs as bench/load.sh runs it: AUTH_MODE=none, the function's own key with a
600-byte STS token, OSS V4 (the default), answering a presigned PUT with a Content-Type.
Logging is the function's default (RUST_LOG unset: one `info` line per request, stdout to
/dev/null) unless --rust-log says otherwise.

Exits non-zero if a server answers anything but 200, or wrk reports a non-2xx answer or a
socket error. Both servers are stopped on exit, error or Ctrl-C included.

    python3 bench/hot_path.py [--rounds 3] [--duration 10] [--connections 16]
        [--rust-log warn] [--env NAME=VALUE ...] [--presign PATH] [--compare PATH]
        [--no-build]

Builds into $CARGO_TARGET_DIR (else target/); the trivial server into its trivial-server/
subfolder. --presign runs another presign-url binary (a profiling or experimental build); --compare
measures a second one (an older build) in the same rounds, its order rotated with the others,
so that two builds are compared under the same load on the machine.
"""

import argparse
import os
import re
import signal
import socket
import statistics
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
QUERY = "/?key=uploads/anonymous/photo%201.jpg&method=PUT&contentType=image/jpeg"
TOKEN = "CAIS" + "x" * 600
CLK_TCK = os.sysconf("SC_CLK_TCK")


def die(message):
    sys.exit(f"hot_path.py: {message}")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def build(target):
    env = dict(os.environ, CARGO_TARGET_DIR=str(target))
    subprocess.run(
        ["cargo", "build", "--release", "--locked", "--quiet", "-p", "presign-url"],
        cwd=ROOT, env=env, check=True,
    )
    env["CARGO_TARGET_DIR"] = str(target / "trivial-server")
    subprocess.run(
        ["cargo", "build", "--release", "--locked", "--offline", "--quiet",
         "--manifest-path", str(ROOT / "bench/trivial-server/Cargo.toml")],
        cwd=ROOT, env=env, check=True,
    )


def wait_ready(proc, port, name):
    for _ in range(150):
        if proc.poll() is not None:
            die(f"{name} exited with {proc.returncode} before it listened")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return
        except OSError:
            time.sleep(0.1)
    die(f"{name} did not listen on 127.0.0.1:{port} within 15 s")


def fetch(port):
    """One answer's status and body, checked to be 200."""
    with urllib.request.urlopen(f"http://127.0.0.1:{port}{QUERY}", timeout=5) as answer:
        body = answer.read()
        if answer.status != 200:
            die(f"127.0.0.1:{port} answered {answer.status}")
        return body


def cpu_ticks(pid):
    """utime + stime of the whole process (every thread), in clock ticks."""
    with open(f"/proc/{pid}/stat") as f:
        stat = f.read()
    fields = stat[stat.rindex(")") + 2:].split()
    return int(fields[11]) + int(fields[12])  # fields 14 and 15 of proc(5)


def wrk(port, duration, connections):
    out = subprocess.run(
        ["wrk", "-t1", f"-c{connections}", f"-d{duration}s", f"http://127.0.0.1:{port}{QUERY}"],
        capture_output=True, text=True, check=True,
    ).stdout
    requests = re.search(r"(\d+) requests in", out)
    if not requests:
        die(f"no request count in wrk's output:\n{out}")
    if "Non-2xx" in out or "Socket errors" in out:
        die(f"wrk reported failures against 127.0.0.1:{port}:\n{out}")
    return int(requests.group(1))


def measure(server, args):
    """µs of server CPU per request, and requests per second, over one wrk run."""
    before = cpu_ticks(server["proc"].pid)
    requests = wrk(server["port"], args.duration, args.connections)
    after = cpu_ticks(server["proc"].pid)
    return (after - before) / CLK_TCK * 1e6 / requests, requests / args.duration


def start(servers, name, argv, env, port):
    proc = subprocess.Popen(argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    servers[name] = {"proc": proc, "port": port}
    wait_ready(proc, port, name)


def run(args, servers):
    target = Path(os.environ.get("CARGO_TARGET_DIR") or ROOT / "target")
    if not args.no_build:
        build(target)
    presign = args.presign or target / "release/presign-url"
    trivial = target / "trivial-server/release/trivial-server"
    port = free_port()
    env = {k: v for k, v in os.environ.items() if k in ("PATH", "HOME")}
    env.update(
        AUTH_MODE="none", PORT=str(port), BUCKET="examplebucket", BUCKET_REGION="cn-hangzhou",
        ALIBABA_CLOUD_ACCESS_KEY_ID="LTAI-test-bench-key",
        ALIBABA_CLOUD_ACCESS_KEY_SECRET="bench-secret", ALIBABA_CLOUD_SECURITY_TOKEN=TOKEN,
    )
    if args.rust_log:
        env["RUST_LOG"] = args.rust_log
    for setting in args.env:
        name, _, value = setting.partition("=")
        env[name] = value
    start(servers, "presign-url", [str(presign)], env, port)
    body = fetch(port)
    if args.compare or args.compare_env:
        port = free_port()
        other_env = dict(env, PORT=str(port))
        for setting in args.compare_env:
            name, _, value = setting.partition("=")
            other_env[name] = value
        start(servers, "compare", [str(args.compare or presign)], other_env, port)
        other = len(fetch(port))
        if other != len(body):
            print(f"note: the compared build answers {other} bytes, this one {len(body)}")
    port = free_port()
    start(servers, "trivial", [str(trivial), str(port), str(len(body))], {}, port)
    if len(fetch(port)) != len(body):
        die("the trivial server's body is not as long as presign-url's")
    print(f"presign-url {presign}, answer {len(body)} bytes; "
          f"wrk -t1 -c{args.connections} -d{args.duration}s; "
          f"RUST_LOG={args.rust_log or '(unset: info)'}"
          + "".join(f"; {setting}" for setting in args.env)
          + (f"; compared with {args.compare or 'the same binary'}"
             + "".join(f" and {setting}" for setting in args.compare_env)
             if "compare" in servers else ""))
    for name in servers:  # warm up: connections, allocator, caches
        wrk(servers[name]["port"], 1, args.connections)
    compare = "compare" in servers
    print(f"{'round':>5}  {'presign µs/req':>14}  {'trivial µs/req':>14}  {'ratio':>6}"
          f"  {'presign req/s':>13}  {'trivial req/s':>13}"
          + (f"  {'compared µs/req':>15}  {'its ratio':>9}" if compare else ""))
    rows = []
    names = list(servers)
    for round_ in range(1, args.rounds + 1):
        shift = (round_ - 1) % len(names)
        order = names[shift:] + names[:shift]
        got = {name: measure(servers[name], args) for name in order}
        (p, p_rps), (t, t_rps) = got["presign-url"], got["trivial"]
        c = got["compare"][0] if compare else p
        rows.append((p, t, p / t, c, c / t))
        print(f"{round_:>5}  {p:>14.2f}  {t:>14.2f}  {p / t:>6.2f}  {p_rps:>13,.0f}  {t_rps:>13,.0f}"
              + (f"  {c:>15.2f}  {c / t:>9.2f}" if compare else ""))
    p, t, r, c, cr = (statistics.median(col) for col in zip(*rows))
    print(f"{'median':>5}  {p:>14.2f}  {t:>14.2f}  {r:>6.2f}"
          + (f"  {'':>13}  {'':>13}  {c:>15.2f}  {cr:>9.2f}" if compare else ""))


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--duration", type=int, default=10, help="seconds per wrk run")
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--rust-log", help="presign-url's RUST_LOG (default unset: info)")
    parser.add_argument("--presign", type=Path, help="another presign-url binary to run")
    parser.add_argument("--compare", type=Path, metavar="PATH",
                        help="a second presign-url binary (an older build, say) measured in the "
                             "same rounds, with the same settings, order rotated each round")
    parser.add_argument("--compare-env", action="append", default=[], metavar="NAME=VALUE",
                        help="one more variable for the compared server only; without --compare, "
                             "the compared server is this presign-url with these variables")
    parser.add_argument("--env", action="append", default=[], metavar="NAME=VALUE",
                        help="one more variable for presign-url (TOKIO_WORKER_THREADS=1, ...)")
    parser.add_argument("--no-build", action="store_true")
    args = parser.parse_args()
    if subprocess.run(["sh", "-c", "command -v wrk"], capture_output=True).returncode:
        die("needs wrk (apt-get install wrk)")
    servers = {}
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    try:
        run(args, servers)
    finally:
        for server in servers.values():
            server["proc"].terminate()
        for server in servers.values():
            try:
                server["proc"].wait(timeout=15)
            except subprocess.TimeoutExpired:
                server["proc"].kill()


if __name__ == "__main__":
    main()
