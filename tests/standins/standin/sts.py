"""A local stand-in for Alibaba Cloud STS (AssumeRole), for stsvend's tests: NOT STS.

It serves the RPC `AssumeRole` on 127.0.0.1 as stsvend's issue-token sends it (a POST form,
crates/sign/src/aliyun/sts.rs) and as the official SDKs do (a GET query; parameters may come in both),
and checks, in STS's order of concern:

* the parameters STS requires (`Missing<Name>`, "<Name> is mandatory for this action.");
  `Format=JSON` (the only answer format here), `SignatureMethod=HMAC-SHA1`,
  `SignatureVersion=1.0`, `Version=2015-04-01` (InvalidVersion) and `Action=AssumeRole`
  (InvalidAction.NotFound);
* `Timestamp` (`YYYY-MM-DDThh:mm:ssZ`, InvalidTimeStamp.Format) within 15 minutes of now
  (InvalidTimeStamp.Expired);
* the caller's key: one of `accounts` (id -> secret), or a credential this stand-in issued
  (chained AssumeRole), which must carry its `SecurityToken` (MissingSecurityToken,
  InvalidSecurityToken.MismatchWithAccessKey, InvalidSecurityToken.Expired); an unknown key is
  InvalidAccessKeyId.NotFound (404), and a token sent with a permanent key is
  InvalidSecurityToken.MismatchWithAccessKey;
* the signature, recomputed with the official signer
  `alibabacloud_openapi_util.client.Client.get_rpcsignature` over every parameter but
  `Signature` (SignatureDoesNotMatch);
* `SignatureNonce` not seen before (SignatureNonceUsed);
* `RoleArn` (`acs:ram::<account>:role/<name>`, InvalidParameter.RoleArn), `RoleSessionName`
  (2 to 64 of `[A-Za-z0-9.@_-]`, InvalidParameter.RoleSessionName), `DurationSeconds` (900 to
  3600, default 3600, InvalidParameter.DurationSeconds) and `Policy`: at most 2048 characters
  (InvalidParameter.PolicySize), JSON with `Version` "1" and a non-empty `Statement` list,
  each statement with `Effect` Allow or Deny, `Action` (or `NotAction`) and `Resource` (or
  `NotResource`), each a non-empty string or list of them (InvalidParameter.PolicyGrammar);
* a chained AssumeRole (a key this stand-in issued) from a session held to session policies:
  every one of them must allow `sts:AssumeRole` on the `RoleArn` (policy.py), else 403
  NoPermission "You are not authorized to do this action. You should be authorized by RAM.".
  The new key is held to its own `Policy` and to every policy its parent was held to (its
  effective permissions are their intersection), so chaining never widens a session.

Refusals are STS's JSON error `{"RequestId", "HostId", "Code", "Message"}` with its status (400,
404 for unknown keys and actions). Codes and messages are those of STS's AssumeRole error table
and Alibaba Cloud's common API errors (alibabacloud.com/help/en/ram "AssumeRole", doc 42775).
A success is `{"RequestId", "AssumedRoleUser": {"Arn", "AssumedRoleId"}, "Credentials":
{"AccessKeyId": "STS.…", "AccessKeySecret", "SecurityToken": "CAIS…", "Expiration":
"YYYY-MM-DDThh:mm:ssZ"}}`; the stand-in remembers each issued credential and the policies it is
held to for the OSS stand-in (`lookup`). A HEAD (issue-token's cold-start warm-up) gets an empty
400 at once. A POST body is read only up to 64 KiB: a larger (or unparsable) Content-Length is
400 InvalidParameter, answered without reading the body, and the connection is closed.
"""

import dataclasses
import datetime
import hmac
import http.server
import json
import re
import secrets
import string
import threading
import urllib.parse
import uuid
from typing import Callable, Dict, List, Optional, Tuple

from alibabacloud_openapi_util.client import Client

from . import policy as evaluator
from . import serving

