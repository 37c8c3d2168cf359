"""Shared fixtures of the stand-in tests: each test gets its own stand-ins on free ports of
127.0.0.1 and a temporary folder, stopped and removed in tearDown. Clients are the official
SDKs (oss2, alibabacloud-openapi-util's RPC signer, alibabacloud-oss-v2's signer primitives) or
plain HTTP (requests) where a test must send what an SDK would not.
"""

import base64
import contextlib
import datetime
import http.server
import io
import json
import os
import shutil
import sys
import tempfile
import threading
import unittest
import urllib.parse
import uuid
from typing import Dict, Optional

import oss2
import requests
from alibabacloud_openapi_util.client import Client
from alibabacloud_oss_v2.signer import SignerV1, SignerV4

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.abspath(os.path.join(HERE, "..", ".."))
sys.path.insert(0, HERE)  # the stand-ins: the standin package beside these tests
sys.path.insert(0, os.path.join(ROOT, "scripts", "oracles"))
from standin import oss as oss_standin  # noqa: E402
from standin import sts as sts_standin  # noqa: E402
import verify_presigned as oracle  # noqa: E402

REGION, BUCKET = "cn-hangzhou", "examplebucket"
KEY_ID, SECRET = "LTAI-standin-test", "standin-test-secret"
ROLE_ARN = "acs:ram::1234567890123:role/uploader"


def quietly(start):
    """Runs a stand-in's start() without its start-up line on stderr; returns (port, line)."""
    buffer = io.StringIO()
    with contextlib.redirect_stderr(buffer):
        port = start()
    return port, buffer.getvalue()


class StandInTestCase(unittest.TestCase):
    """A fresh STS stand-in (knowing KEY_ID) and OSS stand-in (knowing KEY_ID, trusting that
    STS) per test; subclasses set `cors` for the OSS stand-in's CORS rules."""

    cors = None

    def setUp(self):
        self.work = tempfile.mkdtemp(prefix="stsvend-standins-")
        self.events = []
        self.sts = sts_standin.StandInSts({KEY_ID: SECRET}, REGION)
        self.sts_port, self.sts_banner = quietly(self.sts.start)
        self.oss = oss_standin.StandInOss(os.path.join(self.work, "oss"), REGION, {KEY_ID: SECRET},
                                          sts=self.sts, cors=self.cors,
                                          on_created=lambda *event: self.events.append(event))
        self.port, self.oss_banner = quietly(self.oss.start)
        self.endpoint = f"http://127.0.0.1:{self.port}"

    def tearDown(self):
        self.oss.stop()
        self.sts.stop()
        shutil.rmtree(self.work, ignore_errors=True)

    # -- clients --------------------------------------------------------------------------

    def bucket(self, auth=None, version: str = "v4") -> oss2.Bucket:
        if auth is None:
            auth = oss2.AuthV4(KEY_ID, SECRET) if version == "v4" else oss2.Auth(KEY_ID, SECRET)
        return oss2.Bucket(auth, self.endpoint, BUCKET, region=REGION)

    def assume_role(self, policy: Optional[dict] = None, session: str = "alice", **overrides):
        """AssumeRole as issue-token sends it (a POST form signed with the official signer);
        (status, JSON answer)."""
        params = assume_role_params(KEY_ID, SECRET, policy=policy, session=session, **overrides)
        return post_sts(self.sts_port, params)

    def sts_bucket(self, policy: Optional[dict] = None, version: str = "v4") -> oss2.Bucket:
        """A bucket client with temporary credentials from the STS stand-in (oss2 StsAuth)."""
        status, answer = self.assume_role(policy)
        self.assertEqual(status, 200, answer)
        c = answer["Credentials"]
        auth = oss2.StsAuth(c["AccessKeyId"], c["AccessKeySecret"], c["SecurityToken"],
                            auth_version=oss2.AUTH_VERSION_4 if version == "v4" else oss2.AUTH_VERSION_1)
        return self.bucket(auth)

    def assertRefused(self, call, status: int, code: str, message: str = ""):
        """`call()` raises oss2's error with this status and code (and message text)."""
        with self.assertRaises(oss2.exceptions.OssError) as caught:
            call()
        error = caught.exception
        self.assertEqual((error.status, error.code), (status, code), error)
        self.assertIn(message, error.message or "")
        return error

    def assertXmlError(self, answer: requests.Response, status: int, code: str, message: str = ""):
        self.assertEqual(answer.status_code, status, answer.text)
        self.assertIn(f"<Code>{code}</Code>", answer.text)
        self.assertIn(message, answer.text)
        self.assertTrue(answer.headers.get("x-oss-request-id"))


