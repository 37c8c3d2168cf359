#!/usr/bin/env python3
"""presign-url's Companion routes side by side with the real Uppy Companion (6.2.2, from npm,
bench/uppy), the same S3 settings, on this machine, in the same rounds (alternated):

* `s3/params` (a form upload's policy) and one part URL (`s3/multipart/ID/N?key=`): requests/s
  and latency p50/p99 under wrk (`wrk -t1 -c16 -d<S>s --latency`), one connection pool each;
* a 1,000-part upload's signing: `s3/multipart/ID/batch?key=&partNumbers=1,…,1000` (Companion's
  batch route), sent --batches times one after another: wall time and CPU (utime + stime of
  the server, from /proc) per 1,000 part URLs;
* cold start: process spawn until the first 200 of `s3/params`, median of --starts runs;
* peak RSS: the server's VmHWM after its runs (Companion: the node process).

Neither server calls the store on these routes (they sign only), so no store runs: both sign
for `http://127.0.0.1:9` (nothing listens). presign-url runs as the release build, PROVIDER=aws
with a static key, AUTH_MODE=none (every caller `anonymous`, keys under `uploads/anonymous/`);
Companion with COMPANION_AWS_* (key, secret, bucket, region, endpoint, path-style) and
NODE_ENV=production. Prints a markdown table.

    python3 bench/uppy_companion.py [--presign target/release/presign-url] [--seconds 10]
        [--rounds 3] [--batches 20] [--starts 10]

Needs wrk, a release build, and `(cd bench/uppy && npm ci)`.
"""

import argparse
import os
import re
import socket
import statistics
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
COMPANION = ROOT / "bench" / "uppy" / "node_modules" / ".bin" / "companion"
KEY = "uploads%2Fanonymous%2Fvideo.mp4"
UPLOAD_ID = "VXBsb2FkIElEIGZvciBlbHZpbmcncyBteS1tb3ZpZS5tMnRz"
PARAMS = "/s3/params?filename=photo.jpg&type=image%2Fjpeg"
PART = f"/s3/multipart/{UPLOAD_ID}/7?key={KEY}"
BATCH = f"/s3/multipart/{UPLOAD_ID}/batch?key={KEY}&partNumbers=" + ",".join(str(n) for n in range(1, 1001))
STORE = "http://127.0.0.1:9"


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# What both servers sign with: a made-up pair, no cloud key (the measured routes only sign).
SIGNING_KEY = ("bench-not-a-real-access-key", "bench-not-a-real-secret")


def start(name, presign):
    """Starts one server; returns (process, base URL)."""
    port = free_port()
    env = {k: v for k, v in os.environ.items() if k in ("PATH", "HOME")}
    if name == "stsvend":
        env.update(PROVIDER="aws", AUTH_MODE="none", BIND="127.0.0.1", PORT=str(port), BUCKET="playground",
                   BUCKET_REGION="us-east-1", AWS_REGION="us-east-1", BUCKET_ENDPOINT=STORE,
                   AWS_ACCESS_KEY_ID=SIGNING_KEY[0],
                   AWS_SECRET_ACCESS_KEY=SIGNING_KEY[1], RUST_LOG="warn")
        command = [presign]
    else:
        env.update(NODE_ENV="production", COMPANION_PORT=str(port), COMPANION_DOMAIN=f"127.0.0.1:{port}",
                   COMPANION_PROTOCOL="http", COMPANION_DATADIR=str(Path("/tmp") / f"companion-bench-{port}"),
                   COMPANION_SECRET="bench-secret-0123456789", COMPANION_PREAUTH_SECRET="bench-preauth-0123456789",
                   COMPANION_UPLOAD_URLS=f"{STORE}/", COMPANION_AWS_KEY=SIGNING_KEY[0],
                   COMPANION_AWS_SECRET=SIGNING_KEY[1], COMPANION_AWS_BUCKET="playground",
                   COMPANION_AWS_REGION="us-east-1", COMPANION_AWS_ENDPOINT=STORE,
                   COMPANION_AWS_FORCE_PATH_STYLE="true", COMPANION_CLIENT_ORIGINS="true")
        Path(env["COMPANION_DATADIR"]).mkdir(exist_ok=True)
        command = [str(COMPANION)]
    started = time.perf_counter()
    proc = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}"
    while time.perf_counter() - started < 30:
        try:
            with urllib.request.urlopen(base + PARAMS, timeout=2) as answer:
                if answer.status == 200:
                    answer.read()
                    return proc, base, (time.perf_counter() - started) * 1000
        except OSError:
            time.sleep(0.001)
    proc.kill()
    sys.exit(f"{name} did not answer within 30 s")