MAX_SKEW = datetime.timedelta(minutes=15)
ROLE_ARN = re.compile(r"^acs:ram::(\d+):role/[A-Za-z0-9.@_\-/]+$")
SESSION_NAME = re.compile(r"^[A-Za-z0-9.@_\-]{2,64}$")
TIMESTAMP = "%Y-%m-%dT%H:%M:%SZ"
MAX_POLICY = 2048  # characters (STS raised it from 1024 in 2022)
MAX_BODY = 64 * 1024
REQUIRED = ("Action", "Version", "AccessKeyId", "Signature", "SignatureMethod", "SignatureVersion",
            "SignatureNonce", "Timestamp", "RoleArn", "RoleSessionName")


@dataclasses.dataclass
class Issued:
    """A credential the stand-in issued."""

    access_key_id: str
    access_key_secret: str
    security_token: str
    policies: Tuple[dict, ...]  # the session policies it is held to: its chain's, then its own
    expiration: datetime.datetime  # aware, UTC
    role_arn: str
    session_name: str


class StsRefused(Exception):
    def __init__(self, status: int, code: str, message: str):
        super().__init__(message)
        self.status, self.code = status, code


def invalid(name: str, message: str) -> StsRefused:
    return StsRefused(400, f"InvalidParameter.{name}", message)


def now_utc() -> datetime.datetime:
    return datetime.datetime.now(datetime.timezone.utc)


def random_text(length: int, alphabet: str = string.ascii_letters + string.digits) -> str:
    return "".join(secrets.choice(alphabet) for _ in range(length))


def names_ok(value) -> bool:
    """A non-empty string, or a non-empty list of them."""
    items = value if isinstance(value, list) else [value]
    return bool(items) and all(isinstance(v, str) and v for v in items)


def statement_ok(statement) -> bool:
    return (isinstance(statement, dict) and statement.get("Effect") in ("Allow", "Deny")
            and names_ok(statement.get("Action", statement.get("NotAction")))
            and names_ok(statement.get("Resource", statement.get("NotResource"))))


def parse_policy(text: Optional[str]) -> Optional[dict]:
    """The session policy, or None; InvalidParameter.PolicySize over 2048 characters,
    InvalidParameter.PolicyGrammar unless it is a policy (see the module docstring)."""
    if text is None:
        return None
    if len(text) > MAX_POLICY:
        raise invalid("PolicySize", f"The size of Policy must be smaller than {MAX_POLICY} characters.")
    grammar = invalid("PolicyGrammar", "The parameter Policy has not passed grammar check.")
    try:
        policy = json.loads(text)
    except ValueError:
        raise grammar from None
    if not isinstance(policy, dict) or policy.get("Version") != "1":
        raise grammar
    statements = policy.get("Statement")
    if not isinstance(statements, list) or not statements or not all(map(statement_ok, statements)):
        raise grammar
    return policy


def read_body(handler) -> bytes:
    """A POST's body, up to MAX_BODY; a larger or unparsable Content-Length is refused unread
    (and the connection closed, its body left unread)."""
    length = handler.headers.get("Content-Length") or "0"
    if not (length.isascii() and length.isdigit()) or int(length) > MAX_BODY:
        handler.close_connection = True
        raise StsRefused(400, "InvalidParameter", f"The request body must be at most {MAX_BODY} bytes"
                         " with a Content-Length (the local stand-in reads no more).")
    return handler.rfile.read(int(length))


