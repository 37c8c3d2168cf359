"""The local playground: the whole direct-upload flow on this machine, no cloud account, for
both providers side by side on one origin (http://127.0.0.1:8080/ by default).

Alibaba Cloud, at /aliyun/ (shown first):
  the stand-in STS and the stand-in OSS (tests/standins/standin: local stand-ins, NOT Alibaba Cloud;
  they verify every signature with the official SDKs and enforce the session policy each
  temporary key was issued with), issue-token and presign-url (PROVIDER=aliyun, presign-url
  signing with temporary keys from the stand-in STS, an upload callback pinned into every
  upload), record-upload twice as Function Compute runs it: for the callbacks, and for the
  bucket's events (this server plays the OSS trigger for every object the stand-in creates, so
  ali-oss uploads are recorded too). The seeds' ali-oss page is at /aliyun/seed.html; IMM
  answers that it is not available locally.
Each side's downloads ("my files": thumbnails and "View via CDN") go through a stand-in CDN on
its own port (Alibaba Cloud CDN type A; CloudFront), which checks each URL's signature as the
CDN does and serves the object from the store.
AWS, at /aws/:
  moto (as the STS, signature checking on), s3s-fs (an S3 server that checks every presigned
  URL and form policy), issue-token and presign-url (PROVIDER=aws), and record-upload under a
  local Lambda Runtime API; s3s-fs sends no event notifications, so this server plays S3's part
  and hands record-upload an `ObjectCreated` event after each upload the store accepted.

Each provider's record-upload delivers its records to this server's /<provider>/hooks, verified
with the official `standardwebhooks` package; the page lists /<provider>/records.

Both sides run with the same upload profiles (PROFILES_FILE, written to the data folder):
`attachment` (the default: any file under uploads/<sub>/, the client names it) and `avatar` (a
profile photo: an image of at most 2 MiB under avatars/<sub>/, its key chosen by presign-url, its
content checked by record-upload, deleted if it is not what it says). `attachment` has a quota
(1000 files per user; a byte quota would need `max_bytes`, and for multipart uploads
`on_violation = "delete"`, see docs/src/quotas.md), counted in an embedded SQLite store under the data folder
(`quota-aliyun.db`, `quota-aws.db`); the page shows the user's usage (`{"usage": true}`).
presign-url, issue-token and the callbacks' record-upload count; the functions that play
Lambda and Function Compute here (the AWS record-upload, the OSS event function) run without
the quota, since SQLite is refused where instances share no disk: on the AWS side uploads show
as reserved until their reservation expires, a deployment settles them with Redis or DynamoDB.

The Uppy page (/<provider>/uppy.html) is `@uppy/core`, `@uppy/dashboard` and `@uppy/aws-s3` 6
signing through presign-url with clients/uppy/stsvend-uppy.js; it needs Uppy's bundle, built
from npm into tests/uppy/dist by `(cd tests/uppy && npm ci && npm run build)`.
`--oss-signature-version v1` has Alibaba's presign-url sign OSS V1 URLs; `--no-upload-callback`
leaves the upload callback out (record-upload then hears of uploads from the OSS events only), as
@uppy/aws-s3's multipart uploads need: with a callback, OSS answers a completion with the
callback's JSON, not the XML Uppy reads.

usage: .venv/bin/python scripts/playground.py [--port 8080] [--data DIR] [--provider both|aliyun|aws]
         [--oss-signature-version v4|v1] [--no-upload-callback]
"""

import argparse
import base64
import dataclasses
import datetime
import hashlib
import http.client
import http.server
import json
import os
import pathlib
import queue
import re
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.parse
import urllib.request
import xml.etree.ElementTree

from standardwebhooks.webhooks import Webhook

ROOT = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests" / "standins"))

