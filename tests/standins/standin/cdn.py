"""A stand-in CDN in front of a private bucket, for the playground (NOT Alibaba Cloud CDN or
CloudFront): each GET's signature is checked as the CDN's documentation says its nodes check it,
then the object is fetched from the store (the origin fetch, with the store's own key) and
served; a tampered, expired or unsigned request is 403, as the CDN answers it.

Checks, written from the documentation, not from stsvend's code:
- Alibaba Cloud CDN type A (https://help.aliyun.com/document_detail/85113.html): `?auth_key=
  timestamp-rand-uid-md5hash`, md5hash = md5("URI-timestamp-rand-uid-PrivateKey"); type B
  (https://help.aliyun.com/en/cdn/user-guide/type-b-signing): `/YYYYMMDDHHMM/md5hash/path`,
  md5(PrivateKey + YYYYMMDDHHMM + path), UTC+8; type C
  (https://alibabacloud.com/help/en/doc-detail/119860.html): `/md5hash/HEX/path`,
  md5(PrivateKey + path + HEX). Served while timestamp + the configured validity period is not
  past; the primary or the backup key.
- CloudFront (https://docs.aws.amazon.com/AmazonCloudFront/latest/DeveloperGuide/private-content-signed-urls.html):
  `Expires`/`Policy`, `Signature`, `Key-Pair-Id` (and `Hash-Algorithm`) in the query, or the
  `CloudFront-*` cookies; the signature (RSA PKCS #1 v1.5 or ECDSA, over SHA-1 or SHA-256) checked
  with the key group's public key (`cryptography`); the policy's resource must match the URL
  asked for (`*` matching any run of characters) and its DateLessThan be in the future.

The object key is the request's path (after the type B or C prefix), percent-decoded.
"""

import base64
import datetime
import hashlib
import http.cookies
import http.server
import json
import re
import threading
import time
import urllib.parse

UTC8 = datetime.timezone(datetime.timedelta(hours=8))


class Refused(Exception):
    """A request the CDN answers with 403."""


def md5(text):
    return hashlib.md5(text.encode("utf-8")).hexdigest()


class AliyunUrlAuth:
    """Alibaba Cloud CDN's URL signing, type A, B or C, with a primary and a backup key."""

    def __init__(self, auth_type, keys, ttl):
        self.auth_type, self.keys, self.ttl = auth_type, [k for k in keys if k], ttl

    def check(self, target, cookies, now):
        parts = urllib.parse.urlsplit(target)
        if self.auth_type == "A":
            query = urllib.parse.parse_qs(parts.query, keep_blank_values=True)
            fields = (query.get("auth_key") or [""])[0].split("-")
            if len(fields) != 4 or not fields[0].isdigit():
                raise Refused("no auth_key")
            timestamp, rand, uid, hashed = fields
            path, expected = parts.path, lambda key: md5(f"{parts.path}-{timestamp}-{rand}-{uid}-{key}")
            start = int(timestamp)
        elif self.auth_type == "B":
            match = re.fullmatch(r"/([0-9]{12})/([0-9a-f]{32})(/.*)", parts.path)
            if not match:
                raise Refused("not /YYYYMMDDHHMM/md5hash/path")
            written, hashed, path = match.groups()
            start = int(datetime.datetime.strptime(written, "%Y%m%d%H%M").replace(tzinfo=UTC8).timestamp())
            expected = lambda key: md5(key + written + path)  # noqa: E731
        else:
            match = re.fullmatch(r"/([0-9a-f]{32})/([0-9A-Fa-f]{1,16})(/.*)", parts.path)
            if not match:
                raise Refused("not /md5hash/HEX/path")
            hashed, written, path = match.groups()
            start = int(written, 16)
            expected = lambda key: md5(key + path + written)  # noqa: E731
        if not any(expected(key) == hashed for key in self.keys):
            raise Refused("denied by req auth: invalid md5hash")
        if start + self.ttl < now:
            raise Refused("denied by req auth: expired timestamp")
        return path


def unsafe_b64(text):
    return base64.b64decode(text.replace("-", "+").replace("_", "=").replace("~", "/"))


