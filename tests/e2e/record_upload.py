"""End to end on 127.0.0.1: presign-url pins a callback, the stand-in OSS checks each upload's
signature with oss2 and calls back as OSS does, record-upload verifies the callback and the tag
and delivers a webhook, which the receiver verifies with the official `standardwebhooks`
package; the uploader gets record-upload's answer relayed by OSS.

Runs the debug binaries (target/debug/presign-url, target/debug/record-upload; build them
first). Prints `record-upload-e2e: N passed, M failed` and exits non-zero on any failure.
"""

import base64
import hashlib
import json
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
import http.server
import urllib.error
import urllib.parse
import urllib.request

from standardwebhooks.webhooks import Webhook

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.abspath(os.path.join(HERE, "..", ".."))
sys.path.insert(0, os.path.join(ROOT, "tests", "standins"))
from standin import oss as standin_oss  # noqa: E402
import oss2  # noqa: E402

TARGET = os.environ.get("CARGO_TARGET_DIR", os.path.join(ROOT, "target"))
ACCESS_KEY_ID, SECRET = "LTAI-test-e2e-key", "e2e-function-secret"
CALLBACK_SECRET = "e2e-callback-secret-0123456789abcdef"
WEBHOOK_SECRET = "whsec_" + base64.b64encode(b"e2e webhook secret, 32 bytes!!!!").decode()
BUCKET, REGION = "examplebucket", "cn-hangzhou"

results = {"passed": 0, "failed": 0}


def check(name, condition, detail=""):
    if condition:
        results["passed"] += 1
    else:
        results["failed"] += 1
        print(f"FAIL {name}: {detail}")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for(port):
    deadline = time.time() + 20
    while time.time() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return
        except OSError:
            time.sleep(0.05)
    raise SystemExit(f"nothing listens on {port}")


class Receiver:
    """The app's webhook endpoint: verifies every delivery with standardwebhooks."""

    def __init__(self):
        self.deliveries, self.refused = [], []
        receiver = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                try:
                    message = Webhook(WEBHOOK_SECRET).verify(body, dict(self.headers))
                    receiver.deliveries.append((dict(self.headers), message))
                    out = json.dumps({"fileId": f"file-{len(receiver.deliveries)}"}).encode()
                    self.send_response(200)
                except Exception as e:  # noqa: BLE001 (any refusal is a failed check)
                    receiver.refused.append(str(e))
                    out = b"{}"
                    self.send_response(400)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(out)))
                self.end_headers()
                self.wfile.write(out)

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_port}/hooks"


