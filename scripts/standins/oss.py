"""A local stand-in for Alibaba Cloud OSS, for stsvend's tests: NOT OSS.

It behaves like OSS where stsvend's answers touch it, and checks everything it receives:

* PUT to a presigned URL (V4 or V1): the URL's signature is regenerated with the official
  `oss2` SDK from the request as received (method, bucket, key, the query parameters other
  than the signer's, the signed headers the client sent) at the URL's own signing time, and must
  match; an expired URL is refused.
* PostObject (a browser form): the policy's signature is recomputed with alibabacloud-oss-v2's
  signer primitives, its expiration checked, and every condition it names held against the
  fields and the file (OSS checks only the fields a policy names).
* `x-oss-forbid-overwrite: true` (a header, or a form field): an existing object is not
  replaced (409 `FileAlreadyExists`).
* Upload callbacks, as OSS makes them: the `callback` (query parameter or form field) is
  decoded, its JSON `callbackBody` filled with the upload's values as JSON values, signed with
  this stand-in's RSA key (PKCS#1 v1.5, MD5) over the callback URL's decoded path, `?` and raw
  query, `\n` and the body, and posted with `authorization` and `x-oss-pub-key-url`; the
  answer is relayed to the uploader (200), or `CallbackFailed` (203) as OSS does.

Objects are kept on disk under `root/<bucket>/<key>`. Path-style only (`/<bucket>/<key>`).
"""

import base64
import datetime
import hashlib
import hmac
import http.server
import json
import os
import sys
import threading
import urllib.parse
import urllib.request
from email.parser import BytesParser
from email.policy import HTTP
from typing import Dict, Optional, Tuple

from alibabacloud_oss_v2.signer import SignerV1, SignerV4
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "oracles"))
import verify_presigned as oracle  # noqa: E402  (the same oss2 regeneration the oracles use)

# The published key's URL: record-upload is pinned to this stand-in's key in the tests.
KEY_URL = "https://gosspublic.alicdn.com/callback_pub_key_v1.pem"


def xml_error(code: str, message: str) -> bytes:
    return (f'<?xml version="1.0" encoding="UTF-8"?><Error><Code>{code}</Code>'
            f"<Message>{message}</Message><HostId>oss stand-in</HostId></Error>").encode()


class Refused(Exception):
    def __init__(self, status: int, code: str, message: str):
        super().__init__(message)
        self.status, self.code = status, code