class CloudFrontAuth:
    """CloudFront's signed URLs and cookies, for one key of the distribution's key group."""

    def __init__(self, origin, key_pair_id, public_key):
        self.origin, self.key_pair_id, self.public_key = origin.rstrip("/"), key_pair_id, public_key

    def verify(self, signature, message, hash_name):
        from cryptography.exceptions import InvalidSignature
        from cryptography.hazmat.primitives import hashes
        from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
        algorithm = hashes.SHA256() if hash_name == "SHA256" else hashes.SHA1()
        try:
            if isinstance(self.public_key, rsa.RSAPublicKey):
                self.public_key.verify(signature, message, padding.PKCS1v15(), algorithm)
            else:
                self.public_key.verify(signature, message, ec.ECDSA(algorithm))
        except (InvalidSignature, ValueError):
            raise Refused("the signature does not verify") from None

    def check(self, target, cookies, now):
        parts = urllib.parse.urlsplit(target)
        query = dict(urllib.parse.parse_qsl(parts.query, keep_blank_values=True))
        url = self.origin + parts.path
        if "Signature" in query:
            fields = {name: query.get(name) for name in ("Expires", "Policy", "Signature", "Key-Pair-Id", "Hash-Algorithm")}
        else:
            fields = {name[len("CloudFront-"):]: value for name, value in cookies.items() if name.startswith("CloudFront-")}
        if fields.get("Key-Pair-Id") != self.key_pair_id or not fields.get("Signature"):
            raise Refused("missing or unknown key pair")
        hash_name = fields.get("Hash-Algorithm") or "SHA1"
        if fields.get("Policy"):
            policy = unsafe_b64(fields["Policy"]).decode()
        elif fields.get("Expires", "").isdigit():
            policy = json.dumps({"Statement": [{"Resource": url, "Condition": {"DateLessThan": {"AWS:EpochTime": int(fields["Expires"])}}}]},
                                separators=(",", ":"))
        else:
            raise Refused("no policy")
        self.verify(unsafe_b64(fields["Signature"]), policy.encode(), hash_name)
        statement = json.loads(policy)["Statement"][0]
        pattern = "".join(".*" if c == "*" else re.escape(c) for c in statement["Resource"])
        if not re.fullmatch(pattern, url):
            raise Refused("the policy's resource does not cover this URL")
        if statement["Condition"]["DateLessThan"]["AWS:EpochTime"] <= now:
            raise Refused("expired")
        return parts.path


class StandInCdn:
    """Serves GET /<signed path> on 127.0.0.1: `auth.check` names the path, `fetch(key)` returns
    (status, content_type, body) from the store."""

    def __init__(self, auth, fetch, clock=time.time):
        self.auth, self.fetch, self.clock = auth, fetch, clock
        self.server = None

    def start(self, port=0):
        cdn = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def do_GET(self):
                cdn.answer(self)

            do_HEAD = do_GET

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", port), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self.server.server_address[1]

    def stop(self):
        if self.server:
            self.server.shutdown()
            self.server.server_close()

    def answer(self, handler):
        jar = http.cookies.SimpleCookie()
        try:
            jar.load(handler.headers.get("Cookie", ""))
        except http.cookies.CookieError:
            pass
        cookies = {name: morsel.value for name, morsel in jar.items()}
        try:
            path = self.auth.check(handler.path, cookies, int(self.clock()))
            key = urllib.parse.unquote_to_bytes(path[1:]).decode("utf-8")
            status, kind, body = self.fetch(key)
        except (Refused, UnicodeDecodeError) as refusal:
            status, kind, body = 403, "text/plain", f"403 Forbidden: {refusal}".encode()
        handler.send_response(status)
        handler.send_header("Content-Type", kind)
        handler.send_header("Content-Length", str(len(body)))
        handler.send_header("Access-Control-Allow-Origin", "*")
        handler.send_header("Cache-Control", "private, max-age=60")
        handler.end_headers()
        if handler.command != "HEAD":
            handler.wfile.write(body)