def assume_role_params(access_key_id: str, secret: str, *, policy: Optional[dict] = None,
                       session: str = "alice", token: Optional[str] = None, method: str = "POST",
                       timestamp: Optional[datetime.datetime] = None, **overrides) -> Dict[str, str]:
    """AssumeRole's parameters as issue-token builds them (crates/sign/src/aliyun/sts.rs), signed with
    alibabacloud-openapi-util's get_rpcsignature; `overrides` replace parameters before signing
    (None removes one)."""
    moment = timestamp or datetime.datetime.now(datetime.timezone.utc)
    params = {
        "AccessKeyId": access_key_id, "Action": "AssumeRole", "DurationSeconds": "3600", "Format": "JSON",
        "RoleArn": ROLE_ARN, "RoleSessionName": session, "SignatureMethod": "HMAC-SHA1",
        "SignatureNonce": str(uuid.uuid4()), "SignatureVersion": "1.0",
        "Timestamp": moment.strftime("%Y-%m-%dT%H:%M:%SZ"), "Version": "2015-04-01",
    }
    if policy is not None:
        params["Policy"] = json.dumps(policy, separators=(",", ":"))
    if token:
        params["SecurityToken"] = token
    params.update(overrides)
    params = {k: v for k, v in params.items() if v is not None}
    params["Signature"] = Client.get_rpcsignature(params, method, secret)
    return params


def post_sts(port: int, params: Dict[str, str]):
    body = urllib.parse.urlencode(params, quote_via=urllib.parse.quote)
    answer = requests.post(f"http://127.0.0.1:{port}/", data=body, timeout=10,
                           headers={"Content-Type": "application/x-www-form-urlencoded"})
    return answer.status_code, answer.json()


def write_policy(bucket: str, prefix: str, template: str) -> dict:
    """One of the repository's session policy templates, rendered as issue-token renders it."""
    with open(os.path.join(ROOT, "policies", template), encoding="utf-8") as f:
        text = f.read()
    return json.loads(text.replace("$BUCKET_NAME", bucket).replace("$OBJECT_PREFIX", prefix))


class Receiver:
    """An app's callback endpoint: records each request and answers with `status`, `answer` and
    `headers` (by default 200 and a JSON body)."""

    def __init__(self, status: int = 200, answer: bytes = b'{"recorded":true}', headers: Optional[dict] = None):
        self.requests = []
        receiver = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                receiver.requests.append((self.path, {k.lower(): v for k, v in self.headers.items()}, body))
                self.send_response(status)
                for name, value in {"Content-Type": "application/json", **(headers or {})}.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_port}/oss/callback?stage=test"

    def stop(self):
        self.server.shutdown()
        self.server.server_close()


def signed_form(key: str, access_key_id: str, secret: str, *, version: str = "v4", token: Optional[str] = None,
                conditions: Optional[list] = None, fields: Optional[Dict[str, str]] = None,
                expires_in: int = 600, signed_at: Optional[datetime.datetime] = None,
                scope: Optional[str] = None, signature_version: str = "OSS4-HMAC-SHA256",
                name_v4_fields: bool = True) -> Dict[str, str]:
    """A PostObject form's fields as presign-url builds them: a policy (bucket, the key or a
    `starts-with`, a content-length-range, the V4 signer fields and the token, plus
    `conditions`), signed with alibabacloud-oss-v2's signer primitives. For V4, `signed_at`,
    `scope` (`<date>/<region>/<product>/<terminator>` after the key id) and `signature_version`
    make forms OSS refuses, still signed for what they say; `name_v4_fields=False` leaves the
    V4 fields out of the policy."""
    now = signed_at or datetime.datetime.now(datetime.timezone.utc)
    fields = {"key": key, **(fields or {})}
    policy_conditions = [{"bucket": BUCKET}, ["content-length-range", 0, 1024]] + (conditions or [])
    if not any(isinstance(c, list) and c[1:2] == ["$key"] for c in policy_conditions):
        policy_conditions.append({"key": key})
    if version == "v4":
        date = now.strftime("%Y%m%dT%H%M%SZ")
        scope = scope or f"{date[:8]}/{REGION}/oss/aliyun_v4_request"
        fields.update({"x-oss-signature-version": signature_version, "x-oss-date": date,
                       "x-oss-credential": f"{access_key_id}/{scope}"})
        if name_v4_fields:
            policy_conditions += [{name: fields[name]} for name in ("x-oss-signature-version", "x-oss-credential", "x-oss-date")]
    else:
        fields["OSSAccessKeyId"] = access_key_id
    if token:
        fields["x-oss-security-token"] = token
        policy_conditions.append({"x-oss-security-token": token})
    expiration = (datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(seconds=expires_in)
                  ).strftime("%Y-%m-%dT%H:%M:%S.000Z")
    policy = base64.b64encode(json.dumps({"expiration": expiration, "conditions": policy_conditions}).encode()).decode()
    fields["policy"] = policy
    if version == "v4":
        day, region, product = scope.split("/")[:3]
        fields["x-oss-signature"] = SignerV4()._calc_signature(
            access_key_secrect=secret, date=day, region=region, product=product, string_to_sign=policy)
    else:
        fields["Signature"] = SignerV1()._calc_signature(access_key_secrect=secret, string_to_sign=policy)
    return fields


def post_form(endpoint: str, fields: Dict[str, str], filename: str, data: bytes,
              file_type: str = "text/plain") -> requests.Response:
    """A browser's form POST: the fields in order, then the file."""
    return requests.post(f"{endpoint}/{BUCKET}/", data=fields, files={"file": (filename, data, file_type)},
                         timeout=10)