def start(binary, port, env):
    full = {"PATH": os.environ.get("PATH", ""), "PORT": str(port), "BIND": "127.0.0.1",
            "RUST_LOG": "warn", **env}
    process = subprocess.Popen([os.path.join(TARGET, "debug", binary)], env=full,
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    wait_for(port)
    return process


def call(method, url, body=None, headers=None):
    request = urllib.request.Request(url, data=body, method=method, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=15) as answer:
            return answer.status, answer.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()


def presign(port, ask):
    status, body = call("POST", f"http://127.0.0.1:{port}/", json.dumps(ask).encode(),
                        {"Content-Type": "application/json"})
    assert status == 200, body
    return json.loads(body)


def multipart(fields, filename, data):
    boundary = "----stsvend-e2e-boundary"
    out = b""
    for name, value in fields.items():
        out += (f"--{boundary}\r\nContent-Disposition: form-data; name=\"{name}\"\r\n\r\n{value}\r\n").encode()
    out += (f"--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"{filename}\"\r\n"
            f"Content-Type: text/plain\r\n\r\n").encode() + data + f"\r\n--{boundary}--\r\n".encode()
    return out, f"multipart/form-data; boundary={boundary}"


def main():
    work = tempfile.mkdtemp(prefix="stsvend-e2e-")
    oss = standin_oss.StandInOss(os.path.join(work, "oss"), REGION, {ACCESS_KEY_ID: SECRET})
    oss_port = oss.start()
    key_file = os.path.join(work, "callback-key.pem")
    with open(key_file, "w") as f:
        f.write(oss.public_key_pem())
    receiver = Receiver()
    record_port, processes = free_port(), []
    common = {
        "PROVIDER": "aliyun", "ALIBABA_CLOUD_ACCESS_KEY_ID": ACCESS_KEY_ID,
        "ALIBABA_CLOUD_ACCESS_KEY_SECRET": SECRET, "BUCKET": BUCKET, "BUCKET_REGION": REGION,
        "AUTH_MODE": "none", "UPLOAD_CALLBACK_URL": f"http://127.0.0.1:{record_port}/oss/callback?stage=e2e",
        "UPLOAD_CALLBACK_SECRET": CALLBACK_SECRET,
    }
    try:
        # record-upload confirms each callback with a HEAD to the stand-in, signed with its own
        # key (OSS V4), which the stand-in checks with oss2.
        processes.append(start("record-upload", record_port, {
            **common, "OSS_CALLBACK_PUBLIC_KEY_FILE": key_file, "BUCKET_ENDPOINT": f"http://127.0.0.1:{oss_port}",
            "UPLOAD_WEBHOOK_URL": receiver.url, "UPLOAD_WEBHOOK_SECRET": WEBHOOK_SECRET}))
        for version in ("v4", "v1"):
            presign_port = free_port()
            processes.append(start("presign-url", presign_port, {
                **common, "SIGNATURE_VERSION": version, "BUCKET_ENDPOINT": f"http://127.0.0.1:{oss_port}"}))
            run_version(version, presign_port, oss, receiver)
            rules_port = free_port()
            processes.append(start("presign-url", rules_port, {
                **common, "UPLOAD_CALLBACK_URL": "", "UPLOAD_CALLBACK_SECRET": "", "UPLOAD_OVERWRITE": "false",
                "SIGNATURE_VERSION": version, "BUCKET_ENDPOINT": f"http://127.0.0.1:{oss_port}"}))
            run_create_only(version, rules_port)
        run_profiles(work, oss, oss_port, receiver, common, key_file, processes)
    finally:
        for process in processes:
            process.terminate()
            process.wait(timeout=10)
        oss.stop()
        receiver.server.shutdown()
    check("every delivery verified by standardwebhooks", not receiver.refused, receiver.refused)
    print(f"record-upload-e2e: {results['passed']} passed, {results['failed']} failed")
    return 1 if results["failed"] else 0


def run_version(version, presign_port, oss, receiver):
    before = len(receiver.deliveries)
    # A presigned PUT: OSS checks the signature (the pinned callback included), calls back,
    # and relays record-upload's answer to the uploader.
    key = f"uploads/anonymous/{version} holiday+photo.txt"
    answer = presign(presign_port, {"key": key, "method": "PUT", "contentType": "text/plain"})
    status, body = call("PUT", answer["URL"], b"hello, oss", answer["Headers"])
    check(f"{version} PUT relays the callback answer", status == 200, (status, body[:300]))
    relayed = json.loads(body) if status == 200 else {}
    check(f"{version} PUT answer names the object and the uploader",
          relayed.get("Key") == key and relayed.get("Uploader") == {"sub": "anonymous"}
          and relayed.get("Size") == 10, relayed)
    check(f"{version} PUT answer carries the app's answer", relayed.get("App", {}).get("fileId", "").startswith("file-"), relayed)

    check(f"{version} PUT answer gives the store's type and size as a number",
          relayed.get("ContentType") == "text/plain" and isinstance(relayed.get("Size"), int), relayed)

    # OSS signs whatever callback body it is given: an uploader replays the pinned callback
    # for the real object with the real ETag but another size and type. The store's HEAD
    # disagrees, so nothing is recorded, and OSS tells the uploader CallbackFailed.
    pinned = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(answer["URL"]).query))["callback"]
    etag = hashlib.md5(b"hello, oss").hexdigest().upper()
    status, _, body = oss.callback(pinned, BUCKET, key, etag, 2048, "image/jpeg")
    check(f"{version} a callback with a false size and type is refused",
          status == 203 and b"409" in body and b"CallbackMismatch" in body, (status, body[:300]))
    # A callback tagged for a key that was never uploaded mints no record.
    never = f"uploads/anonymous/{version} never uploaded.txt"
    unused = presign(presign_port, {"key": never, "method": "PUT", "contentType": "text/plain"})
    pinned = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(unused["URL"]).query))["callback"]
    status, _, body = oss.callback(pinned, BUCKET, never, etag, 10, "text/plain")
    check(f"{version} a callback for an object the store does not hold is refused",
          status == 203 and b"404" in body and b"ObjectNotFound" in body, (status, body[:300]))

    # The client changes the pinned callback: the URL's signature no longer holds.
    parts = urllib.parse.urlsplit(answer["URL"])
    query = urllib.parse.parse_qsl(parts.query, keep_blank_values=True)
    forged = base64.b64encode(json.dumps({"callbackUrl": "http://127.0.0.1:9/", "callbackBody": "x"}).encode()).decode()
    query = [(k, forged if k == "callback" else v) for k, v in query]
    tampered = urllib.parse.urlunsplit(parts._replace(query=urllib.parse.urlencode(query, quote_via=urllib.parse.quote)))
    status, body = call("PUT", tampered, b"hello, oss", answer["Headers"])
    check(f"{version} a changed callback breaks the URL's signature", status == 403 and b"SignatureDoesNotMatch" in body, (status, body[:200]))

    # A form upload under the caller's prefix.
    answer = presign(presign_port, {"method": "POST", "startsWith": True})
    form, content_type = multipart(answer["Fields"], f"{version} notes.txt", b"form bytes")
    status, body = call("POST", answer["URL"], form, {"Content-Type": content_type})
    check(f"{version} form relays the callback answer", status == 200, (status, body[:300]))
    relayed = json.loads(body) if status == 200 else {}
    check(f"{version} form answer names the file's key", relayed.get("Key") == f"uploads/anonymous/{version} notes.txt", relayed)

    # The form's tag covers the caller's whole prefix. Keys under it that presign-url would
    # never sign are refused whatever OSS signed, and so is a body naming a member twice.
    spec = json.loads(base64.b64decode(answer["Fields"]["callback"]))
    for bad in ("uploads/anonymous/../bob/secret.txt", "uploads/anonymous//x.txt",
                "uploads/anonymous/x.txt\nINFO upload recorded key=uploads/bob/y.txt",
                "uploads/anonymous/invoice\u202egpj.exe", "uploads/anonymous/photo\u3164.jpg"):
        status, _, body = oss.callback(answer["Fields"]["callback"], BUCKET, bad, "00", 1, "text/plain")
        check(f"{version} a callback naming {bad!r} is refused",
              status == 203 and b"403" in body and b"InvalidKey" in body, (status, body[:300]))
    twice = dict(spec, callbackBody=spec["callbackBody"].replace(
        '"object":${object}', '"object":"uploads/bob/b.txt","object":${object}', 1))
    check(f"{version} the pinned body names the object", twice != spec, spec["callbackBody"])
    encoded = base64.b64encode(json.dumps(twice).encode()).decode()
    status, _, body = oss.callback(encoded, BUCKET, f"uploads/anonymous/{version} notes.txt", "00", 10, "text/plain")
    check(f"{version} a callback body naming a member twice is refused",
          status == 203 and b"400" in body and b"DuplicateField" in body, (status, body[:300]))

    # The same form with another callback field: the policy's condition refuses it.
    fields = dict(answer["Fields"], callback=forged)
    form, content_type = multipart(fields, "other.txt", b"x")
    status, body = call("POST", answer["URL"], form, {"Content-Type": content_type})
    check(f"{version} the form's callback is pinned by its policy", status == 403 and b"callback" in body, (status, body[:200]))

    # A callback OSS signed but whose body presign-url did not tag: refused by record-upload,
    # and OSS tells the uploader CallbackFailed.
    untagged = base64.b64encode(json.dumps({
        "callbackUrl": json.loads(base64.b64decode(answer["Fields"]["callback"]))["callbackUrl"],
        "callbackBody": '{"bucket":${bucket},"object":${object},"size":${size}}',
        "callbackBodyType": "application/json"}).encode()).decode()
    status, _, body = oss.callback(untagged, BUCKET, "uploads/anonymous/forged.txt", "00", 1, "text/plain")
    check(f"{version} an untagged callback is refused", status == 203 and b"UntaggedCallback" in body, (status, body[:200]))

    delivered = receiver.deliveries[before:]
    check(f"{version} two deliveries", len(delivered) == 2, len(delivered))
    ids = [headers.get("webhook-id") for headers, _ in delivered]
    check(f"{version} distinct uploads have distinct ids", len(set(ids)) == len(ids), ids)
    for headers, message in delivered:
        data = message.get("data", {})
        check(f"{version} delivery is an upload.completed record",
              message.get("type") == "upload.completed" and data.get("bucket") == BUCKET
              and data.get("source") == "oss-callback" and data.get("uploader") == {"sub": "anonymous"}, message)
    stored = os.path.join(oss.root, BUCKET, "uploads", "anonymous", f"{version} holiday+photo.txt")
    check(f"{version} the PUT's bytes are in the store", open(stored, "rb").read() == b"hello, oss", stored)


