"""Verifies the presigned OSS URLs and PostObject policies that presign-url returned, with
Alibaba's two official OSS SDKs as oracles.

Input: JSON lines, one record per answer the function gave (see ALGORITHMS.md sections 2-5):
  {"case", "kind": "url"|"post", "signature_version": "v1"|"v4", "access_key_id",
   "access_key_secret", "security_token" (or null), "region", "bucket", "key", "answer",
   "agree": ["oss2", "oss-v2"], "note"}

What it proves, for every record:
* kind "url": the URL is well formed (RFC 3986 percent-encoding, no raw '+', its path decodes to
  the record's bucket/key), Expiration/ExpiresIn agree with the signed time, and every oracle
  listed in "agree" regenerates the same presigned request from the record's method, bucket, key,
  headers, request query parameters and credentials, signed at the URL's own signing time: the
  same signature (V1 `Signature`, V4 `x-oss-signature`) and the same set of query parameters
  (names and decoded values, so OSSAccessKeyId/Expires/security-token and
  x-oss-credential/x-oss-date/x-oss-expires/x-oss-security-token/x-oss-additional-headers too).
  A record whose key is "" is a bucket-level request (presign-url's listing, `GET /?list-type=2
  &prefix=...`): oss2 signs it with the auth's own `_sign_url` (Bucket.sign_url refuses an empty
  key) and oss-v2 with its signer and a SigningContext without a key.
  Oracles: oss2 `Bucket.sign_url`; alibabacloud-oss-v2 `Client.presign` (GetObject, PutObject,
  HeadObject and the multipart requests, with other query parameters and headers passed as the
  request's generic `parameters`/`headers`) or, for requests presign cannot express (e.g.
  DeleteObject, AppendObject), its `SignerV1`/`SignerV4` with a hand-built `SigningContext`.
* kind "post": the policy's signature is recomputed over the base64 policy text exactly as sent,
  with oss-v2's signer primitives (`SignerV4._calc_signature` / `SignerV1._calc_signature`) and
  independently with stdlib hmac; the decoded policy has an ISO 8601 UTC expiration equal to the
  answer's Expiration, a conditions list with the bucket, a key condition matching Fields.key, a
  content-length-range, the V4 signer conditions (and the token), and every field a condition
  names is present in Fields with a value that satisfies it.

How the clocks are pinned (signing time = V4 `x-oss-date`, V1 `Expires - answer.ExpiresIn`):
* oss2: `oss2/auth.py` reads `time.time()` (ProviderAuth._sign_url, V1 Expires) and
  `datetime.utcnow()` (ProviderAuthV4._sign_url, x-oss-date). Both module globals of oss2.auth
  (`time`, `datetime`) are replaced with unittest.mock.patch.object for the duration of the call.
* oss-v2: `signer/v1.py`/`signer/v4.py` `_auth_query` use `SigningContext.signing_time` when set
  (else `datetime.datetime.now`), and the expiry from `SigningContext.expiration_time`. The
  client is given a SignerV1/SignerV4 subclass (Client(config, signer=...)) that sets
  signing_time (and additional_headers, which Client 1.4.1 never copies from its Config into the
  context) before delegating; presign gets `expiration=` explicitly.

Fails (exit 1) when the file is missing or empty or any record fails; prints one line per failed
record, then `oss-sdks: N passed, M failed`.

usage: verify_presigned.py FILE.jsonl
"""

import base64
import binascii
import contextlib
import dataclasses
import datetime
import hashlib
import hmac
import json
import re
import sys
import types
import urllib.parse
from typing import Dict, List, Optional, Tuple
from unittest import mock

import alibabacloud_oss_v2 as oss
import oss2
import oss2.auth
from alibabacloud_oss_v2.signer import SignerV1, SignerV4