WEB = ROOT / "examples" / "web"
BUCKET = "playground"
PREFIX = "uploads/anonymous/"
STORE_KEY = ("playground-test-access-key", "playground-local-secret")  # s3s-fs's one key pair
# The RAM user the Alibaba functions run as; only the stand-in STS knows it.
ALIYUN_KEY = ("LTAI-playground-local-user", "playground-local-ram-user-secret")
ALIYUN_ROLE = "acs:ram::1234567890123:role/playground-upload"
ALIYUN_REGION = "cn-hangzhou"
WEBHOOK_SECRET = "whsec_" + base64.b64encode(b"stsvend playground webhook key!!").decode()
MAX_BODY = 1 << 30  # what this server passes on: the page's uploads, held in memory
CALLBACK_SECRET = "playground-callback-tag-secret-0123456789abcdef"
# The stand-in CDN in front of each side's bucket (tests/standins/standin/cdn.py): Alibaba Cloud
# CDN type A with a primary and a backup key on Alibaba's side, CloudFront with an RSA key pair
# (written to the data folder) on AWS's. presign-url signs the page's downloads for it.
CDN_KEYS = ("playgroundCdnKey01", "playgroundCdnKey02")
CDN_TTL = 1800
CLOUDFRONT_KEY_PAIR_ID = "K2PLAYGROUNDLOCAL"
# The upload profiles of both sides (PROFILES_FILE). `attachment` keeps every way up of the
# page as it was; `avatar` is what a profile adds: a server-chosen key, a bounded size, an
# image type the store is asked to prove, and a delete for what breaks the rules.
PROFILES = """\
default_profile = "attachment"

[profiles.attachment]
prefix = "uploads/${sub}/"
quota_files = 1000

[profiles.avatar]
prefix = "avatars/${sub}/"
key = "${uuid}${ext}"
methods = ["PUT", "POST", "GET", "HEAD"]
content_types = ["image/png", "image/jpeg", "image/webp", "image/gif"]
min_bytes = 1
max_bytes = 2097152
content_disposition = "inline"
detect_type = true
on_violation = "delete"
"""
# What the processes that play Lambda and Function Compute read: the same profiles, no quota.
PROFILES_WITHOUT_QUOTA = "".join(line + "\n" for line in PROFILES.splitlines() if not line.startswith("quota_"))
IMM_ANSWER = json.dumps({
    "Code": "NotAvailableLocally",
    "Message": "IMM (DetectImageFaces) runs only on Alibaba Cloud: the playground has no stand-in "
               "for it. The upload above went to the local stand-in OSS; deploy stsvend with "
               "POLICY_FILE=bucket_write_imm_policy.json and IMM_PROJECT to try IMM for real.",
}).encode()


def now_iso() -> str:
    return datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.000Z")


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


class Records:
    """The app's part: the webhook receiver, and the records it verified."""

    def __init__(self):
        self.records, self.lock = [], threading.Lock()

    def hook(self, handler, body: bytes) -> int:
        try:
            message = Webhook(WEBHOOK_SECRET).verify(body, dict(handler.headers))
        except Exception:  # noqa: BLE001 (a delivery that does not verify is refused)
            return 400
        with self.lock:
            self.records.append({"webhookId": handler.headers.get("webhook-id"), **message["data"]})
        return 200

    def listing(self) -> bytes:
        with self.lock:
            return json.dumps(list(reversed(self.records))).encode()


class LambdaRuntime:
    """S3's part for record-upload under a local Lambda Runtime API: an `ObjectCreated` event
    for each object the store accepted, handed out on the function's long poll. The API has a
    port of its own (127.0.0.1), which only record-upload is told; an event whose hand-out fails
    goes back in the queue."""

    def __init__(self, data: pathlib.Path):
        self.data, self.events = data, queue.Queue()
        runtime = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def do_GET(self):
                runtime.serve(self)

            do_POST = do_GET

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.address = f"127.0.0.1:{self.server.server_port}"

    def uploaded(self, key: str, etag: str) -> None:
        path = self.data / BUCKET / key
        size = path.stat().st_size if path.is_file() else 0
        record = {"eventVersion": "2.1", "eventSource": "aws:s3", "awsRegion": "us-east-1", "eventTime": now_iso(),
                  "eventName": "ObjectCreated:Put",
                  "s3": {"s3SchemaVersion": "1.0", "bucket": {"name": BUCKET, "arn": f"arn:aws:s3:::{BUCKET}"},
                         "object": {"key": urllib.parse.quote_plus(key, safe="/"), "size": size,
                                    "eTag": etag.strip('"')}}}
        self.events.put(json.dumps({"Records": [record]}))

    def serve(self, handler) -> None:
        """The next event (long poll), or the function's answer to one (acknowledged)."""
        if handler.command == "GET" and handler.path == "/2018-06-01/runtime/invocation/next":
            event = self.events.get()
            body = event.encode()
            try:
                handler.send_response(200)
                handler.send_header("Content-Type", "application/json")
                handler.send_header("Lambda-Runtime-Aws-Request-Id", f"playground-{time.time_ns()}")
                handler.send_header("Lambda-Runtime-Deadline-Ms", str(int(time.time() * 1000) + 10_000))
                handler.send_header("Lambda-Runtime-Invoked-Function-Arn",
                                    "arn:aws:lambda:us-east-1:000000000000:function:record-upload")
                handler.send_header("Content-Length", str(len(body)))
                handler.end_headers()
                handler.wfile.write(body)
                handler.wfile.flush()
            except OSError:
                self.events.put(event)
            return
        handler.rfile.read(int(handler.headers.get("Content-Length", 0) or 0))
        handler.send_response(202)
        handler.send_header("Content-Length", "0")
        handler.end_headers()