class StandInOss:
    """One bucket region's OSS, on 127.0.0.1."""

    def __init__(self, root: str, region: str, credentials: Dict[str, str]):
        self.root, self.region, self.credentials = root, region, credentials
        # cryptography refuses to generate keys under 1024 bits; OSS's own is 512 (the
        # published-vector tests cover that size).
        self.callback_key = rsa.generate_private_key(public_exponent=65537, key_size=1024)
        self.callbacks = []  # (callback URL, status, answer) of each callback made
        self.server = None

    def public_key_pem(self) -> str:
        return self.callback_key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo).decode()

    def start(self) -> int:
        stand_in = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_PUT(self):
                stand_in.answer(self, stand_in.put)

            def do_POST(self):
                stand_in.answer(self, stand_in.post)

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        print("oss stand-in (a local stand-in, not OSS) on 127.0.0.1:%d" % self.server.server_port,
              file=sys.stderr)
        return self.server.server_port

    def stop(self):
        if self.server:
            self.server.shutdown()

    def answer(self, handler, route):
        length = int(handler.headers.get("Content-Length") or 0)
        body = handler.rfile.read(length)
        try:
            status, headers, out = route(handler, body)
        except Refused as e:
            status, headers, out = e.status, {"Content-Type": "application/xml"}, xml_error(e.code, str(e))
        handler.send_response(status)
        for name, value in headers.items():
            handler.send_header(name, value)
        handler.send_header("Content-Length", str(len(out)))
        handler.end_headers()
        handler.wfile.write(out)

    # -- requests -------------------------------------------------------------------------

    def split_path(self, path: str) -> Tuple[str, str]:
        bucket, _, key = urllib.parse.unquote(path.lstrip("/")).partition("/")
        return bucket, key

    def put(self, handler, body: bytes):
        parts = urllib.parse.urlsplit(handler.path)
        bucket, key = self.split_path(parts.path)
        params = oracle.parse_query(parts.query, "URL")
        self.check_url_signature("PUT", bucket, key, params, handler.headers)
        self.check_overwrite(bucket, key, handler.headers.get("x-oss-forbid-overwrite"))
        etag = self.store(bucket, key, body)
        mime = handler.headers.get("Content-Type") or "application/octet-stream"
        if "callback" in params:
            return self.callback(params["callback"], bucket, key, etag, len(body), mime)
        return 200, {"ETag": f'"{etag}"'}, b""

    def post(self, handler, body: bytes):
        parts = urllib.parse.urlsplit(handler.path)
        bucket, _ = self.split_path(parts.path)
        fields, filename, data = self.read_form(handler.headers.get("Content-Type", ""), body)
        key = self.check_form(bucket, fields, len(data), filename)
        self.check_overwrite(bucket, key, fields.get("x-oss-forbid-overwrite"))
        etag = self.store(bucket, key, data)
        mime = fields.get("Content-Type") or "application/octet-stream"
        if "callback" in fields:
            return self.callback(fields["callback"], bucket, key, etag, len(data), mime)
        status = int(fields.get("success_action_status") or 204)
        return status, {"ETag": f'"{etag}"'}, b""

    @staticmethod
    def read_form(content_type: str, body: bytes):
        """The form's fields, in order, and its file (the `file` field, which comes last)."""
        message = BytesParser(policy=HTTP).parsebytes(
            b"Content-Type: " + content_type.encode() + b"\r\n\r\n" + body)
        fields, filename, data = {}, None, None
        for part in message.iter_parts():
            name = part.get_param("name", header="content-disposition")
            if name == "file":
                filename, data = part.get_filename() or "", part.get_payload(decode=True) or b""
            elif name:
                fields[name] = part.get_payload(decode=True).decode()
        if data is None:
            raise Refused(400, "InvalidArgument", "the form has no file field")
        return fields, filename, data

    # -- signatures -----------------------------------------------------------------------

    def check_url_signature(self, method: str, bucket: str, key: str, params: Dict[str, str],
                            headers) -> None:
        version = "v4" if "x-oss-signature" in params else "v1"
        access_key_id = (params.get("x-oss-credential", "").split("/")[0] if version == "v4"
                         else params.get("OSSAccessKeyId", ""))
        secret = self.credentials.get(access_key_id)
        if secret is None:
            raise Refused(403, "InvalidAccessKeyId", "the access key id is unknown here")
        now = datetime.datetime.now(datetime.timezone.utc)
        if version == "v4":
            signing_time = oracle.parse_x_oss_date(params.get("x-oss-date", ""))
            expires_in = int(params.get("x-oss-expires", "0"))
        else:
            expires_at = int(params.get("Expires", "0"))
            expires_in = 60
            signing_time = datetime.datetime.fromtimestamp(expires_at - expires_in, datetime.timezone.utc)
        if now > signing_time + datetime.timedelta(seconds=expires_in):
            raise Refused(403, "AccessDenied", "Request has expired.")
        signed_headers = {name: value for name, value in headers.items()
                          if name.lower() in ("content-type", "content-md5") or name.lower().startswith("x-oss-")}
        inp = oracle.PresignInput(
            version=version, method=method, bucket=bucket, key=key, region=self.region,
            access_key_id=access_key_id, access_key_secret=secret,
            security_token=params.get("x-oss-security-token") or params.get("security-token"),
            signing_time=signing_time, expires_in=expires_in, headers=signed_headers,
            params={k: v for k, v in params.items() if k not in oracle.SIGNER_PARAMS[version]},
            additional_headers=tuple(h for h in params.get("x-oss-additional-headers", "").split(";") if h),
        )
        regenerated = oracle.parse_query(urllib.parse.urlsplit(oracle.presign_with_oss2(inp)).query, "oss2")
        name = oracle.SIGNATURE_PARAM[version]
        if regenerated.get(name) != params.get(name):
            raise Refused(403, "SignatureDoesNotMatch",
                          "The request signature we calculated does not match the signature you provided.")

    def check_form(self, bucket: str, fields: Dict[str, str], size: int, filename: str) -> str:
        policy_b64 = fields.get("policy", "")
        policy = json.loads(base64.b64decode(policy_b64))
        if "x-oss-signature" in fields:
            access_key_id, date = fields["x-oss-credential"].split("/")[0], fields["x-oss-date"][:8]
            secret = self.secret_of(access_key_id)
            expected = SignerV4()._calc_signature(access_key_secrect=secret, date=date, region=self.region,
                                                  product="oss", string_to_sign=policy_b64)
            signature = fields["x-oss-signature"]
        else:
            secret = self.secret_of(fields.get("OSSAccessKeyId", ""))
            expected = SignerV1()._calc_signature(access_key_secrect=secret, string_to_sign=policy_b64)
            signature = fields.get("Signature", "")
        if not hmac.compare_digest(expected, signature):
            raise Refused(403, "SignatureDoesNotMatch", "The form's signature does not match its policy.")
        expiration = oracle.parse_utc(policy["expiration"], "policy expiration")
        if datetime.datetime.now(datetime.timezone.utc) > expiration:
            raise Refused(403, "AccessDenied", "Invalid according to Policy: Policy expired.")
        key = fields.get("key", "").replace("${filename}", filename)
        values = {**{k.lower(): v for k, v in fields.items()}, "bucket": bucket, "key": key}
        for condition in policy["conditions"]:
            self.check_condition(condition, values, size)
        return key

    def secret_of(self, access_key_id: str) -> str:
        if access_key_id not in self.credentials:
            raise Refused(403, "InvalidAccessKeyId", "the access key id is unknown here")
        return self.credentials[access_key_id]

    @staticmethod
    def check_condition(condition, values: Dict[str, str], size: int) -> None:
        def refuse(what):
            raise Refused(403, "AccessDenied", f"Invalid according to Policy: Policy Condition failed: {what}")
        if isinstance(condition, dict):
            for name, value in condition.items():
                if values.get(name.lower()) != value:
                    refuse(f'["eq", "${name}", "{str(value)[:40]}"]')
            return
        op = condition[0].lower()
        if op == "content-length-range":
            if not condition[1] <= size <= condition[2]:
                raise Refused(400, "EntityTooLarge" if size > condition[2] else "EntityTooSmall",
                              "Your proposed upload does not fit the policy's content-length-range.")
            return
        name, value = condition[1].lstrip("$").lower(), condition[2]
        actual = values.get(name)
        held = {"eq": actual == value,
                "starts-with": actual is not None and actual.startswith(value),
                "in": actual in value, "not-in": actual not in value}.get(op)
        if not held:
            refuse(json.dumps(condition)[:80])

    # -- storage and callbacks ------------------------------------------------------------

    def check_overwrite(self, bucket: str, key: str, forbid: Optional[str]) -> None:
        """`x-oss-forbid-overwrite: true` (header or form field): an existing object stays."""
        if (forbid or "").lower() == "true" and os.path.isfile(os.path.join(self.root, bucket, key)):
            raise Refused(409, "FileAlreadyExists", "The object you specified already exists and can not be overwritten.")

    def store(self, bucket: str, key: str, data: bytes) -> str:
        path = os.path.join(self.root, bucket, key)
        if not os.path.abspath(path).startswith(os.path.abspath(os.path.join(self.root, bucket)) + os.sep):
            raise Refused(400, "InvalidObjectName", "the key leaves the bucket")
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "wb") as f:
            f.write(data)
        return hashlib.md5(data).hexdigest().upper()

    def callback(self, encoded: str, bucket: str, key: str, etag: str, size: int, mime: str):
        spec = json.loads(base64.b64decode(encoded))
        variables = {
            "bucket": bucket, "object": key, "etag": etag, "size": size, "mimeType": mime,
            "imageInfo.height": "", "imageInfo.width": "", "imageInfo.format": "",
            "crc64": "0", "contentMd5": "",
        }
        body = spec["callbackBody"]
        json_body = spec.get("callbackBodyType") == "application/json"
        for name, value in variables.items():
            filled = json.dumps(value) if json_body else urllib.parse.quote(str(value), safe="")
            body = body.replace("${" + name + "}", filled)
        url = spec["callbackUrl"]
        parts = urllib.parse.urlsplit(url)
        signed = urllib.parse.unquote(parts.path) + (f"?{parts.query}" if parts.query else "") + "\n" + body
        signature = self.callback_key.sign(signed.encode(), padding.PKCS1v15(), hashes.MD5())
        request = urllib.request.Request(url, data=body.encode(), method="POST", headers={
            "Content-Type": spec.get("callbackBodyType") or "application/x-www-form-urlencoded",
            "authorization": base64.b64encode(signature).decode(),
            "x-oss-pub-key-url": base64.b64encode(KEY_URL.encode()).decode(),
        })
        try:
            with urllib.request.urlopen(request, timeout=5) as answer:
                status, text = answer.status, answer.read()
        except urllib.error.HTTPError as e:
            status, text = e.code, e.read()
        except OSError as e:
            status, text = 0, str(e).encode()
        self.callbacks.append((url, status, text))
        if status == 200:
            return 200, {"Content-Type": "application/json", "ETag": f'"{etag}"'}, text
        return 203, {"Content-Type": "application/xml"}, xml_error(
            "CallbackFailed", f"Error status : {status}. {text[:200].decode(errors='replace')}")