V4_ALGORITHM = "OSS4-HMAC-SHA256"
V4_MAX_EXPIRES = 7 * 24 * 3600
PRODUCT = "oss"
ORACLES = ("oss2", "oss-v2")
# Query parameters the signers add; everything else in the query is a request parameter.
V1_SIGNER_PARAMS = ("OSSAccessKeyId", "Expires", "Signature", "security-token")
V4_SIGNER_PARAMS = (
    "x-oss-signature-version", "x-oss-credential", "x-oss-date", "x-oss-expires",
    "x-oss-security-token", "x-oss-additional-headers", "x-oss-signature",
)
SIGNATURE_PARAM = {"v1": "Signature", "v4": "x-oss-signature"}
SIGNER_PARAMS = {"v1": V1_SIGNER_PARAMS, "v4": V4_SIGNER_PARAMS}
# PostObject form fields that belong to the other signature version only.
POST_FOREIGN_FIELDS = {
    "v1": ("x-oss-signature-version", "x-oss-credential", "x-oss-date", "x-oss-signature"),
    "v4": ("OSSAccessKeyId", "Signature"),
}
# RFC 3986: unreserved + reserved characters, '%' only as the start of %XX; '+' excluded on
# purpose (it must always be sent as %2B, see ALGORITHMS.md section 2).
URL_CHARS = re.compile(r"^(?:[A-Za-z0-9\-._~:/?#\[\]@!$&'()*,;=]|%[0-9A-Fa-f]{2})*$")
X_OSS_DATE = re.compile(r"^\d{8}T\d{6}Z$")
HTTP_METHODS = ("GET", "PUT", "HEAD", "DELETE", "POST")
POST_OPS = ("eq", "starts-with", "in", "not-in")


class RecordError(Exception):
    """A record cannot be checked any further; the message says why."""


@dataclasses.dataclass(frozen=True)
class PresignInput:
    """Everything an oracle needs to regenerate one presigned URL."""

    version: str
    method: str
    bucket: str
    key: str
    region: str
    access_key_id: str
    access_key_secret: str
    security_token: Optional[str]
    signing_time: datetime.datetime  # aware, UTC
    expires_in: int
    headers: Dict[str, str]
    params: Dict[str, str]
    additional_headers: Tuple[str, ...]

    @property
    def expiration(self) -> datetime.datetime:
        return self.signing_time + datetime.timedelta(seconds=self.expires_in)


# ---------------------------------------------------------------------------------------------
# small helpers


def field(mapping: dict, name: str, kind, where: str = "record"):
    """mapping[name], which must exist and be of type kind (a type or tuple of types)."""
    if not isinstance(mapping, dict) or name not in mapping:
        raise RecordError(f"{where} has no {name!r}")
    value = mapping[name]
    if not isinstance(value, kind) or (isinstance(value, bool) and kind is int):
        raise RecordError(f"{where}.{name} is {value!r}, not a {getattr(kind, '__name__', kind)}")
    return value


def parse_utc(text: str, what: str) -> datetime.datetime:
    """An ISO 8601 UTC timestamp ending in Z (fractional seconds allowed)."""
    if not isinstance(text, str) or not text.endswith("Z"):
        raise RecordError(f"{what} {text!r} is not an ISO 8601 UTC time ending in Z")
    try:
        parsed = datetime.datetime.fromisoformat(text)
    except ValueError:
        raise RecordError(f"{what} {text!r} is not an ISO 8601 UTC time") from None
    return parsed


def parse_x_oss_date(text: str) -> datetime.datetime:
    if not X_OSS_DATE.match(text or ""):
        raise RecordError(f"x-oss-date {text!r} is not yyyymmddTHHMMSSZ")
    try:
        parsed = datetime.datetime.strptime(text, "%Y%m%dT%H%M%SZ")
    except ValueError:
        raise RecordError(f"x-oss-date {text!r} is not a valid time") from None
    return parsed.replace(tzinfo=datetime.timezone.utc)


def unquote_strict(text: str, what: str) -> str:
    """RFC 3986 percent-decoding ('+' stays '+'), rejecting bytes that are not UTF-8."""
    try:
        return urllib.parse.unquote(text, errors="strict")
    except UnicodeDecodeError:
        raise RecordError(f"{what} {text!r} does not percent-decode to UTF-8") from None


def parse_query(query: str, what: str) -> Dict[str, str]:
    """Decoded query parameters; a bare name and 'name=' both mean the empty value."""
    params: Dict[str, str] = {}
    for pair in query.split("&") if query else []:
        raw_name, _, raw_value = pair.partition("=")
        name = unquote_strict(raw_name, f"{what} query name")
        if name in params:
            raise RecordError(f"{what} has query parameter {name!r} twice")
        params[name] = unquote_strict(raw_value, f"{what} query value")
    return params


