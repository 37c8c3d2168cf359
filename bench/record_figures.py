"""record-upload's figures next to presign-url's: process start to first answer, the time of
one verified callback over loopback, and peak RSS.

Runs the release binaries in HTTP mode on 127.0.0.1. record-upload is pinned
(OSS_CALLBACK_PUBLIC_KEY_FILE) to a key made here, and every request is one OSS callback,
signed with that key and tagged as presign-url tags it, so each answer is a 200 that went
through the whole path (key-URL check, tag, key rules, attribution, RSA-MD5 verification, the
store's signed HEAD, answer; no webhook). The store is a small keep-alive HTTP/1.1 server here
(BUCKET_ENDPOINT) answering every HEAD with the object the callback describes; the time of one
HEAD to it from Python is printed too, so the rest is record-upload's own. presign-url signs a
V4 GET with the function's own key. "record-upload (profiles)" is the same callback with a
PROFILES_FILE whose profile holds the key and sets every rule record-upload checks (size, type,
metadata, and detect_type: one more signed ranged GET, answered here with a JPEG's first bytes).
Reports medians.

usage: python3 bench/record_figures.py [--starts 30] [--requests 3000] [--target target/release] [--only NAMES]
  (--target: the folder holding the binaries, e.g. another checkout's, to compare two builds)
  (needs `cargo build --release` and the Python `cryptography` package, which .venv has)
"""

import argparse
import http.server
import threading
import base64
import hashlib
import hmac
import http.client
import json
import os
import socket
import statistics
import subprocess
import tempfile
import time

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

SECRET = "bench-callback-secret-0123456789abcdef"
CALLBACK_PATH = "/oss-callback"
COMMON = {
    "RUST_LOG": "warn", "AUTH_MODE": "none", "BUCKET": "examplebucket", "BUCKET_REGION": "cn-hangzhou",
    "ALIBABA_CLOUD_ACCESS_KEY_ID": "LTAI-test-bench-key", "ALIBABA_CLOUD_ACCESS_KEY_SECRET": "bench-secret",
}

# Three profiles; the callback's key lies under "photo", which sets every rule record-upload
# checks on the store's facts, and detect_type.
PROFILES = """
[profiles.photo]
prefix = "uploads/${sub}/"
content_types = ["image/jpeg", "image/png"]
min_bytes = 1
max_bytes = 2097152
metadata = { uploader = "${sub}" }
detect_type = true
on_violation = "delete"

[profiles.attachment]
prefix = "attachments/${sub}/"
max_bytes = 104857600

[profiles.video]
prefix = "videos/${sub}/"
content_types = ["video/*"]
on_violation = "report"
"""


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Store(http.server.BaseHTTPRequestHandler):
    """The bucket, as far as record-upload asks: HEAD of the object the callback describes."""
    protocol_version = "HTTP/1.1"
    # The GET's headers and body go in two writes: without this, Nagle holds the body for the
    # client's delayed ACK (40 ms).
    disable_nagle_algorithm = True
    heads = 0
    gets = 0

    def log_message(self, *args):
        pass

    def do_HEAD(self):
        Store.heads += 1
        self.send_response(200)
        self.send_header("Content-Length", "1024")
        self.send_header("ETag", '"9B2CF535F27731C974343645A3985328"')
        self.send_header("Content-Type", "image/jpeg")
        self.send_header("x-oss-meta-uploader", "anonymous")
        self.end_headers()

    def do_GET(self):
        """The ranged GET of detect_type: a JPEG's first bytes."""
        Store.gets += 1
        body = b"\xff\xd8\xff\xe0\0\x10JFIF\0\x01\x01\0\0\x01\0\x01\0\0" + b"\0" * 1004
        self.send_response(206)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Content-Range", "bytes 0-1023/1024")
        self.send_header("ETag", '"9B2CF535F27731C974343645A3985328"')
        self.send_header("Content-Type", "image/jpeg")
        self.end_headers()
        self.wfile.write(body)


def start_store():
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Store)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def head_round_trip_ms(port, count):
    conn = http.client.HTTPConnection("127.0.0.1", port)
    conn.connect()
    conn.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    times = []
    for _ in range(count):
        started = time.perf_counter()
        conn.request("HEAD", "/examplebucket/uploads/anonymous/photo%201.jpg")
        conn.getresponse().read()
        times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times)


def peak_rss_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    raise RuntimeError("no VmHWM")


