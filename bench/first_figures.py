"""First figures for issue-token: start to first answer, time added on top of STS, peak RSS.

Runs the release binary in HTTP mode against a stand-in STS (Python, answering a recorded
AssumeRole success at once) on 127.0.0.1, and reports medians:

- start to first answer: process spawn until the first 200 is read, over --starts runs;
- added latency: the median time of GET issue-token (which makes one STS call) minus the
  median time of the same client POSTing straight to the stand-in STS, both over a kept-alive
  connection, --requests each;
- the server's peak RSS (VmHWM) after those requests.

usage: python3 bench/first_figures.py [--binary target/release/issue-token] [--starts 30] [--requests 3000]
"""

import argparse
import http.client
import http.server
import json
import os
import socket
import statistics
import subprocess
import threading
import time

SUCCESS = json.dumps({
    "RequestId": "6894B13B-6D71-4EF5-88FA-F32781734A7F",
    "Credentials": {
        "AccessKeyId": "STS.test-vended-key",
        "AccessKeySecret": "bench-vended-secret",
        "SecurityToken": "CAIS" + "x" * 700,
        "Expiration": "2030-01-01T00:00:00Z",
    },
}).encode()


ANSWER = (
    b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: "
    + str(len(SUCCESS)).encode() + b"\r\n\r\n" + SUCCESS
)


class StandInSts(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True

    def do_POST(self):
        self.rfile.read(int(self.headers.get("Content-Length", 0)))
        self.wfile.write(ANSWER)  # one write: head and body in one segment

    def log_message(self, *args):
        pass


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def spawn(binary, sts_port, port):
    env = {
        "PATH": os.environ.get("PATH", ""),
        "RUST_LOG": "warn",
        "AUTH_MODE": "none",
        "PORT": str(port),
        "STS_ENDPOINT": f"http://127.0.0.1:{sts_port}",
        "ALIBABA_CLOUD_ACCESS_KEY_ID": "LTAI-test-bench-key",
        "ALIBABA_CLOUD_ACCESS_KEY_SECRET": "bench-secret",
        "ROLE_ARN": "acs:ram::1234567890123:role/uploader",
        "BUCKET": "examplebucket",
        "BUCKET_REGION": "cn-hangzhou",
    }
    return subprocess.Popen([binary], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def first_answer_ms(binary, sts_port):
    port = free_port()
    started = time.perf_counter()
    process = spawn(binary, sts_port, port)
    try:
        while True:
            try:
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
                conn.request("GET", "/")
                response = conn.getresponse()
                response.read()
                assert response.status == 200, response.status
                return (time.perf_counter() - started) * 1000
            except ConnectionRefusedError:
                time.sleep(0.0002)
    finally:
        process.terminate()
        process.wait()


def nodelay(conn):
    """Python's client writes headers and body separately; without TCP_NODELAY the body
    waits for a delayed ACK (about 40 ms) and the baseline measures that instead of STS."""
    conn.connect()
    conn.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return conn


def peak_rss(pid):
    """VmHWM, the server's own peak resident set. (ru_maxrss of children would count the
    forked Python parent's pages before exec.)"""
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    raise RuntimeError("no VmHWM")


def timed(conn, method, path, body=None, headers=None):
    started = time.perf_counter()
    conn.request(method, path, body=body, headers=headers or {})
    response = conn.getresponse()
    response.read()
    assert response.status == 200, response.status
    return (time.perf_counter() - started) * 1000


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--binary", default="target/release/issue-token")
    parser.add_argument("--starts", type=int, default=30)
    parser.add_argument("--requests", type=int, default=3000)
    args = parser.parse_args()

    sts = http.server.ThreadingHTTPServer(("127.0.0.1", 0), StandInSts)
    threading.Thread(target=sts.serve_forever, daemon=True).start()
    sts_port = sts.server_address[1]

    starts = [first_answer_ms(args.binary, sts_port) for _ in range(args.starts)]

    port = free_port()
    process = spawn(args.binary, sts_port, port)
    time.sleep(0.3)
    direct = nodelay(http.client.HTTPConnection("127.0.0.1", sts_port))
    through = nodelay(http.client.HTTPConnection("127.0.0.1", port))
    form = b"Action=AssumeRole&" + b"x" * 900
    form_headers = {"Content-Type": "application/x-www-form-urlencoded"}
    for _ in range(200):  # warm both paths
        timed(direct, "POST", "/", form, form_headers)
        timed(through, "GET", "/")
    sts_only, via_function = [], []
    for _ in range(args.requests):
        sts_only.append(timed(direct, "POST", "/", form, form_headers))
        via_function.append(timed(through, "GET", "/"))
    peak_rss_kib = peak_rss(process.pid)
    process.terminate()
    process.wait()

    def pct(values, p):
        return statistics.quantiles(values, n=100)[p - 1]

    print(f"binary:                          {args.binary} ({os.path.getsize(args.binary):,} bytes)")
    print(f"start to first answer (median of {args.starts}):  {statistics.median(starts):.2f} ms (p90 {pct(starts, 90):.2f} ms)")
    print(f"GET issue-token, median:          {statistics.median(via_function):.3f} ms (p99 {pct(via_function, 99):.3f} ms)")
    print(f"POST stand-in STS directly, median: {statistics.median(sts_only):.3f} ms (p99 {pct(sts_only, 99):.3f} ms)")
    print(f"added by issue-token, median:     {statistics.median(via_function) - statistics.median(sts_only):.3f} ms")
    print(f"server peak RSS (VmHWM) after {args.requests + 200} requests: {peak_rss_kib / 1024:.1f} MiB")


if __name__ == "__main__":
    main()