def short(value: str, limit: int = 100) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 5] + "...'"


def v4_signing_key(secret: str, date: str, region: str, product: str = PRODUCT) -> bytes:
    """ALGORITHMS.md section 3, written independently of both SDKs."""
    key = ("aliyun_v4" + secret).encode()
    for part in (date, region, product, "aliyun_v4_request"):
        key = hmac.new(key, part.encode(), hashlib.sha256).digest()
    return key


# ---------------------------------------------------------------------------------------------
# the oracles


@contextlib.contextmanager
def pinned_oss2_clock(signing_time: datetime.datetime):
    """Freeze the two clocks oss2/auth.py reads: time.time() (V1) and datetime.utcnow() (V4)."""
    naive_utc = signing_time.astimezone(datetime.timezone.utc).replace(tzinfo=None)

    class FrozenDatetime(datetime.datetime):
        @classmethod
        def utcnow(cls):
            return naive_utc

    frozen_time = types.SimpleNamespace(time=signing_time.timestamp)
    with mock.patch.object(oss2.auth, "time", frozen_time), \
            mock.patch.object(oss2.auth, "datetime", FrozenDatetime):
        yield


def presign_with_oss2(inp: PresignInput) -> str:
    provider = oss2.credentials.StaticCredentialsProvider(
        inp.access_key_id, inp.access_key_secret, inp.security_token or "")
    if inp.version == "v4":
        auth = oss2.ProviderAuthV4(provider)
    else:
        auth = oss2.ProviderAuth(provider)
    bucket = oss2.Bucket(auth, f"https://oss-{inp.region}.aliyuncs.com", inp.bucket,
                         region=inp.region, is_verify_object_strict=False)
    extra = {"additional_headers": list(inp.additional_headers)} if inp.additional_headers else {}
    if not inp.key:
        return presign_bucket_with_oss2(bucket, auth, inp)
    with pinned_oss2_clock(inp.signing_time):
        return bucket.sign_url(inp.method, inp.key, inp.expires_in, headers=dict(inp.headers),
                               params=dict(inp.params), slash_safe=True, **extra)


def presign_bucket_with_oss2(bucket, auth, inp: PresignInput) -> str:
    """A bucket-level request (a listing: GET /?list-type=2&prefix=...). Bucket.sign_url refuses
    an empty key (ALGORITHMS.md section 5, 7), so the request is built as sign_url builds it and
    signed by the same auth's _sign_url, with the bucket and an empty key."""
    req = oss2.http.Request(inp.method, bucket._make_url(inp.bucket, "", True),
                            headers=dict(inp.headers), params=dict(inp.params),
                            region=inp.region, product=bucket.product,
                            cloudbox_id=bucket.cloudbox_id)
    with pinned_oss2_clock(inp.signing_time):
        if inp.additional_headers:
            return auth._sign_url(req, inp.bucket, "", inp.expires_in,
                                  in_additional_headers=list(inp.additional_headers))
        return auth._sign_url(req, inp.bucket, "", inp.expires_in)


class PinnedSignerV4(SignerV4):
    """oss-v2's SignerV4, signing at a fixed time with the given additional headers."""

    def __init__(self, signing_time: datetime.datetime, additional_headers: Tuple[str, ...]):
        self._signing_time = signing_time
        self._additional_headers = additional_headers

    def sign(self, signing_ctx: oss.SigningContext) -> None:
        signing_ctx.signing_time = self._signing_time
        if self._additional_headers:
            signing_ctx.additional_headers = set(self._additional_headers)
        super().sign(signing_ctx)


class PinnedSignerV1(SignerV1):
    """oss-v2's SignerV1, signing at a fixed time (V1 URLs only depend on the expiration)."""

    def __init__(self, signing_time: datetime.datetime):
        self._signing_time = signing_time

    def sign(self, signing_ctx: oss.SigningContext) -> None:
        signing_ctx.signing_time = self._signing_time
        super().sign(signing_ctx)


def oss_v2_signer(inp: PresignInput):
    if inp.version == "v4":
        return PinnedSignerV4(inp.signing_time, inp.additional_headers)
    return PinnedSignerV1(inp.signing_time)