class OssTrigger:
    """Function Compute's OSS trigger: each object the stand-in OSS created, as an OSS event
    invocation of record-upload (RECORD_UPLOAD_MODE=oss-events), off the upload's own path."""

    def __init__(self, port: int):
        self.url = f"http://127.0.0.1:{port}/invoke"

    def created(self, bucket: str, key: str, size: int, etag: str, _content_type: str = "") -> None:
        event = {"events": [{"eventName": "ObjectCreated:PutObject", "eventSource": "acs:oss",
                             "eventTime": now_iso(), "eventVersion": "1.0", "region": ALIYUN_REGION,
                             "oss": {"bucket": {"name": bucket}, "object": {"key": key, "size": size,
                                                                             "eTag": etag.strip('"')}}}]}
        request = urllib.request.Request(self.url, data=json.dumps(event).encode(), method="POST", headers={
            "Content-Type": "application/json", "x-fc-control-path": "/invoke"})
        threading.Thread(target=self.send, args=(request,), daemon=True).start()

    @staticmethod
    def send(request) -> None:
        try:
            urllib.request.urlopen(request, timeout=10).read()
        except OSError as e:
            print(f"playground: the OSS event for record-upload failed: {e}", file=sys.stderr, flush=True)


class Processes:
    def __init__(self):
        self.children = []
        self.profiles_file = None  # PROFILES_FILE, given to every function
        self.profiles_without_quota = None  # for the functions that play Lambda and Function Compute

    def start(self, command, env=None, **kwargs) -> subprocess.Popen:
        child = subprocess.Popen(command, env=env, **kwargs)
        self.children.append(child)
        return child

    def function(self, name: str, env: dict) -> subprocess.Popen:
        binaries = pathlib.Path(os.environ.get("CARGO_TARGET_DIR", ROOT / "target")) / "debug"
        full = {"PATH": os.environ.get("PATH", ""), "AUTH_MODE": "none", "BIND": "127.0.0.1",
                "BUCKET": BUCKET, "RUST_LOG": "warn", "PROFILES_FILE": str(self.profiles_file), **env}
        return self.start([str(binaries / name)], env=full)

    def stop(self) -> None:
        for child in reversed(self.children):
            if child.poll() is None:
                child.terminate()
        for child in self.children:
            try:
                child.wait(timeout=10)
            except subprocess.TimeoutExpired:
                child.kill()


@dataclasses.dataclass
class Site:
    """One provider's side of the playground: where its functions listen, and the page's settings."""
    name: str
    label: str
    functions: dict  # "token" / "presign" -> port
    records: Records
    settings: dict
    store: int = 0  # a store this server passes /<BUCKET>/… to (s3s-fs), or 0
    runtime: LambdaRuntime = None
    store_dir: pathlib.Path = None  # s3s-fs's root