def run_create_only(version, presign_port):
    """UPLOAD_OVERWRITE=false: the signed x-oss-forbid-overwrite keeps the first object, and a
    client that drops it breaks the URL's signature (oss2 regenerates it with the header)."""
    key = f"uploads/anonymous/{version} create only.txt"
    # urllib sends a Content-Type with every body, so the URL signs one.
    answer = presign(presign_port, {"key": key, "method": "PUT", "contentType": "text/plain"})
    check(f"{version} create-only PUT signs x-oss-forbid-overwrite",
          answer["Headers"].get("x-oss-forbid-overwrite") == "true", answer["Headers"])
    dropped = {k: v for k, v in answer["Headers"].items() if k != "x-oss-forbid-overwrite"}
    status, body = call("PUT", answer["URL"], b"first", dropped)
    check(f"{version} without the header the signature fails", status == 403 and b"SignatureDoesNotMatch" in body, (status, body[:200]))
    status, _ = call("PUT", answer["URL"], b"first", answer["Headers"])
    check(f"{version} the first create-only PUT stores", status == 200, status)
    again = presign(presign_port, {"key": key, "method": "PUT", "contentType": "text/plain"})
    status, body = call("PUT", again["URL"], b"second", again["Headers"])
    check(f"{version} a second create-only PUT is refused", status == 409 and b"FileAlreadyExists" in body, (status, body[:200]))
    form = presign(presign_port, {"key": key, "method": "POST"})
    data, content_type = multipart(form["Fields"], "x.txt", b"third")
    status, body = call("POST", form["URL"], data, {"Content-Type": content_type})
    check(f"{version} a create-only form over it is refused", status == 409, (status, body[:200]))