def oss_v2_presign_request(inp: PresignInput):
    """The Client.presign request model for this verb, or None if presign cannot express it."""
    params = dict(inp.params)
    typed: Dict[str, str] = {}
    if not inp.key:
        return None  # a bucket-level request (a listing): every presign model needs a key
    if inp.method == "GET":
        model = oss.GetObjectRequest
    elif inp.method == "HEAD":
        model = oss.HeadObjectRequest
    elif inp.method == "PUT" and "uploadId" in params and "partNumber" in params:
        model = oss.UploadPartRequest
        typed = {"upload_id": params.pop("uploadId"), "part_number": params.pop("partNumber")}
    elif inp.method == "PUT":
        model = oss.PutObjectRequest
    elif inp.method == "POST" and params.get("uploads") == "" and "uploadId" not in params:
        model = oss.InitiateMultipartUploadRequest  # presign adds ?uploads itself
        del params["uploads"]
    elif inp.method == "POST" and "uploadId" in params:
        model = oss.CompleteMultipartUploadRequest
        typed = {"upload_id": params.pop("uploadId")}
    elif inp.method == "DELETE" and "uploadId" in params:
        model = oss.AbortMultipartUploadRequest
        typed = {"upload_id": params.pop("uploadId")}
    else:
        return None
    return model(bucket=inp.bucket, key=inp.key, headers=dict(inp.headers), parameters=params,
                 **typed)


def presign_with_oss_v2(inp: PresignInput) -> Tuple[str, str]:
    """(presigned URL, which oss-v2 API made it)."""
    credentials = oss.credentials.StaticCredentialsProvider(
        inp.access_key_id, inp.access_key_secret, inp.security_token)
    request = oss_v2_presign_request(inp)
    if request is not None:
        config = oss.config.load_default()
        config.region = inp.region
        config.signature_version = inp.version
        config.credentials_provider = credentials
        client = oss.Client(config, signer=oss_v2_signer(inp))
        result = client.presign(request, expiration=inp.expiration)
        if result.method != inp.method:
            raise RecordError(f"oss-v2 presign made a {result.method}, not a {inp.method}")
        return result.url, f"Client.presign({type(request).__name__})"

    # Not a presign operation (e.g. DeleteObject): sign a request like Client would build it.
    url = (f"https://{inp.bucket}.oss-{inp.region}.aliyuncs.com/"
           f"{urllib.parse.quote(inp.key)}")
    if inp.params:
        url += "?" + urllib.parse.urlencode(inp.params, quote_via=urllib.parse.quote)
    http_request = oss.HttpRequest(method=inp.method, url=url, headers=dict(inp.headers))
    context = oss.SigningContext(
        product=PRODUCT, region=inp.region, bucket=inp.bucket, key=inp.key or None,
        request=http_request,
        credentials=credentials.get_credentials(),
    )
    context.auth_method_query = True
    context.expiration_time = inp.expiration
    signer = oss_v2_signer(inp)
    signer.sign(context)
    return http_request.url, f"{type(signer).__bases__[0].__name__}+SigningContext"


# ---------------------------------------------------------------------------------------------
# URL records


def check_url_syntax(url: str) -> List[str]:
    problems = []
    if "+" in url:
        problems.append("URL contains a raw '+' (must be %2B)")
    if not URL_CHARS.match(url.replace("+", "")):
        bad = sorted({c for c in url if c not in "+%" and not URL_CHARS.match(c)})
        escapes = re.findall(r"%(?![0-9A-Fa-f]{2}).{0,2}", url)
        problems.append(f"URL is not RFC 3986 percent-encoded (raw {''.join(bad)!r},"
                        f" bad escapes {escapes})")
    return problems


def check_url_path(parts: urllib.parse.SplitResult, bucket: str, key: str) -> List[str]:
    """The URL must address the record's object: virtual-hosted, path-style or CNAME."""
    path = unquote_strict(parts.path, "URL path")
    host = (parts.hostname or "").lower()
    if host.startswith(bucket.lower() + "."):
        allowed = ["/" + key]
    else:
        allowed = ["/" + key, f"/{bucket}/{key}"]
    if path not in allowed:
        return [f"URL path decodes to {short(path)}, which does not address bucket {bucket!r}"
                f" key {short(key)}"]
    return []