class StandInSts:
    """Alibaba Cloud STS's AssumeRole on 127.0.0.1 (see the module docstring)."""

    def __init__(self, accounts: Dict[str, str], region: str = "cn-hangzhou"):
        self.accounts, self.region = accounts, region
        self.calls: List[Dict[str, str]] = []  # the parameters of each AssumeRole accepted
        self.issued: Dict[str, Issued] = {}
        self.nonces: Dict[str, datetime.datetime] = {}
        self.lock = threading.Lock()
        self.server = None

    def lookup(self, access_key_id: str) -> Optional[Issued]:
        """The credential issued with this key id (expired or not), or None."""
        with self.lock:
            return self.issued.get(access_key_id)

    def start(self, port: int = 0) -> int:
        stand_in = self

        class Handler(http.server.BaseHTTPRequestHandler):
            timeout = 30

            def log_message(self, *args):
                pass

            def do_HEAD(self):
                self.send_response(400)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def do_GET(self):
                stand_in.answer(self, lambda: b"")

            def do_POST(self):
                stand_in.answer(self, lambda: read_body(self))

        self.server = serving.serve(Handler, port, "STS")
        return self.server.server_port

    def stop(self):
        serving.stop(self.server)

    # -- HTTP -----------------------------------------------------------------------------

    def answer(self, handler, read_body: Callable[[], bytes]) -> None:
        request_id = str(uuid.uuid4()).upper()
        try:
            params = self.read_params(handler.path, read_body())
            status, out = 200, self.assume_role(params, handler.command, request_id)
        except StsRefused as e:
            status, out = e.status, {"RequestId": request_id, "HostId": "sts stand-in (local, not Alibaba Cloud STS)",
                                     "Code": e.code, "Message": str(e)}
        data = json.dumps(out).encode()
        handler.send_response(status)
        handler.send_header("Content-Type", "application/json;charset=utf-8")
        handler.send_header("Content-Length", str(len(data)))
        handler.end_headers()
        handler.wfile.write(data)

    @staticmethod
    def read_params(path: str, body: bytes) -> Dict[str, str]:
        """The query's and the form body's parameters; a name given twice is refused."""
        pairs = []
        for text in (urllib.parse.urlsplit(path).query, body.decode("utf-8", errors="replace")):
            pairs += urllib.parse.parse_qsl(text, keep_blank_values=True)
        params = dict(pairs)
        if len(params) != len(pairs):
            raise StsRefused(400, "InvalidParameter", "A parameter was given more than once.")
        return params

    # -- AssumeRole -----------------------------------------------------------------------

    def assume_role(self, params: Dict[str, str], method: str, request_id: str) -> dict:
        self.check_common(params)
        secret, inherited = self.caller(params["AccessKeyId"], params.get("SecurityToken"))
        signed = {k: v for k, v in params.items() if k != "Signature"}
        expected = Client.get_rpcsignature(signed, method, secret)
        if not hmac.compare_digest(expected.encode(), params["Signature"].encode()):
            raise StsRefused(400, "SignatureDoesNotMatch", "Specified signature is not matched with our calculation.")
        self.use_nonce(params["SignatureNonce"])
        duration = self.check_role_params(params)
        policy = parse_policy(params.get("Policy"))
        if inherited and evaluator.decide_all(inherited, "sts:AssumeRole", params["RoleArn"]) != "allow":
            raise StsRefused(403, "NoPermission",
                             "You are not authorized to do this action. You should be authorized by RAM.")
        issued = self.issue(params, inherited + ((policy,) if policy else ()), duration)
        with self.lock:
            self.calls.append(dict(params))
        return {
            "RequestId": request_id,
            "AssumedRoleUser": {"Arn": f"{params['RoleArn']}/{issued.session_name}",
                                "AssumedRoleId": f"{random_text(18, string.digits)}:{issued.session_name}"},
            "Credentials": {"AccessKeyId": issued.access_key_id, "AccessKeySecret": issued.access_key_secret,
                            "SecurityToken": issued.security_token,
                            "Expiration": issued.expiration.strftime(TIMESTAMP)},
        }

    @staticmethod
    def check_role_params(params: Dict[str, str]) -> int:
        """RoleArn and RoleSessionName well formed; the DurationSeconds asked for."""
        if not ROLE_ARN.match(params["RoleArn"]):
            raise invalid("RoleArn", "The parameter RoleArn is wrongly formed.")
        if not SESSION_NAME.match(params["RoleSessionName"]):
            raise invalid("RoleSessionName", "The parameter RoleSessionName is wrongly formed.")
        duration = params.get("DurationSeconds", "3600")
        if not duration.isdigit() or not 900 <= int(duration) <= 3600:
            raise invalid("DurationSeconds", "The Min/Max value of DurationSeconds is 15min/1hr.")
        return int(duration)

    @staticmethod
    def check_common(params: Dict[str, str]) -> None:
        for name in REQUIRED:
            if not params.get(name):
                raise StsRefused(400, f"Missing{name}", f"{name} is mandatory for this action.")
        for name, value in (("Format", "JSON"), ("SignatureMethod", "HMAC-SHA1"), ("SignatureVersion", "1.0")):
            if params.get(name) != value:
                raise StsRefused(400, "InvalidParameter", f"{name} must be {value} here (the local stand-in"
                                 " answers JSON and checks HMAC-SHA1 signatures only).")
        if params["Version"] != "2015-04-01":
            raise StsRefused(400, "InvalidVersion", "Specified parameter Version is not valid.")
        if params["Action"] != "AssumeRole":
            raise StsRefused(404, "InvalidAction.NotFound", "Specified api is not found, please check your url"
                             " and method. (The local stand-in serves AssumeRole only.)")
        try:
            stamp = datetime.datetime.strptime(params["Timestamp"], TIMESTAMP).replace(tzinfo=datetime.timezone.utc)
        except ValueError:
            raise StsRefused(400, "InvalidTimeStamp.Format",
                             "Specified time stamp or date value is not well formatted.") from None
        if abs(now_utc() - stamp) > MAX_SKEW:
            raise StsRefused(400, "InvalidTimeStamp.Expired", "Specified time stamp or date value is expired.")

    def caller(self, access_key_id: str, token: Optional[str]) -> Tuple[str, Tuple[dict, ...]]:
        """The secret of the calling key, and the session policies it is held to (none for a
        key of `accounts`)."""
        if access_key_id in self.accounts:
            if token:
                raise StsRefused(400, "InvalidSecurityToken.MismatchWithAccessKey",
                                 "Specified SecurityToken mismatch with the AccessKey.")
            return self.accounts[access_key_id], ()
        issued = self.lookup(access_key_id)
        if issued is None:
            raise StsRefused(404, "InvalidAccessKeyId.NotFound", "Specified access key is not found.")
        if not token:
            raise StsRefused(400, "MissingSecurityToken", "SecurityToken is mandatory for this action.")
        if not hmac.compare_digest(token.encode(), issued.security_token.encode()):
            raise StsRefused(400, "InvalidSecurityToken.MismatchWithAccessKey",
                             "Specified SecurityToken mismatch with the AccessKey.")
        if now_utc() >= issued.expiration:
            raise StsRefused(400, "InvalidSecurityToken.Expired", "Specified SecurityToken is expired.")
        return issued.access_key_secret, tuple(issued.policies)

    def use_nonce(self, nonce: str) -> None:
        now = now_utc()
        with self.lock:
            self.nonces = {n: t for n, t in self.nonces.items() if now - t <= 2 * MAX_SKEW}
            if nonce in self.nonces:
                raise StsRefused(400, "SignatureNonceUsed", "Specified signature nonce was used already.")
            self.nonces[nonce] = now

    def issue(self, params: Dict[str, str], policies: Tuple[dict, ...], duration: int) -> Issued:
        expiration = now_utc().replace(microsecond=0) + datetime.timedelta(seconds=duration)
        issued = Issued(
            access_key_id="STS." + random_text(24), access_key_secret=random_text(40),
            security_token="CAIS" + random_text(300, string.ascii_letters + string.digits + "+/"),
            policies=policies, expiration=expiration, role_arn=params["RoleArn"],
            session_name=params["RoleSessionName"])
        with self.lock:
            self.issued[issued.access_key_id] = issued
        return issued