def callback_request(key):
    """One tagged callback body and its OSS-style headers."""
    expires = int(time.time()) + 3600
    value = "uploads/anonymous/photo 1.jpg"
    tag = hmac.new(SECRET.encode(), f"stsvend-callback-v1\nexamplebucket\nkey\n{value}\n{expires}".encode(),
                   hashlib.sha256).hexdigest()
    body = json.dumps({
        "bucket": "examplebucket", "object": value, "etag": "9B2CF535F27731C974343645A3985328",
        "size": 1024, "mimeType": "image/jpeg", "height": 300, "width": 400, "format": "jpg", "crc64": "1",
        "stsvend": {"scope": "key", "value": base64.urlsafe_b64encode(value.encode()).decode().rstrip("="),
                    "expires": expires, "tag": tag},
    }).encode()
    signature = key.sign(CALLBACK_PATH.encode() + b"\n" + body, padding.PKCS1v15(), hashes.MD5())
    headers = {
        "authorization": base64.b64encode(signature).decode(),
        "x-oss-pub-key-url": base64.b64encode(b"https://gosspublic.alicdn.com/callback_pub_key_v1.pem").decode(),
        "Content-Type": "application/json",
    }
    return body, headers


def first_answer_ms(binary, env, request):
    port = free_port()
    started = time.perf_counter()
    process = subprocess.Popen([binary], env={**env, "PORT": str(port), "PATH": os.environ.get("PATH", "")},
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        while True:
            try:
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
                conn.request(*request)
                response = conn.getresponse()
                response.read()
                assert response.status == 200, (response.status, binary)
                return (time.perf_counter() - started) * 1000
            except ConnectionRefusedError:
                time.sleep(0.0002)
    finally:
        process.terminate()
        process.wait()


def steady(binary, env, request, count):
    port = free_port()
    process = subprocess.Popen([binary], env={**env, "PORT": str(port), "PATH": os.environ.get("PATH", "")},
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    time.sleep(0.3)
    conn = http.client.HTTPConnection("127.0.0.1", port)
    conn.connect()
    conn.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    times = []
    for i in range(count + 200):
        started = time.perf_counter()
        conn.request(*request)
        response = conn.getresponse()
        response.read()
        assert response.status == 200, response.status
        if i >= 200:
            times.append((time.perf_counter() - started) * 1000)
    rss = peak_rss_kib(process.pid)
    process.terminate()
    process.wait()
    return times, rss


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--starts", type=int, default=30)
    parser.add_argument("--requests", type=int, default=3000)
    parser.add_argument("--target", default="target/release")
    parser.add_argument("--only", help="comma-separated runs, e.g. 'record-upload,record-upload (profiles)'")
    args = parser.parse_args()
    key = rsa.generate_private_key(public_exponent=65537, key_size=1024)
    pem = key.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    with tempfile.NamedTemporaryFile("wb", suffix=".pem", delete=False) as f:
        f.write(pem)
    body, headers = callback_request(key)
    store = start_store()
    store_url = f"http://127.0.0.1:{store.server_port}"
    with tempfile.NamedTemporaryFile("w", suffix=".toml", delete=False) as profiles:
        profiles.write(PROFILES)
    record = {**COMMON, "UPLOAD_CALLBACK_URL": f"https://api.example.com{CALLBACK_PATH}",
              "UPLOAD_CALLBACK_SECRET": SECRET, "OSS_CALLBACK_PUBLIC_KEY_FILE": f.name,
              "BUCKET_ENDPOINT": store_url}
    runs = {
        "record-upload": (record, ("POST", CALLBACK_PATH, body, headers)),
        "record-upload (profiles)": ({**record, "PROFILES_FILE": profiles.name},
                                     ("POST", CALLBACK_PATH, body, headers)),
        "presign-url": (COMMON, ("GET", "/?key=uploads/anonymous/photo%201.jpg")),
    }
    if args.only:
        runs = {name: runs[name] for name in args.only.split(",")}
    for name, (env, request) in runs.items():
        binary = os.path.join(args.target, name.split(" ")[0])
        starts = [first_answer_ms(binary, env, request) for _ in range(args.starts)]
        times, rss = steady(binary, env, request, args.requests)
        print(f"{name}: binary {os.path.getsize(binary):,} bytes; start to first answer, median of {args.starts}: "
              f"{statistics.median(starts):.2f} ms (p90 {statistics.quantiles(starts, n=10)[8]:.2f}); "
              f"one request over loopback, median of {args.requests}: {statistics.median(times):.3f} ms; "
              f"peak RSS {rss / 1024:.1f} MiB")
    os.unlink(profiles.name)
    print(f"the store stand-in: {Store.heads} HEADs and {Store.gets} ranged GETs answered; one HEAD to it from Python over loopback, "
          f"median of {args.requests}: {head_round_trip_ms(store.server_port, args.requests):.3f} ms")
    os.unlink(f.name)


if __name__ == "__main__":
    main()