def url_presign_input(record: dict, answer: dict, params: Dict[str, str],
                      netloc: str) -> Tuple[PresignInput, List[str]]:
    """The oracles' input, taken from the record (and the URL only for the signing time)."""
    version = record["signature_version"]
    problems = []
    expires_in = field(answer, "ExpiresIn", int, "answer")
    headers = answer.get("Headers") or {}
    if not isinstance(headers, dict) or not all(
            isinstance(k, str) and isinstance(v, str) for k, v in headers.items()):
        raise RecordError(f"answer.Headers {headers!r} is not an object of strings")
    for name, value in headers.items():
        if value != value.strip():
            problems.append(f"header {name} value {value!r} has surrounding blanks")

    foreign = [n for n in SIGNER_PARAMS["v1" if version == "v4" else "v4"] if n in params]
    if foreign:
        problems.append(f"{version} URL carries {foreign} of the other signature version")

    if version == "v4":
        signing_time = parse_x_oss_date(params.get("x-oss-date", ""))
        if not 1 <= expires_in <= V4_MAX_EXPIRES:
            problems.append(f"ExpiresIn {expires_in} is outside 1..{V4_MAX_EXPIRES} for V4")
        listed = params.get("x-oss-additional-headers", "")
        additional = tuple(h for h in listed.split(";") if h)
    else:
        expires_text = params.get("Expires", "")
        if not expires_text.isdigit():
            raise RecordError(f"V1 URL Expires {expires_text!r} is not unix seconds")
        if expires_in <= 0:
            problems.append(f"ExpiresIn {expires_in} is not positive")
        signing_time = datetime.datetime.fromtimestamp(
            int(expires_text) - expires_in, datetime.timezone.utc)
        additional = ()

    lower_names = {k.lower() for k in headers}
    if "host" in additional and "host" not in lower_names:
        headers = {**headers, "Host": netloc}  # the client sends the URL's host anyway
    missing = [h for h in additional if h not in lower_names | {"host"}]
    if missing:
        problems.append(f"x-oss-additional-headers signs {missing} but answer.Headers lacks them")

    token = record.get("security_token") or None
    inp = PresignInput(
        version=version,
        method=answer["Method"],
        bucket=record["bucket"],
        key=record["key"],
        region=record["region"],
        access_key_id=record["access_key_id"],
        access_key_secret=record["access_key_secret"],
        security_token=token,
        signing_time=signing_time,
        expires_in=expires_in,
        headers=dict(headers),
        params={k: v for k, v in params.items() if k not in SIGNER_PARAMS[version]},
        additional_headers=additional,
    )
    return inp, problems


def compare_with_oracle(oracle: str, version: str, url_params: Dict[str, str],
                        oracle_url: str) -> List[str]:
    oracle_params = parse_query(urllib.parse.urlsplit(oracle_url).query, f"{oracle} URL")
    signature = SIGNATURE_PARAM[version]
    problems = []
    mine, theirs = url_params.get(signature), oracle_params.get(signature)
    if mine != theirs:
        problems.append(f"{oracle}: {signature} {short(mine)} != {oracle}'s {short(theirs)}")
    for name in sorted(set(url_params) | set(oracle_params) - {signature}):
        if name == signature:
            continue
        if name not in oracle_params:
            problems.append(f"{oracle}: URL has {name}={short(url_params[name])},"
                            f" which {oracle} does not produce")
        elif name not in url_params:
            problems.append(f"{oracle}: URL lacks {name}={short(oracle_params[name])},"
                            f" which {oracle} signs")
        elif url_params[name] != oracle_params[name]:
            problems.append(f"{oracle}: {name} is {short(url_params[name])} in the URL but"
                            f" {short(oracle_params[name])} from {oracle}")
    return problems