def start_aliyun(origin: str, data: pathlib.Path, processes: Processes, signature_version: str = "v4",
                 upload_callback: bool = True) -> Site:
    from standin import oss as standin_oss  # the stand-ins, loaded only for Alibaba's side
    from standin import sts as standin_sts
    sts = standin_sts.StandInSts({ALIYUN_KEY[0]: ALIYUN_KEY[1]}, region=ALIYUN_REGION)
    sts_port = sts.start()
    ports = {name: free_port() for name in ("token", "presign", "callbacks", "events")}
    trigger = OssTrigger(ports["events"])
    cors = [{"origins": [origin], "methods": ["GET", "HEAD", "PUT", "POST", "DELETE"], "headers": ["*"],
             "expose": ["ETag", "x-oss-request-id"], "max_age": 600}]
    # The RAM user's own key reaches the bucket too: record-upload asks the store (a signed HEAD)
    # with it before it believes a callback, as it would with its RAM user's or role's key.
    oss = standin_oss.StandInOss(str(data / "aliyun"), ALIYUN_REGION, {ALIYUN_KEY[0]: ALIYUN_KEY[1]}, sts=sts,
                                 cors=cors, on_created=trigger.created)
    oss_port = oss.start()
    key_file = data / "aliyun-callback-key.pem"
    key_file.write_text(oss.public_key_pem())
    callback_url = f"http://127.0.0.1:{ports['callbacks']}/oss/callback"
    common = {"PROVIDER": "aliyun", "BUCKET_REGION": ALIYUN_REGION, "ALIBABA_CLOUD_ACCESS_KEY_ID": ALIYUN_KEY[0],
              "ALIBABA_CLOUD_ACCESS_KEY_SECRET": ALIYUN_KEY[1], "STS_ENDPOINT": f"http://127.0.0.1:{sts_port}",
              "ROLE_ARN": ALIYUN_ROLE, "UPLOAD_CALLBACK_URL": callback_url, "UPLOAD_CALLBACK_SECRET": CALLBACK_SECRET,
              "QUOTA_STORE": f"sqlite:{data / 'quota-aliyun.db'}"}
    if not upload_callback:
        del common["UPLOAD_CALLBACK_URL"], common["UPLOAD_CALLBACK_SECRET"]
    records = {"UPLOAD_WEBHOOK_URL": f"{origin}/aliyun/hooks", "UPLOAD_WEBHOOK_SECRET": WEBHOOK_SECRET}
    processes.function("issue-token", {**common, "PORT": str(ports["token"]),
                                       "POLICY_FILE": "bucket_write_imm_policy.json", "IMM_PROJECT": "playground"})
    cdn_port = start_aliyun_cdn(oss_port)
    processes.function("presign-url", {**common, "PORT": str(ports["presign"]),
                                       "BUCKET_ENDPOINT": f"http://127.0.0.1:{oss_port}",
                                       "SIGNATURE_VERSION": signature_version,
                                       "PRESIGN_METHODS": "GET,HEAD,PUT,POST,DELETE,LIST",
                                       "CDN_DOMAIN": f"http://127.0.0.1:{cdn_port}", "CDN_AUTH_TYPE": "A",
                                       "CDN_AUTH_KEY": CDN_KEYS[0], "CDN_AUTH_KEY_BACKUP": CDN_KEYS[1],
                                       "CDN_AUTH_TTL_SECONDS": str(CDN_TTL),
                                       # Said, not defaulted: what a quota'd PUT without a length reserves.
                                       "UPLOAD_MAX_BYTES": "104857600"})
    records["BUCKET_ENDPOINT"] = f"http://127.0.0.1:{oss_port}"
    processes.function("record-upload", {**common, **records, "PORT": str(ports["callbacks"]),
                                         "OSS_CALLBACK_PUBLIC_KEY_FILE": str(key_file)})
    # The second deployment, as s.yaml has it: an OSS trigger's event function (Function Compute
    # sets FC_FUNCTION_NAME and FC_REGION; here the playground is Function Compute).
    processes.function("record-upload", {**common, **records, "PORT": str(ports["events"]),
                                         "RECORD_UPLOAD_MODE": "oss-events", "FC_REGION": ALIYUN_REGION,
                                         "FC_FUNCTION_NAME": "stsvend-record-upload-events",
                                         "PROFILES_FILE": str(processes.profiles_without_quota), "QUOTA_STORE": ""})
    for port in ports.values():
        wait_for(port)
    settings = {
        "provider": "aliyun", "cdn": True, "bucket": BUCKET, "region": f"oss-{ALIYUN_REGION}", "prefix": PREFIX,
        "ossOptions": {"endpoint": f"http://127.0.0.1:{oss_port}", "secure": False, "sldEnable": True},
        "immEndpoint": "/aliyun/imm", "immProject": "playground",
        "notice": "Local stand-ins: the OSS and the STS behind this page are stsvend's test stand-ins "
                  "(tests/standins/standin), not Alibaba Cloud. They check every signature with the official "
                  "SDKs and every temporary key's session policy, as OSS and STS would. IMM is not "
                  "available locally.",
    }
    return Site("aliyun", "Alibaba Cloud (OSS)", {"token": ports["token"], "presign": ports["presign"]},
                Records(), settings)


