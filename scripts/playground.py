"""The local playground: the whole direct-upload flow on this machine, no cloud account.

Starts moto (as the STS, signature checking on), s3s-fs (an S3 server that checks every
presigned URL and form policy), issue-token and presign-url in HTTP mode with PROVIDER=aws,
record-upload under a local Lambda Runtime API, and a small server on one origin that serves
the upload page (examples/web/presign.html) and passes /token, /presign and the bucket's paths
to the others, so the browser needs no CORS. Prints where to look; Ctrl-C (or SIGTERM) stops
everything.

presign-url signs with the store's own key (s3s-fs accepts a single key pair); issue-token
assumes a role on moto. s3s-fs sends no event notifications, so this server plays S3's part:
after each upload the store accepted, it hands record-upload an `ObjectCreated` S3 event through
the Runtime API, as Lambda would; record-upload delivers the record to this server's /hooks
(verified with the official `standardwebhooks` package), and the page shows /records.

usage: .venv/bin/python scripts/playground.py [--port 8080] [--data DIR]
"""

import argparse
import base64
import datetime
import http.client
import queue
import re
import urllib.parse
import http.server
import json
import os
import pathlib
import signal
import socket
import subprocess
import sys
import threading
import time

ROOT = pathlib.Path(__file__).resolve().parents[1]
BUCKET = "playground"
STORE_KEY = ("playground-test-access-key", "playground-local-secret")
WEBHOOK_SECRET = "whsec_" + base64.b64encode(b"stsvend playground webhook key!!").decode()


class Records:
    """S3's part (events for record-upload, through a stand-in Lambda Runtime API) and the
    app's part (the webhook receiver, and the records it verified)."""

    def __init__(self, data: pathlib.Path):
        self.data, self.events, self.records, self.lock = data, queue.Queue(), [], threading.Lock()

    def uploaded(self, key: str, etag: str) -> None:
        """Queues the S3 event for an object the store accepted (key form-URL-encoded, as S3 writes it)."""
        path = self.data / BUCKET / key
        size = path.stat().st_size if path.is_file() else 0
        now = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.000Z")
        record = {"eventVersion": "2.1", "eventSource": "aws:s3", "awsRegion": "us-east-1", "eventTime": now,
                  "eventName": "ObjectCreated:Put",
                  "s3": {"s3SchemaVersion": "1.0", "bucket": {"name": BUCKET, "arn": f"arn:aws:s3:::{BUCKET}"},
                         "object": {"key": urllib.parse.quote_plus(key, safe="/"), "size": size,
                                    "eTag": etag.strip('"')}}}
        self.events.put(json.dumps({"Records": [record]}))

    def runtime(self, handler, path: str) -> None:
        """The Lambda Runtime API: the next event (long poll), and the function's answers."""
        if handler.command == "GET" and path.endswith("/invocation/next"):
            event = self.events.get().encode()
            handler.send_response(200)
            handler.send_header("Content-Type", "application/json")
            handler.send_header("Lambda-Runtime-Aws-Request-Id", f"playground-{time.time_ns()}")
            handler.send_header("Lambda-Runtime-Deadline-Ms", str(int(time.time() * 1000) + 10_000))
            handler.send_header("Lambda-Runtime-Invoked-Function-Arn",
                                "arn:aws:lambda:us-east-1:000000000000:function:record-upload")
        else:  # the function's answer (or error) for an event: acknowledged
            handler.rfile.read(int(handler.headers.get("Content-Length", 0) or 0))
            event = b""
            handler.send_response(202)
        handler.send_header("Content-Length", str(len(event)))
        handler.end_headers()
        handler.wfile.write(event)

    def hook(self, handler) -> None:
        """A webhook delivery: verified with standardwebhooks, kept for the page."""
        from standardwebhooks.webhooks import Webhook
        body = handler.rfile.read(int(handler.headers.get("Content-Length", 0) or 0))
        try:
            message = Webhook(WEBHOOK_SECRET).verify(body, dict(handler.headers))
            with self.lock:
                self.records.append({"webhookId": handler.headers.get("webhook-id"), **message["data"]})
            status = 200
        except Exception:  # noqa: BLE001 (a delivery that does not verify is refused)
            status = 400
        handler.send_response(status)
        handler.send_header("Content-Length", "0")
        handler.end_headers()

    def listing(self) -> bytes:
        with self.lock:
            return json.dumps(list(reversed(self.records))).encode()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for(port: int, seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.05)
    raise TimeoutError(f"nothing listens on 127.0.0.1:{port}")


def route(path: str, ports: dict):
    """The port a request path goes to, and the path to send there."""
    if path == "/token" or path.startswith("/token?"):
        return ports["issue-token"], path
    if path == "/presign" or path.startswith("/presign?"):
        return ports["presign-url"], path
    if path.startswith(f"/{BUCKET}/") or path.startswith(f"/{BUCKET}?"):
        return ports["store"], path
    return None, path