def verify_url_record(record: dict, answer: dict, agree: List[str], tally: Dict[str, int]
                      ) -> List[str]:
    version = record["signature_version"]
    url = field(answer, "URL", str, "answer")
    method = field(answer, "Method", str, "answer")
    if method not in HTTP_METHODS:
        raise RecordError(f"answer.Method {method!r} is not one of {HTTP_METHODS}")
    parts = urllib.parse.urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname or parts.fragment:
        raise RecordError(f"answer.URL {short(url)} is not an http(s) URL without fragment")

    problems = check_url_syntax(url)
    problems += check_url_path(parts, record["bucket"], record["key"])
    params = parse_query(parts.query, "URL")
    if SIGNATURE_PARAM[version] not in params:
        raise RecordError(f"URL has no {SIGNATURE_PARAM[version]}")
    inp, input_problems = url_presign_input(record, answer, params, parts.netloc)
    problems += input_problems
    if not inp.key and (inp.method, inp.params.get("list-type")) != ("GET", "2"):
        problems.append(f"a bucket-level {inp.method} with {sorted(inp.params)} is not a"
                        " ListObjectsV2 listing (GET, list-type=2)")
    if not inp.key and "prefix" not in inp.params:
        problems.append("a bucket-level listing without a prefix lists the whole bucket")

    expiration = parse_utc(field(answer, "Expiration", str, "answer"), "answer.Expiration")
    if expiration != inp.expiration:
        problems.append(f"answer.Expiration {answer['Expiration']} is not signing time + ExpiresIn"
                        f" ({inp.expiration:%Y-%m-%dT%H:%M:%SZ})")

    for oracle in agree:
        try:
            if oracle == "oss2":
                oracle_url = presign_with_oss2(inp)
                api = "oss2 Bucket.sign_url" if inp.key else "oss2 auth._sign_url (bucket)"
            else:
                oracle_url, api = presign_with_oss_v2(inp)
                api = "oss-v2 " + api
        except Exception as err:  # an oracle refusing the input is a failure of this record
            problems.append(f"{oracle} refused to presign: {type(err).__name__}: {err}")
            continue
        tally[api] = tally.get(api, 0) + 1
        problems += compare_with_oracle(oracle, version, params, oracle_url)
    return problems


# ---------------------------------------------------------------------------------------------
# PostObject records


def policy_conditions(conditions: list) -> Tuple[List[Tuple[str, str, object]], List[str]]:
    """[(op, lower-case field name, value)]; content-length-range gives (op, '', (min, max))."""
    parsed, problems = [], []
    for item in conditions:
        if isinstance(item, dict) and len(item) == 1:
            (name, value), = item.items()
            parsed.append(("eq", name.lower(), value))
        elif isinstance(item, list) and item and item[0] == "content-length-range":
            bounds = item[1:]
            if (len(bounds) != 2 or not all(type(b) is int for b in bounds)
                    or not 0 <= bounds[0] <= bounds[1]):
                problems.append(f"bad content-length-range condition {item!r}")
            parsed.append(("content-length-range", "", tuple(bounds)))
        elif (isinstance(item, list) and len(item) == 3 and item[0] in POST_OPS
              and isinstance(item[1], str) and item[1].startswith("$")):
            op, name, value = item
            if op in ("in", "not-in") and not isinstance(value, list):
                problems.append(f"condition {item!r} needs a list of values")
            parsed.append((op, name[1:].lower(), value))
        else:
            problems.append(f"unsupported policy condition {item!r}")
    return parsed, problems


def condition_holds(op: str, actual: str, value) -> bool:
    if op == "eq":
        return actual == value
    if op == "starts-with":
        return isinstance(value, str) and actual.startswith(value)
    if op == "in":
        return isinstance(value, list) and actual in value
    return isinstance(value, list) and actual not in value  # not-in