def stop(proc):
    proc.terminate()
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()


def cpu_seconds(pid):
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def peak_rss_kib(pid):
    match = re.search(r"VmHWM:\s+(\d+) kB", Path(f"/proc/{pid}/status").read_text())
    return int(match.group(1)) if match else 0


def wrk(url, seconds):
    out = subprocess.run(["wrk", "-t1", "-c16", f"-d{seconds}s", "--latency", url],
                         capture_output=True, text=True, check=True).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    if non2xx:
        sys.exit(f"{url}: {non2xx.group(1)} answers were not 2xx:\n{out}")

    def ms(label):
        value, unit = re.search(rf"{label}%\s+([\d.]+)(us|ms|s)", out).groups()
        return float(value) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]
    return rps, ms("50"), ms("99")


def batch(base, pid, batches):
    """Wall and CPU milliseconds per 1,000-part batch, over `batches` sequential requests."""
    urllib.request.urlopen(base + BATCH, timeout=30).read()  # warm
    cpu0, wall0 = cpu_seconds(pid), time.perf_counter()
    for _ in range(batches):
        with urllib.request.urlopen(base + BATCH, timeout=30) as answer:
            body = answer.read()
            assert answer.status == 200 and body.count(b"partNumber=") >= 1000, body[:200]
    wall = (time.perf_counter() - wall0) * 1000 / batches
    cpu = (cpu_seconds(pid) - cpu0) * 1000 / batches
    return wall, cpu


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--presign", default=str(Path(os.environ.get("CARGO_TARGET_DIR", ROOT / "target"))
                                                 / "release" / "presign-url"))
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--batches", type=int, default=20)
    parser.add_argument("--starts", type=int, default=10)
    args = parser.parse_args()
    if not COMPANION.exists():
        sys.exit("install Companion first: (cd bench/uppy && npm ci)")
    names = ("stsvend", "companion")
    results = {n: {"params": [], "part": [], "batch": [], "rss": []} for n in names}
    for _ in range(args.rounds):
        for name in names:
            proc, base, _ = start(name, args.presign)
            try:
                results[name]["params"].append(wrk(base + PARAMS, args.seconds))
                results[name]["part"].append(wrk(base + PART, args.seconds))
                results[name]["batch"].append(batch(base, proc.pid, args.batches))
                results[name]["rss"].append(peak_rss_kib(proc.pid))
            finally:
                stop(proc)
    starts = {n: [] for n in names}
    for _ in range(args.starts):
        for name in names:
            proc, _, ms = start(name, args.presign)
            stop(proc)
            starts[name].append(ms)

    def median(name, what, index):
        return statistics.median(r[index] for r in results[name][what])

    rows = [
        ("`s3/params`: requests/s", "params", 0, "{:,.0f}", True),
        ("`s3/params`: p50 ms", "params", 1, "{:.2f}", False),
        ("`s3/params`: p99 ms", "params", 2, "{:.2f}", False),
        ("one part URL: requests/s", "part", 0, "{:,.0f}", True),
        ("one part URL: p50 ms", "part", 1, "{:.2f}", False),
        ("one part URL: p99 ms", "part", 2, "{:.2f}", False),
        ("1,000 part URLs (batch): wall ms", "batch", 0, "{:.1f}", False),
        ("1,000 part URLs (batch): CPU ms", "batch", 1, "{:.1f}", False),
    ]
    print(f"| measure ({args.rounds} rounds, medians) | stsvend presign-url | @uppy/companion 6.2.2 | stsvend ahead by |")
    print("|---|---|---|---|")
    for label, what, index, fmt, higher in rows:
        ours, theirs = median("stsvend", what, index), median("companion", what, index)
        ratio = ours / theirs if higher else theirs / ours
        print(f"| {label} | {fmt.format(ours)} | {fmt.format(theirs)} | {ratio:.1f}× |")
    ours, theirs = statistics.median(starts["stsvend"]), statistics.median(starts["companion"])
    print(f"| cold start to first `s3/params`, ms (median of {args.starts}) | {ours:.1f} | {theirs:.1f} | {theirs / ours:.1f}× |")
    ours = max(results["stsvend"]["rss"]) / 1024
    theirs = max(results["companion"]["rss"]) / 1024
    print(f"| peak RSS after the runs, MiB | {ours:.1f} | {theirs:.1f} | {theirs / ours:.1f}× |")


if __name__ == "__main__":
    main()