def make_handler(ports: dict, records: Records):
    page = (ROOT / "examples" / "web" / "presign.html").read_bytes()
    config = b"window.STSVEND = {};\n"

    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args):
            pass

        def forward(self):
            if self.path.startswith("/2018-06-01/runtime/"):
                return records.runtime(self, self.path)
            if self.command == "POST" and self.path == "/hooks":
                return records.hook(self)
            if self.command == "GET" and self.path == "/records":
                return self.send_body(records.listing(), "application/json")
            port, path = route(self.path, ports)
            if port is None:
                files = {"/": (page, "text/html"), "/presign.html": (page, "text/html"), "/config.js": (config, "text/javascript")}
                if self.command == "GET" and self.path in files:
                    body, kind = files[self.path]
                    self.send_response(200)
                    self.send_header("Content-Type", f"{kind}; charset=utf-8")
                    self.send_header("Content-Length", str(len(body)))
                    self.end_headers()
                    self.wfile.write(body)
                else:
                    self.send_error(404)
                return
            body = self.rfile.read(int(self.headers.get("Content-Length", 0) or 0))
            upstream = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
            # The Host stays the page's origin: presigned URLs are signed for it.
            upstream.putrequest(self.command, path, skip_host=True, skip_accept_encoding=True)
            for name, value in self.headers.items():
                if name.lower() not in ("connection", "content-length", "transfer-encoding"):
                    upstream.putheader(name, value)
            upstream.putheader("Content-Length", str(len(body)))
            upstream.endheaders(body)
            answer = upstream.getresponse()
            data = answer.read()
            self.send_response(answer.status, answer.reason)
            for name, value in answer.getheaders():
                if name.lower() not in ("connection", "content-length", "transfer-encoding"):
                    self.send_header(name, value)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)
            if port == ports["store"] and self.command in ("PUT", "POST") and 200 <= answer.status < 300:
                records.uploaded(*uploaded_object(self.command, path, data, answer))

        def send_body(self, body: bytes, kind: str):
            self.send_response(200)
            self.send_header("Content-Type", kind)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        do_GET = do_PUT = do_POST = do_DELETE = do_HEAD = forward

    return Handler


def uploaded_object(method: str, path: str, answer_body: bytes, answer) -> tuple:
    """The key and ETag of an object the store accepted: from the URL for a PUT, from the
    store's XML answer (success_action_status 201) for a form POST."""
    etag = answer.getheader("ETag") or ""
    if method == "PUT":
        key = urllib.parse.unquote(urllib.parse.urlsplit(path).path[len(f"/{BUCKET}/"):])
    else:
        found = re.search(rb"<Key>(.*?)</Key>", answer_body)
        key = found.group(1).decode() if found else ""
        tag = re.search(rb"<ETag>(.*?)</ETag>", answer_body)
        etag = etag or (tag.group(1).decode() if tag else "")
    return key, etag


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, default=8080)
    parser.add_argument("--data", default=str(ROOT / "target" / "playground"))
    args = parser.parse_args()
    data = pathlib.Path(args.data)
    (data / BUCKET).mkdir(parents=True, exist_ok=True)
    origin = f"http://127.0.0.1:{args.port}"
    children = []

    def stop(*_):
        for child in reversed(children):
            if child.poll() is None:
                child.terminate()
        for child in children:
            try:
                child.wait(timeout=10)
            except subprocess.TimeoutExpired:
                child.kill()
        print("playground stopped", flush=True)
        os._exit(0)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)

    moto = subprocess.Popen([sys.executable, str(ROOT / "scripts" / "oracles" / "moto_sts.py")],
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    children.append(moto)
    sts = json.loads(moto.stdout.readline())

    ports = {"store": free_port(), "issue-token": free_port(), "presign-url": free_port()}
    children.append(subprocess.Popen(
        [os.environ.get("STSVEND_S3S_FS", "s3s-fs"), "--host", "127.0.0.1", "--port", str(ports["store"]),
         "--access-key", STORE_KEY[0], "--secret-key", STORE_KEY[1], str(data)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
    common = {"PATH": os.environ.get("PATH", ""), "PROVIDER": "aws", "AUTH_MODE": "none", "BIND": "127.0.0.1",
              "BUCKET": BUCKET, "BUCKET_REGION": "us-east-1", "AWS_REGION": "us-east-1", "RUST_LOG": "warn"}
    binaries = pathlib.Path(os.environ.get("CARGO_TARGET_DIR", ROOT / "target")) / "debug"
    children.append(subprocess.Popen([str(binaries / "issue-token")], env={
        **common, "PORT": str(ports["issue-token"]), "STS_ENDPOINT": sts["endpoint"], "ROLE_ARN": sts["role_arn"],
        "AWS_ACCESS_KEY_ID": sts["access_key_id"], "AWS_SECRET_ACCESS_KEY": sts["secret_access_key"]}))
    children.append(subprocess.Popen([str(binaries / "presign-url")], env={
        **common, "PORT": str(ports["presign-url"]), "BUCKET_ENDPOINT": origin,
        "PRESIGN_METHODS": "GET,HEAD,PUT,POST,DELETE",
        "AWS_ACCESS_KEY_ID": STORE_KEY[0], "AWS_SECRET_ACCESS_KEY": STORE_KEY[1]}))
    records = Records(data)
    for port in ports.values():
        wait_for(port)

    server = http.server.ThreadingHTTPServer(("127.0.0.1", args.port), make_handler(ports, records))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    # record-upload polls this server's Runtime API, so it starts once the server listens.
    children.append(subprocess.Popen([str(binaries / "record-upload")], env={
        **common, "AWS_LAMBDA_RUNTIME_API": f"127.0.0.1:{args.port}", "AWS_LAMBDA_FUNCTION_NAME": "record-upload",
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "128", "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
        "AWS_ACCESS_KEY_ID": STORE_KEY[0], "AWS_SECRET_ACCESS_KEY": STORE_KEY[1],
        "UPLOAD_WEBHOOK_URL": f"{origin}/hooks", "UPLOAD_WEBHOOK_SECRET": WEBHOOK_SECRET}))

    print(f"stsvend playground: open {origin}/", flush=True)
    print(f"  uploads land in {data / BUCKET} (s3s-fs); Ctrl-C stops everything", flush=True)
    signal.pause()
    return 0


if __name__ == "__main__":
    sys.exit(main())