def check_policy(policy: dict, record: dict, fields: Dict[str, str], answer: dict,
                 signed_at: Optional[datetime.datetime]) -> List[str]:
    problems = []
    expiration = parse_utc(policy.get("expiration"), "policy expiration")
    if "Expiration" in answer:
        answered = parse_utc(answer["Expiration"], "answer.Expiration")
        if answered != expiration:
            problems.append(f"answer.Expiration {answer['Expiration']} != policy expiration"
                            f" {policy['expiration']}")
    if signed_at is not None:
        lifetime = (expiration - signed_at).total_seconds()
        if not 0 < lifetime <= V4_MAX_EXPIRES:
            problems.append(f"policy expires {lifetime:.0f}s after x-oss-date (allowed 1..7 days)")
        if isinstance(answer.get("ExpiresIn"), int) and answer["ExpiresIn"] != lifetime:
            problems.append(f"ExpiresIn {answer['ExpiresIn']} != policy lifetime {lifetime:.0f}s")

    if not isinstance(policy.get("conditions"), list):
        return problems + ["policy has no conditions list"]
    conditions, condition_problems = policy_conditions(policy["conditions"])
    problems += condition_problems

    ci_fields = {name.lower(): value for name, value in fields.items()}
    for op, name, value in conditions:
        if op == "content-length-range":
            continue
        actual = record["bucket"] if name == "bucket" else ci_fields.get(name)
        if actual is None:
            problems.append(f"policy condition on {name!r} but Fields has no such field")
        elif not condition_holds(op, actual, value):
            problems.append(f"Fields {name}={short(actual)} violates policy [{op}, {short(value)}]")

    def has(op_names, name, value=None):
        return any(op in op_names and n == name and (value is None or v == value)
                   for op, n, v in conditions)

    if not has(("eq",), "bucket", record["bucket"]):
        problems.append(f"policy has no {{'bucket': {record['bucket']!r}}} condition")
    if not has(("eq", "starts-with"), "key"):
        problems.append("policy has no key condition (eq or starts-with $key)")
    if not has(("content-length-range",), ""):
        problems.append("policy has no content-length-range condition")
    required = {}
    if record["signature_version"] == "v4":
        required = {"x-oss-signature-version": V4_ALGORITHM,
                    "x-oss-credential": ci_fields.get("x-oss-credential"),
                    "x-oss-date": ci_fields.get("x-oss-date")}
        if record.get("security_token"):
            required["x-oss-security-token"] = record["security_token"]
    for name, value in required.items():
        if not has(("eq",), name, value):
            problems.append(f"policy lacks the condition {{{name!r}: {short(value)}}}")
    return problems


def verify_post_record(record: dict, answer: dict, agree: List[str]) -> List[str]:
    version = record["signature_version"]
    if "oss2" in agree:
        raise RecordError("agree lists oss2, which has no PostObject policy signer")
    if field(answer, "Method", str, "answer") != "POST":
        raise RecordError(f"answer.Method {answer['Method']!r} is not POST")
    fields = field(answer, "Fields", dict, "answer")
    if not all(isinstance(k, str) and isinstance(v, str) for k, v in fields.items()):
        raise RecordError("answer.Fields is not an object of strings")
    if len({k.lower() for k in fields}) != len(fields):
        raise RecordError("answer.Fields repeats a field name (OSS compares them case-insensitively)")
    url = field(answer, "URL", str, "answer")
    parts = urllib.parse.urlsplit(url)
    bucket = record["bucket"]
    paths = ("/",) if (parts.hostname or "").startswith(bucket + ".") else (
        "/", f"/{bucket}", f"/{bucket}/")
    problems = check_url_syntax(url)
    if parts.scheme not in ("http", "https") or parts.query or parts.path not in paths:
        problems.append(f"answer.URL {short(url)} is not a bucket URL for a POST form")
    if "key" not in fields:
        problems.append("Fields has no key")

    policy_b64 = field(fields, "policy", str, "Fields")
    try:
        policy = json.loads(base64.b64decode(policy_b64, validate=True).decode("utf-8"))
    except (binascii.Error, UnicodeDecodeError, ValueError) as err:
        raise RecordError(f"Fields.policy is not base64 of UTF-8 JSON: {err}") from None
    if not isinstance(policy, dict):
        raise RecordError("decoded policy is not a JSON object")

    secret, token = record["access_key_secret"], record.get("security_token") or None
    if fields.get("x-oss-security-token") != token:
        problems.append(f"Fields x-oss-security-token is {short(fields.get('x-oss-security-token'))},"
                        f" expected {short(token)}")
    signed_at = None
    if version == "v4":
        signature_name = "x-oss-signature"
        signed_at = parse_x_oss_date(field(fields, "x-oss-date", str, "Fields"))
        date = fields["x-oss-date"][:8]
        credential = f"{record['access_key_id']}/{date}/{record['region']}/{PRODUCT}/aliyun_v4_request"
        for name, expected in (("x-oss-signature-version", V4_ALGORITHM),
                               ("x-oss-credential", credential)):
            if fields.get(name) != expected:
                problems.append(f"Fields {name} is {short(fields.get(name))}, expected {short(expected)}")
        expected_by = {
            "oss-v2 SignerV4._calc_signature": SignerV4()._calc_signature(
                access_key_secrect=secret, date=date, region=record["region"], product=PRODUCT,
                string_to_sign=policy_b64),
            "stdlib hmac": hmac.new(v4_signing_key(secret, date, record["region"]),
                                    policy_b64.encode(), hashlib.sha256).hexdigest(),
        }
    else:
        signature_name = "Signature"
        if fields.get("OSSAccessKeyId") != record["access_key_id"]:
            problems.append(f"Fields OSSAccessKeyId is {short(fields.get('OSSAccessKeyId'))},"
                            f" expected {record['access_key_id']!r}")
        expected_by = {
            "oss-v2 SignerV1._calc_signature": SignerV1()._calc_signature(
                access_key_secrect=secret, string_to_sign=policy_b64),
            "stdlib hmac": base64.b64encode(hmac.new(secret.encode(), policy_b64.encode(),
                                                     hashlib.sha1).digest()).decode(),
        }
    signature = fields.get(signature_name)
    for computed_by, expected in expected_by.items():
        if signature != expected:
            problems.append(f"Fields {signature_name} {short(signature)} != {computed_by}'s"
                            f" {expected!r}")
    foreign = [n for n in POST_FOREIGN_FIELDS[version] if n in fields]
    if foreign:
        problems.append(f"{version} form carries {foreign} of the other signature version")
    return problems + check_policy(policy, record, fields, answer, signed_at)


