"""Batch part signing over loopback: one presign-url request for 1,000 part URLs against
1,000 single part requests on one kept-alive connection.

Starts the release presign-url in HTTP mode on 127.0.0.1 (--scheme oss-v4, oss-v1 or s3; the
function's own key with a 600-character security token, AUTH_MODE=none), then, for --rounds
rounds, times:

- singles: 1,000 POSTs `{"key","method":"PUT","uploadId","partNumber":n}`, n = 1..1000, one
  after the other on one kept-alive connection, each answer read in full;
- batch: one POST `{"key","method":"PUT","uploadId","partNumbers":{"first":1,"count":1000}}` on
  the same kind of connection, its answer (every part's URL) read in full.

The client is a raw socket (TCP_NODELAY, requests prepared beforehand) so that Python adds as
little as it can to each single request. Every answer must be a 200, and in the first round the
batch's URL for each part must equal the single answer's URL for it, byte for byte. Prints the
median of each, the ratio (budget: the batch <= 10 % of the singles), and the answer sizes.

usage: python3 bench/batch_parts.py [--binary target/release/presign-url] [--rounds 7]
                                    [--scheme oss-v4|oss-v1|s3]
"""

import argparse
import json
import os
import socket
import statistics
import subprocess
import time

KEY = "uploads/anonymous/holiday video+1.mp4"
UPLOAD_ID = "0004B9894A22E5B1888A1E29F8236E2D"
PARTS = 1000
TOKEN = "CAIS" + "x" * 600
OSS = {"ALIBABA_CLOUD_ACCESS_KEY_ID": "LTAI-test-bench-key",
       "ALIBABA_CLOUD_ACCESS_KEY_SECRET": "bench-secret",
       "ALIBABA_CLOUD_SECURITY_TOKEN": TOKEN, "BUCKET_REGION": "cn-hangzhou"}
SCHEMES = {
    "oss-v4": OSS,
    "oss-v1": {**OSS, "SIGNATURE_VERSION": "v1"},
    "s3": {"PROVIDER": "aws", "AWS_ACCESS_KEY_ID": "AKIA-test-bench-key",
           "AWS_SECRET_ACCESS_KEY": "bench-secret", "AWS_SESSION_TOKEN": TOKEN,
           "BUCKET_REGION": "us-east-1"},
}


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def post(body: dict) -> bytes:
    data = json.dumps(body).encode()
    return (b"POST / HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
            b"Content-Length: " + str(len(data)).encode() + b"\r\n\r\n" + data)


class Connection:
    """One kept-alive HTTP/1.1 connection that reads answers by Content-Length."""

    def __init__(self, port: int):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=10)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.buffer = b""

    def ask(self, request: bytes):
        self.sock.sendall(request)
        while b"\r\n\r\n" not in self.buffer:
            self.buffer += self.recv()
        head, self.buffer = self.buffer.split(b"\r\n\r\n", 1)
        lines = head.decode("latin-1").split("\r\n")
        status = int(lines[0].split(" ")[1])
        length = next(int(line.split(":", 1)[1]) for line in lines[1:]
                      if line.lower().startswith("content-length:"))
        while len(self.buffer) < length:
            self.buffer += self.recv()
        body, self.buffer = self.buffer[:length], self.buffer[length:]
        return status, body

    def recv(self) -> bytes:
        chunk = self.sock.recv(1 << 20)
        if not chunk:
            raise SystemExit("presign-url closed the connection")
        return chunk

    def close(self):
        self.sock.close()


def wait_ready(port: int, server: subprocess.Popen):
    for _ in range(150):
        if server.poll() is not None:
            raise SystemExit("presign-url exited before it listened")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            time.sleep(0.1)
    raise SystemExit("presign-url did not listen within 15 s")


def singles(port: int, requests):
    conn = Connection(port)
    started = time.perf_counter()
    answers = [conn.ask(request) for request in requests]
    elapsed = time.perf_counter() - started
    conn.close()
    if any(status != 200 for status, _ in answers):
        raise SystemExit("a single request was refused")
    return elapsed, answers


def batch(port: int, request: bytes):
    conn = Connection(port)
    started = time.perf_counter()
    status, body = conn.ask(request)
    elapsed = time.perf_counter() - started
    conn.close()
    if status != 200:
        raise SystemExit(f"the batch was refused: {body[:300]!r}")
    return elapsed, body


def same_urls(single_answers, batch_body: bytes):
    parts = json.loads(batch_body)["Parts"]
    if [p["PartNumber"] for p in parts] != list(range(1, PARTS + 1)):
        raise SystemExit("the batch does not list parts 1..1000 in order")
    for (_, body), part in zip(single_answers, parts):
        if json.loads(body)["URL"] != part["URL"]:
            raise SystemExit(f"part {part['PartNumber']}: the batch URL differs from the single one")


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--binary", default="target/release/presign-url")
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--scheme", choices=sorted(SCHEMES), default="oss-v4")
    args = parser.parse_args()
    port = free_port()
    env = {"PATH": os.environ.get("PATH", ""), "PORT": str(port), "AUTH_MODE": "none",
           "BUCKET": "examplebucket", "RUST_LOG": "warn", **SCHEMES[args.scheme]}
    server = subprocess.Popen([args.binary], env=env, stdout=subprocess.DEVNULL)
    try:
        wait_ready(port, server)
        single_requests = [post({"key": KEY, "method": "PUT", "uploadId": UPLOAD_ID,
                                 "partNumber": n}) for n in range(1, PARTS + 1)]
        batch_request = post({"key": KEY, "method": "PUT", "uploadId": UPLOAD_ID,
                              "partNumbers": {"first": 1, "count": PARTS}})
        single_times, batch_times = [], []
        for round_ in range(args.rounds):
            elapsed, answers = singles(port, single_requests)
            single_times.append(elapsed)
            elapsed, body = batch(port, batch_request)
            batch_times.append(elapsed)
            if round_ == 0:
                same_urls(answers, body)
                single_bytes = sum(len(b) for _, b in answers)
                batch_bytes = len(body)
    finally:
        server.terminate()
        server.wait(timeout=10)
    s, b = statistics.median(single_times), statistics.median(batch_times)
    print(f"scheme {args.scheme}")
    print(f"1,000 single requests, one kept-alive connection: median {s * 1000:.1f} ms"
          f" (rounds: {', '.join(f'{t * 1000:.1f}' for t in single_times)})")
    print(f"one batch request of 1,000 parts: median {b * 1000:.2f} ms"
          f" (rounds: {', '.join(f'{t * 1000:.2f}' for t in batch_times)})")
    print(f"batch / singles: {b / s * 100:.1f} % (budget <= 10 %)")
    print(f"answer bytes: singles {single_bytes:,} in all, batch {batch_bytes:,}")
    print("every batch URL equals the single URL for its part (round 1)")


if __name__ == "__main__":
    main()