def start_aws(origin: str, data: pathlib.Path, processes: Processes) -> Site:
    moto = processes.start([sys.executable, str(ROOT / "scripts" / "oracles" / "moto_sts.py")],
                           stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    sts = json.loads(moto.stdout.readline())
    ports = {"store": free_port(), "token": free_port(), "presign": free_port()}
    store = data / "aws"
    (store / BUCKET).mkdir(parents=True, exist_ok=True)
    processes.start([os.environ.get("STSVEND_S3S_FS", "s3s-fs"), "--host", "127.0.0.1", "--port", str(ports["store"]),
                     "--access-key", STORE_KEY[0], "--secret-key", STORE_KEY[1], str(store)],
                    stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    common = {"PROVIDER": "aws", "BUCKET_REGION": "us-east-1", "AWS_REGION": "us-east-1",
              "QUOTA_STORE": f"sqlite:{data / 'quota-aws.db'}"}
    processes.function("issue-token", {**common, "PORT": str(ports["token"]), "STS_ENDPOINT": sts["endpoint"],
                                       "ROLE_ARN": sts["role_arn"], "AWS_ACCESS_KEY_ID": sts["access_key_id"],
                                       "AWS_SECRET_ACCESS_KEY": sts["secret_access_key"]})
    cdn_port, key_file = start_cloudfront(data, ports["store"])
    processes.function("presign-url", {**common, "PORT": str(ports["presign"]), "BUCKET_ENDPOINT": origin,
                                       "PRESIGN_METHODS": "GET,HEAD,PUT,POST,DELETE,LIST", "UPLOAD_MAX_BYTES": "104857600",
                                       "AWS_ACCESS_KEY_ID": STORE_KEY[0], "AWS_SECRET_ACCESS_KEY": STORE_KEY[1],
                                       "CDN_DOMAIN": f"http://127.0.0.1:{cdn_port}", "CDN_AUTH_TYPE": "cloudfront",
                                       "CLOUDFRONT_KEY_PAIR_ID": CLOUDFRONT_KEY_PAIR_ID,
                                       "CLOUDFRONT_PRIVATE_KEY_FILE": str(key_file)})
    for port in ports.values():
        wait_for(port)
    settings = {"provider": "aws", "cdn": True, "cdnCookies": True, "bucket": BUCKET, "prefix": PREFIX,
                "notice": "Local stand-ins: moto plays STS and s3s-fs the bucket (an S3 server that "
                          "checks every signature and form policy)."}
    return Site("aws", "AWS (S3)", {"token": ports["token"], "presign": ports["presign"]}, Records(), settings,
                store=ports["store"], runtime=LambdaRuntime(store), store_dir=store)


def start_aliyun_cdn(oss_port: int) -> int:
    """The stand-in CDN in front of the stand-in OSS: type A, either key; the origin fetch is a
    GET signed with the RAM user's key (oss2), as a CDN reaches a private bucket."""
    import oss2
    from standin.cdn import AliyunUrlAuth, StandInCdn
    bucket = oss2.Bucket(oss2.Auth(*ALIYUN_KEY), f"http://127.0.0.1:{oss_port}", BUCKET)

    def fetch(key):
        try:
            found = bucket.get_object(key)
        except oss2.exceptions.NotFound:
            return 404, "text/plain", b"404 Not Found"
        return 200, found.headers.get("Content-Type", "application/octet-stream"), found.read()

    return StandInCdn(AliyunUrlAuth("A", CDN_KEYS, CDN_TTL), fetch).start()


def start_cloudfront(data: pathlib.Path, store_port: int):
    """The stand-in CloudFront in front of s3s-fs, with a fresh RSA 2048 key pair (its private
    key in the data folder for presign-url); the origin fetch is a GET with the store's key."""
    import botocore.session
    from botocore.config import Config
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa
    from standin.cdn import CloudFrontAuth, StandInCdn
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    key_file = data / "cloudfront-private-key.pem"
    key_file.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    key_file.chmod(0o600)
    s3 = botocore.session.get_session().create_client(
        "s3", region_name="us-east-1", endpoint_url=f"http://127.0.0.1:{store_port}",
        aws_access_key_id=STORE_KEY[0], aws_secret_access_key=STORE_KEY[1],
        config=Config(s3={"addressing_style": "path"}))

    def fetch(object_key):
        try:
            found = s3.get_object(Bucket=BUCKET, Key=object_key)
        except s3.exceptions.NoSuchKey:
            return 404, "text/plain", b"404 Not Found"
        return 200, found.get("ContentType", "application/octet-stream"), found["Body"].read()

    port = free_port()
    cdn = StandInCdn(CloudFrontAuth(f"http://127.0.0.1:{port}", CLOUDFRONT_KEY_PAIR_ID, key.public_key()), fetch)
    cdn.start(port)
    return port, key_file


def start_aws_records(origin: str, site: Site, processes: Processes) -> None:
    """record-upload under the local Runtime API, asking s3s-fs for each object's type and
    delivering to this server's /aws/hooks."""
    processes.function("record-upload", {
        "PROVIDER": "aws", "BUCKET_REGION": "us-east-1", "AWS_REGION": "us-east-1",
        "BUCKET_ENDPOINT": f"http://127.0.0.1:{site.store}",
        "AWS_LAMBDA_RUNTIME_API": site.runtime.address, "AWS_LAMBDA_FUNCTION_NAME": "record-upload",
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "128", "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
        "AWS_ACCESS_KEY_ID": STORE_KEY[0], "AWS_SECRET_ACCESS_KEY": STORE_KEY[1],
        "UPLOAD_WEBHOOK_URL": f"{origin}/aws/hooks", "UPLOAD_WEBHOOK_SECRET": WEBHOOK_SECRET,
        "PROFILES_FILE": str(processes.profiles_without_quota)})


def page_settings(site: Site, sites: dict) -> bytes:
    links = [{"href": f"/{other.name}/", "label": other.label, "current": other is site} for other in sites.values()]
    if site.name == "aliyun":
        links.append({"href": "/aliyun/seed.html", "label": "The seeds' ali-oss page"})
    links.append({"href": f"/{site.name}/uppy.html", "label": "Uppy"})
    settings = {**site.settings, "tokenUrl": f"/{site.name}/token", "presignUrl": f"/{site.name}/presign",
                "recordsUrl": f"/{site.name}/records", "links": links}
    return f"window.STSVEND = {json.dumps(settings, indent=1)};\n".encode()


STATIC = {"": ("app.html", "text/html"), "app.js": ("app.js", "text/javascript"), "app.css": ("app.css", "text/css"),
          "seed.html": ("index.html", "text/html"), "uppy.html": ("uppy.html", "text/html"),
          "uppy.js": ("uppy.js", "text/javascript")}
# The Uppy page's module and Uppy's bundle (built from npm by tests/uppy: no CDN).
UPPY = {"stsvend-uppy.js": (ROOT / "clients" / "uppy" / "stsvend-uppy.js", "text/javascript"),
        "vendor/uppy.mjs": (ROOT / "tests" / "uppy" / "dist" / "uppy.mjs", "text/javascript"),
        "vendor/uppy.css": (ROOT / "tests" / "uppy" / "dist" / "uppy.css", "text/css"),
        "vendor/uppy5.mjs": (ROOT / "tests" / "uppy" / "dist" / "uppy5.mjs", "text/javascript"),
        "vendor/uppy5.css": (ROOT / "tests" / "uppy" / "dist" / "uppy5.css", "text/css")}


def make_handler(sites: dict, port: int):
    first = next(iter(sites))
    hosts = {f"127.0.0.1:{port}", f"localhost:{port}"}

    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args):
            pass

        def route(self):
            body = self.body()
            if body is None:
                return
            if self.headers.get("Host") not in hosts:  # a DNS-rebinding page names another host
                return self.answer(421, b"this server answers only to its own origin", "text/plain")
            path = urllib.parse.urlsplit(self.path).path
            if path == "/":
                return self.answer(302, b"", "text/plain", {"Location": f"/{first}/"})
            if (path.startswith(f"/{BUCKET}/") or path == f"/{BUCKET}") and "aws" in sites:
                return self.forward(sites["aws"].store, self.path, sites["aws"], body)
            name, _, rest = path.lstrip("/").partition("/")
            site = sites.get(name)
            if site is None:
                return self.answer(404, b"not found", "text/plain")
            if rest in ("token", "presign"):
                query = urllib.parse.urlsplit(self.path).query
                return self.forward(site.functions[rest], "/" + (f"?{query}" if query else ""), site, body)
            if rest.startswith("presign/"):  # Uppy Companion's routes (…/presign/s3/params), as sent
                return self.forward(site.functions["presign"], self.path[len(f"/{name}/presign"):], site, body)
            if rest == "hooks" and self.command == "POST":
                return self.answer(site.records.hook(self, body), b"", "text/plain")
            if rest == "records":
                return self.answer(200, site.records.listing(), "application/json")
            if rest.startswith("imm") and name == "aliyun":
                return self.answer(501, IMM_ANSWER, "application/json")
            return self.static(site, rest)

        def body(self):
            """The request's body, read before any answer so that a keep-alive connection stays
            in step; None (and the connection closed) when its length is not given plainly."""
            length = self.headers.get("Content-Length", "0")
            if "Transfer-Encoding" in self.headers or not length.isdigit() or int(length) > MAX_BODY:
                self.close_connection = True
                self.answer(411 if length.isdigit() or "Transfer-Encoding" in self.headers else 400,
                            b"send a Content-Length (at most 1 GiB)", "text/plain")
                return None
            return self.rfile.read(int(length))

        def static(self, site: Site, rest: str):
            if self.command != "GET":
                return self.answer(405, b"", "text/plain")
            if rest == "config.js":
                return self.answer(200, page_settings(site, sites), "text/javascript")
            if rest == "vendor/aliyun-oss-sdk.min.js":
                sdk = WEB / "node_modules" / "ali-oss" / "dist" / "aliyun-oss-sdk.min.js"
                if sdk.is_file():
                    return self.answer(200, sdk.read_bytes(), "text/javascript")
            if rest in UPPY and UPPY[rest][0].is_file():
                return self.answer(200, UPPY[rest][0].read_bytes(), UPPY[rest][1])
            if rest in STATIC:
                file, kind = STATIC[rest]
                return self.answer(200, (WEB / file).read_bytes(), kind)
            return self.answer(404, b"not found", "text/plain")

        def answer(self, status: int, body: bytes, kind: str, headers=None):
            self.send_response(status)
            self.send_header("Content-Type", f"{kind}; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            self.send_header("Cache-Control", "no-store")
            for name, value in (headers or {}).items():
                self.send_header(name, value)
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(body)

        def forward(self, port: int, path: str, site: Site, body: bytes):
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
            if port == site.store and self.command == "POST" and answer.status == 200:
                data = with_location(path, data, self.headers.get("Host", ""))
            if port == site.store and self.command == "GET" and answer.status == 200:
                data = with_part_etags(data, site.store_dir)
            self.send_response(answer.status, answer.reason)
            for name, value in answer.getheaders():
                if name.lower() not in ("connection", "content-length", "transfer-encoding"):
                    self.send_header(name, value)
            if port == site.store and self.command == "POST" and answer.status == 201:
                for name, value in form_answer_headers(data, answer, self.headers.get("Host", "")):
                    self.send_header(name, value)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(data)
            if site.runtime and port == site.store and 200 <= answer.status < 300:
                created = created_object(self.command, path, data, answer)
                if created:
                    site.runtime.uploaded(*created)

        do_GET = do_PUT = do_POST = do_DELETE = do_HEAD = route

    return Handler


def with_location(path: str, body: bytes, host: str) -> bytes:
    """s3s-fs's answer to CompleteMultipartUpload, with the `Location` S3 always gives (the
    CompleteMultipartUploadResult of the S3 API reference) and s3s-fs leaves out;
    @uppy/aws-s3 reads it. Every other answer as it came."""
    if b"<CompleteMultipartUploadResult" not in body or b"<Location>" in body:
        return body
    location = f"http://{host}{urllib.parse.urlsplit(path).path}".replace("&", "&amp;").replace("<", "&lt;")
    return body.replace(b"<Bucket>", f"<Location>{location}</Location><Bucket>".encode(), 1)


def form_answer_headers(body: bytes, answer, host: str) -> list:
    """The `ETag` and `Location` headers S3 sends with a form upload's 201 (PostObject in the S3
    API reference) and s3s-fs leaves out (its PostResponse XML has both); @uppy/aws-s3 5 reads
    the headers. None when the answer has them, or its XML does not give them."""
    if answer.getheader("ETag") or b"<PostResponse" not in body:
        return []
    try:
        fields = {e.tag.rpartition("}")[2]: e.text or "" for e in xml.etree.ElementTree.fromstring(body)}
    except xml.etree.ElementTree.ParseError:
        return []
    if not fields.get("ETag") or not fields.get("Key"):
        return []
    location = f"http://{host}/{BUCKET}/{urllib.parse.quote(fields['Key'])}"
    return [("ETag", fields["ETag"]), ("Location", location)]


def with_part_etags(body: bytes, store_dir: pathlib.Path) -> bytes:
    """s3s-fs's answer to ListParts, with each part's `ETag`, which S3 always gives (ListParts
    in the S3 API reference) and s3s-fs leaves out: the MD5 of the part as s3s-fs keeps it
    (`.upload_id-<id>.part-<n>`), the ETag its UploadPart answered. A client resuming an
    upload completes it with these. Every other answer as it came."""
    if b"<ListPartsResult" not in body or b"<ETag>" in body or b"<Part>" not in body:
        return body
    text = body.decode()
    upload = text.partition("<UploadId>")[2].partition("</UploadId>")[0]

    def etag(match):
        number = match.group(1)
        part = store_dir / f".upload_id-{upload}.part-{number}"
        if not re.fullmatch(r"[0-9a-f-]{36}", upload) or not part.is_file():
            return match.group(0)
        return f"{match.group(0)}<ETag>&quot;{hashlib.md5(part.read_bytes()).hexdigest()}&quot;</ETag>"

    return re.sub(r"<PartNumber>(\d+)</PartNumber>", etag, text).encode()


def created_object(method: str, path: str, answer_body: bytes, answer):
    """The key and ETag of an object S3 created: a PUT of an object (not of a part), a form POST
    (from its XML answer), or a multipart completion (from its XML answer); else None."""
    parts = urllib.parse.urlsplit(path)
    query = urllib.parse.parse_qs(parts.query, keep_blank_values=True)
    key = urllib.parse.unquote(parts.path[len(f"/{BUCKET}/"):])
    if method == "PUT" and "partNumber" not in query and key:
        return key, answer.getheader("ETag") or ""
    if method != "POST" or "uploads" in query or not answer_body:
        return None
    try:
        fields = {element.tag.rpartition("}")[2]: element.text or ""
                  for element in xml.etree.ElementTree.fromstring(answer_body)}
    except xml.etree.ElementTree.ParseError:
        return None
    if "ETag" not in fields or ("uploadId" not in query and "Key" not in fields):
        return None
    return (key if "uploadId" in query else fields["Key"]), fields["ETag"]


def start(args, origin: str, data: pathlib.Path, processes: Processes) -> dict:
    sites = {}
    if args.provider in ("both", "aliyun"):
        sites["aliyun"] = start_aliyun(origin, data, processes, args.oss_signature_version, not args.no_upload_callback)
    if args.provider in ("both", "aws"):
        sites["aws"] = start_aws(origin, data, processes)
    server = http.server.ThreadingHTTPServer(("127.0.0.1", args.port), make_handler(sites, args.port))
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    if "aws" in sites:
        start_aws_records(origin, sites["aws"], processes)
    return sites


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, default=8080)
    parser.add_argument("--data", default=str(ROOT / "target" / "playground"))
    parser.add_argument("--provider", choices=("both", "aliyun", "aws"), default="both")
    parser.add_argument("--oss-signature-version", choices=("v4", "v1"), default="v4")
    parser.add_argument("--no-upload-callback", action="store_true")
    args = parser.parse_args()
    data = pathlib.Path(args.data)
    data.mkdir(parents=True, exist_ok=True)
    origin = f"http://127.0.0.1:{args.port}"
    processes = Processes()
    processes.profiles_file = data / "profiles.toml"
    processes.profiles_file.write_text(PROFILES)
    processes.profiles_without_quota = data / "profiles-without-quota.toml"
    processes.profiles_without_quota.write_text(PROFILES_WITHOUT_QUOTA)

    def stop(*_):
        processes.stop()
        print("playground stopped", flush=True)
        os._exit(0)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    try:
        sites = start(args, origin, data, processes)
    except BaseException:
        processes.stop()  # nothing started stays behind a failed start
        raise

    for site in sites.values():
        where = data / ("aliyun" if site.name == "aliyun" else "aws") / BUCKET / PREFIX
        print(f"stsvend playground, {site.label}: open {origin}/{site.name}/ (uploads land in {where})", flush=True)
    if "aliyun" in sites:
        print(f"  the seeds' ali-oss page: {origin}/aliyun/seed.html", flush=True)
    print(f"stsvend playground: open {origin}/ ; Ctrl-C stops everything", flush=True)
    signal.pause()
    return 0


if __name__ == "__main__":
    sys.exit(main())