# ---------------------------------------------------------------------------------------------
# driver


def verify_record(record: dict, tally: Dict[str, int]) -> List[str]:
    """Problems found in one record; empty means it passed."""
    if not isinstance(record, dict):
        raise RecordError("line is not a JSON object")
    kind = field(record, "kind", str)
    version = field(record, "signature_version", str)
    if kind not in ("url", "post") or version not in ("v1", "v4"):
        raise RecordError(f"unsupported kind {kind!r} / signature_version {version!r}")
    for name in ("access_key_id", "access_key_secret", "region", "bucket", "key"):
        field(record, name, str)
    if record.get("security_token") is not None:
        field(record, "security_token", str)
    agree = field(record, "agree", list)
    if not agree or not set(agree) <= set(ORACLES) or len(set(agree)) != len(agree):
        raise RecordError(f"agree {agree!r} must list some of {ORACLES}, each once")
    answer = field(record, "answer", dict)
    if answer.get("StatusCode") != 200:
        raise RecordError(f"answer.StatusCode is {answer.get('StatusCode')!r}, not 200")
    if kind == "url":
        return verify_url_record(record, answer, agree, tally)
    api = f"post: oss-v2 Signer{version.upper()}._calc_signature + stdlib hmac"
    tally[api] = tally.get(api, 0) + 1
    return verify_post_record(record, answer, agree)


def read_lines(path: str) -> Optional[List[Tuple[int, str]]]:
    """(line number, text) of every non-blank line; None if the file cannot be read."""
    try:
        with open(path, encoding="utf-8") as f:
            return [(number, line) for number, line in enumerate(f, 1) if line.strip()]
    except (OSError, UnicodeDecodeError) as err:
        print(f"FAIL cannot read {path}: {err}")
        return None


def main(path: str) -> int:
    lines = read_lines(path)
    passed = failed = 0
    if lines is None:
        lines, failed = [], 1
    elif not lines:
        print(f"FAIL {path}: no records, so nothing was checked")
        failed = 1
    tally: Dict[str, int] = {}
    for number, line in lines:
        name = f"line {number}"
        try:
            record = json.loads(line)
            if isinstance(record, dict) and isinstance(record.get("case"), str):
                name = f"{record['case']} (line {number})"
            problems = verify_record(record, tally)
        except (RecordError, json.JSONDecodeError) as err:
            problems = [str(err)]
        except Exception as err:  # a crash on one record must not hide the others
            problems = [f"unexpected {type(err).__name__}: {err}"]
        if problems:
            failed += 1
            print(f"FAIL {name}: " + "; ".join(problems))
        else:
            passed += 1
    if tally:
        print("checked with: " + ", ".join(f"{api} x{n}" for api, n in sorted(tally.items())))
    print("presigned URLs and form policies checked with oss2 and alibabacloud-oss-v2")
    print(f"oss-sdks: {passed} passed, {failed} failed")
    return 1 if failed or not passed else 0


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    sys.exit(main(sys.argv[1]))