PROFILES_FILE = """
[profiles.avatar]
prefix = "avatars/${sub}/"
key = "${uuid}${ext}"
methods = ["PUT", "POST", "GET"]
content_types = ["image/png", "image/jpeg"]
min_bytes = 1
max_bytes = 4096
metadata = { uploader = "${sub}" }
detect_type = true
on_violation = "delete"

[profiles.attachment]
prefix = "attachments/${sub}/"
max_bytes = 8192
on_violation = "delete"

[profiles.video]
prefix = "videos/${sub}/"
content_types = ["video/*"]
detect_type = true
on_violation = "report"
"""

# A real PNG's first bytes: the signature and an IHDR chunk.
PNG = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR\0\0\0\x01\0\0\0\x01\x08\x06\0\0\0\x1f\x15\xc4\x89"
HTML = b"<!DOCTYPE html><html><script>alert(document.cookie)</script></html>"


def run_profiles(work, oss, oss_port, receiver, common, key_file, processes):
    """PROFILES_FILE: record-upload checks each upload against its profile, from callbacks (a
    presigned PUT) and from OSS events (objects put with the bucket's keys, as issue-token's
    credentials put them, with no presigned rule)."""
    file = os.path.join(work, "profiles.toml")
    with open(file, "w") as f:
        f.write(PROFILES_FILE)
    store = {"BUCKET_ENDPOINT": f"http://127.0.0.1:{oss_port}", "PROFILES_FILE": file}
    record_port, events_port, presign_port = free_port(), free_port(), free_port()
    processes.append(start("record-upload", record_port, {
        **common, **store, "OSS_CALLBACK_PUBLIC_KEY_FILE": key_file,
        "UPLOAD_CALLBACK_URL": f"http://127.0.0.1:{record_port}/oss/callback?stage=e2e",
        "UPLOAD_WEBHOOK_URL": receiver.url, "UPLOAD_WEBHOOK_SECRET": WEBHOOK_SECRET}))
    processes.append(start("record-upload", events_port, {
        **common, **store, "RECORD_UPLOAD_MODE": "oss-events", "FC_FUNCTION_NAME": "record-upload-events",
        "FC_REGION": REGION, "UPLOAD_WEBHOOK_URL": receiver.url, "UPLOAD_WEBHOOK_SECRET": WEBHOOK_SECRET}))
    processes.append(start("presign-url", presign_port, {
        **common, **store, "SIGNATURE_VERSION": "v4",
        "UPLOAD_CALLBACK_URL": f"http://127.0.0.1:{record_port}/oss/callback?stage=e2e"}))
    stored = lambda key: os.path.exists(os.path.join(oss.root, BUCKET, key))  # noqa: E731
    before = len(receiver.deliveries)

    # Callbacks: a presigned avatar PUT (the server chose the key, the metadata is signed in).
    def avatar_put(body):
        answer = presign(presign_port, {"profile": "avatar", "filename": "me.png", "method": "PUT",
                                        "contentType": "image/png"})
        status, out = call("PUT", answer["URL"], body, answer["Headers"])
        return answer["Key"], status, out

    key, status, out = avatar_put(PNG + b"\0" * 100)
    relayed = json.loads(out) if status == 200 else {}
    check("profiles: a good avatar's callback is answered with its profile",
          status == 200 and relayed.get("Profile") == "avatar" and relayed.get("Key") == key, (status, out[:300]))
    check("profiles: the good avatar stays", stored(key), key)
    page, status, out = avatar_put(HTML)
    check("profiles: HTML sent as image/png is rejected, and OSS tells the uploader why",
          status == 203 and b"422" in out and b"UploadRejected.ContentNotOfType" in out, (status, out[:300]))
    check("profiles: the HTML avatar is deleted from the store", not stored(page), page)

    # OSS events: objects put straight into the bucket with its keys (oss2), then the events a
    # Function Compute OSS trigger would deliver.
    auth = oss2.Auth(ACCESS_KEY_ID, SECRET)
    bucket = oss2.Bucket(auth, f"http://127.0.0.1:{oss_port}", BUCKET, is_path_style=True)
    meta = {"Content-Type": "image/png", "x-oss-meta-uploader": "anonymous"}
    puts = {
        "avatars/anonymous/0b5c2a8e-1f3d-4c7a-9e2b-5d6f7a8b9c0d.png": (PNG + b"\0" * 5000, meta),
        "avatars/anonymous/1c6d3b9f-2a4e-4d8b-8f3c-6e7a8b9c0d1e.png": (HTML, meta),
        "videos/anonymous/clip.mp4": (b"not a video at all", {"Content-Type": "video/mp4"}),
        "avatars/anonymous/2d7e4c0a-3b5f-4e9c-a04d-7f8b9c0d1e2f.jpg": (PNG + b"\0" * 10, meta),
    }
    events = []
    for name, (body, headers) in puts.items():
        result = bucket.put_object(name, body, headers=headers)
        events.append({"eventName": "ObjectCreated:PutObject", "eventSource": "acs:oss",
                       "eventTime": "2026-12-07T08:00:00.000Z", "region": REGION,
                       "oss": {"bucket": {"name": BUCKET, "arn": f"acs:oss:{REGION}:1:{BUCKET}"},
                               "object": {"key": name, "size": len(body), "eTag": result.etag.strip('"'),
                                          "deltaSize": len(body)}}})
    invoke = json.dumps({"events": events}).encode()
    status, out = call("POST", f"http://127.0.0.1:{events_port}/invoke", invoke,
                       {"x-fc-control-path": "/invoke", "Content-Type": "application/json"})
    answer = json.loads(out) if out.startswith(b"{") else {}
    check("profiles: the OSS events are answered", status == 200 and answer.get("Recorded") == 1
          and answer.get("Rejected") == 3, (status, out[:300]))
    told = {m["data"]["key"]: (h.get("webhook-id"), m) for h, m in receiver.deliveries[before:]}
    expected = [
        ("avatars/anonymous/0b5c2a8e-1f3d-4c7a-9e2b-5d6f7a8b9c0d.png", "avatar", "TooLarge", "deleted"),
        ("avatars/anonymous/1c6d3b9f-2a4e-4d8b-8f3c-6e7a8b9c0d1e.png", "avatar", "ContentNotOfType", "deleted"),
        ("videos/anonymous/clip.mp4", "video", "ContentNotOfType", "reported"),
        (page, "avatar", "ContentNotOfType", "deleted"),
    ]
    for name, profile, reason, action in expected:
        data = told.get(name, (None, {}))[1].get("data", {})
        check(f"profiles: {name} is reported as {reason}, {action}",
              told.get(name, (None, {}))[1].get("type") == "upload.rejected" and data.get("profile") == profile
              and data.get("reason") == reason and data.get("action") == action
              and isinstance(data.get("size"), int) and data.get("etag"), told.get(name))
        check(f"profiles: {name} {'stays' if action == 'reported' else 'is gone'}",
              stored(name) == (action == "reported"), name)
    for name in (key, "avatars/anonymous/2d7e4c0a-3b5f-4e9c-a04d-7f8b9c0d1e2f.jpg"):
        message = told.get(name, (None, {}))[1]
        check(f"profiles: {name} is recorded with its profile",
              message.get("type") == "upload.completed" and message["data"].get("profile") == "avatar", message)
    # The same events again: the deleted objects are gone and are not told twice; the video is
    # told under the same id, which the app de-duplicates.
    before_again = len(receiver.deliveries)
    status, out = call("POST", f"http://127.0.0.1:{events_port}/invoke", invoke,
                       {"x-fc-control-path": "/invoke", "Content-Type": "application/json"})
    again = {m["data"]["key"]: h.get("webhook-id") for h, m in receiver.deliveries[before_again:]}
    check("profiles: replayed events tell the kept objects under the same ids",
          status == 200 and set(again) == {"videos/anonymous/clip.mp4",
                                           "avatars/anonymous/2d7e4c0a-3b5f-4e9c-a04d-7f8b9c0d1e2f.jpg"}
          and again["videos/anonymous/clip.mp4"] == told["videos/anonymous/clip.mp4"][0], (status, again))


if __name__ == "__main__":
    sys.exit(main())
