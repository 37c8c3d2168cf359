"""Verifies the S3 presigned URLs and browser POST-policy forms that presign-url (PROVIDER=aws)
returned, with botocore as the oracle.

Input: JSON lines, one record per answer the function gave:
  {"case", "kind": "url"|"post", "access_key_id", "secret_access_key", "session_token" (or null),
   "region", "bucket", "key", "answer", "note"?}
answer (url):  {"StatusCode": 200, "Method", "URL", "Headers"?, "Expiration", "ExpiresIn"}
answer (post): {"StatusCode": 200, "Method": "POST", "URL", "Fields", "Expiration", "ExpiresIn"}

What it proves, for every record:
* kind "url": botocore regenerates the same presigned request. The request is the URL exactly as
  given (scheme, authority, path as encoded; its query minus the seven signer parameters
  X-Amz-Algorithm/-Credential/-Date/-Expires/-SignedHeaders/-Security-Token/-Signature, i.e.
  the request's own parameters such as uploads, uploadId, partNumber, response-*) with
  answer.Headers as the headers the client sends. It is signed with
  `botocore.auth.S3SigV4QueryAuth(Credentials(ak, sk, token), "s3", region,
  expires=X-Amz-Expires).add_auth(AWSRequest(...))`, and the resulting URL must carry the same
  X-Amz-Signature and the same set of query parameters (names and percent-decoded values), so
  X-Amz-Credential (scope), X-Amz-Date, X-Amz-SignedHeaders (host + every answer header) and
  X-Amz-Security-Token too. Also checked: the URL is RFC 3986 percent-encoded without raw '+',
  its path is the single URI encoding of what it decodes to (botocore's own key encoding,
  percent_encode(path, safe='/~')) and addresses bucket/key (virtual-hosted or path-style), the
  Host botocore derives is the URL's authority, X-Amz-Expires is 1..604800 and equals ExpiresIn,
  and Expiration = X-Amz-Date + ExpiresIn. A record whose key is "" is a bucket-level request,
  which must be presign-url's listing: a GET with list-type=2 and a prefix (ListObjectsV2),
  signed like any other request.
* kind "post": x-amz-signature = hex(HMAC-SHA256(SigV4 signing key of x-amz-date's day, region,
  "s3"), base64 policy text exactly as sent), computed twice: by botocore (S3SigV4PostAuth, clock
  pinned, whose inherited SigV4Auth.signature() signs the same policy text) and independently
  with stdlib hmac. The fields S3SigV4PostAuth produces (x-amz-algorithm, x-amz-credential,
  x-amz-date, x-amz-security-token) must equal Fields. The decoded policy must have an ISO 8601
  UTC expiration equal (to the second) to answer.Expiration and to x-amz-date + ExpiresIn, a
  {"bucket": bucket} condition, a key condition consistent with Fields.key (exact, or
  ["starts-with", "$key", prefix] with Fields.key = prefix + "${filename}"), a
  content-length-range, equality conditions for the x-amz-* signer fields equal to Fields, every
  field a condition names present in Fields (names case-insensitive) with a value satisfying it,
  and (S3's rule) every form field except policy/x-amz-signature/file/x-ignore-* named by a
  condition.

How the clock is pinned: botocore 1.44's auth.py does `from botocore.compat import
get_current_datetime` and every signer's add_auth (SigV4Auth, hence SigV4QueryAuth and
S3SigV4QueryAuth, and S3SigV4PostAuth) calls that module-level name once:
`datetime_now = get_current_datetime()` -> request.context['timestamp']. For each signing,
`botocore.auth.get_current_datetime` is replaced (unittest.mock.patch.object) by a function
returning the record's X-Amz-Date as a naive UTC datetime. The X-Amz-Date botocore then writes is
compared too, so a botocore that read another clock would show up as a failure.

Before the records, the primitives are checked on AWS's published POST example
(sigv4-post-example.html, signature 8afdbf40...); a failure there counts as a failed record.
The published presigned-URL example (sigv4-query-string-auth.html) is in the self-test file.

Fails (exit 1) when the file is missing or empty or any record fails; prints one line per failed
record, then last `botocore: N passed, M failed`.

usage: verify_s3_presigned.py FILE.jsonl
       verify_s3_presigned.py --write-selftest FILE.jsonl   (regenerate the self-test records)
"""

import base64
import binascii
import contextlib
import dataclasses
import datetime
import hashlib
import hmac
import json
import pathlib
import re
import sys
import urllib.parse
from typing import Dict, List, Optional, Tuple
from unittest import mock

import botocore
import botocore.auth
from botocore.auth import S3SigV4PostAuth, S3SigV4QueryAuth, SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from botocore.utils import percent_encode

ALGORITHM = "AWS4-HMAC-SHA256"
SERVICE = "s3"
MAX_EXPIRES = 7 * 24 * 3600
HTTP_METHODS = ("GET", "PUT", "HEAD", "DELETE", "POST")
# Query parameters the query signer adds; every other query parameter belongs to the request.
SIGNER_PARAMS = (
    "X-Amz-Algorithm", "X-Amz-Credential", "X-Amz-Date", "X-Amz-Expires",
    "X-Amz-SignedHeaders", "X-Amz-Security-Token", "X-Amz-Signature",
)
REQUIRED_SIGNER_PARAMS = tuple(p for p in SIGNER_PARAMS if p != "X-Amz-Security-Token")
# Form fields S3 does not require a policy condition for (sigv4-HTTPPOSTConstructPolicy.html).
POST_UNCONDITIONED_FIELDS = ("policy", "x-amz-signature", "file")
POST_SIGNER_FIELDS = ("x-amz-algorithm", "x-amz-credential", "x-amz-date", "x-amz-security-token")
# RFC 3986 unreserved + reserved characters, '%' only as %XX; '+' excluded on purpose.
URL_CHARS = re.compile(r"^(?:[A-Za-z0-9\-._~:/?#\[\]@!$&'()*,;=]|%[0-9A-Fa-f]{2})*$")
AMZ_DATE = re.compile(r"^\d{8}T\d{6}Z$")
AWS_HOST_REGION = re.compile(r"(?:^|\.)s3[.-](?:dualstack\.)?([a-z0-9-]+)\.amazonaws\.com$")


class RecordError(Exception):
    """A record cannot be checked any further; the message says why."""


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


def short(value, limit: int = 100) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 5] + "...'"


def parse_amz_date(text: str, what: str) -> datetime.datetime:
    """yyyymmddTHHMMSSZ as an aware UTC datetime."""
    if not isinstance(text, str) or not AMZ_DATE.match(text):
        raise RecordError(f"{what} {text!r} is not yyyymmddTHHMMSSZ")
    try:
        parsed = datetime.datetime.strptime(text, "%Y%m%dT%H%M%SZ")
    except ValueError:
        raise RecordError(f"{what} {text!r} is not a valid time") from None
    return parsed.replace(tzinfo=datetime.timezone.utc)


def parse_utc(text, what: str) -> datetime.datetime:
    """An ISO 8601 UTC timestamp ending in Z (fractional seconds allowed), as aware UTC."""
    if not isinstance(text, str) or not text.endswith("Z") or "T" not in text:
        raise RecordError(f"{what} {text!r} is not an ISO 8601 UTC time ending in Z")
    try:
        return datetime.datetime.fromisoformat(text[:-1] + "+00:00")
    except ValueError:
        raise RecordError(f"{what} {text!r} is not an ISO 8601 UTC time") from None


def to_second(moment: datetime.datetime) -> datetime.datetime:
    return moment.replace(microsecond=0)


def unquote_strict(text: str, what: str) -> str:
    """RFC 3986 percent-decoding ('+' stays '+'), rejecting bytes that are not UTF-8."""
    try:
        return urllib.parse.unquote(text, errors="strict")
    except UnicodeDecodeError:
        raise RecordError(f"{what} {text!r} does not percent-decode to UTF-8") from None


def parse_query(query: str, what: str) -> Dict[str, str]:
    """Decoded query parameters in order; a bare name and 'name=' both mean the empty value."""
    params: Dict[str, str] = {}
    for pair in query.split("&") if query else []:
        raw_name, _, raw_value = pair.partition("=")
        name = unquote_strict(raw_name, f"{what} query name")
        if name in params:
            raise RecordError(f"{what} has query parameter {name!r} twice")
        params[name] = unquote_strict(raw_value, f"{what} query value")
    return params


def signing_key(secret: str, date: str, region: str, service: str = SERVICE) -> bytes:
    """SigV4 signing key with stdlib hmac, written independently of botocore."""
    key = ("AWS4" + secret).encode()
    for part in (date, region, service, "aws4_request"):
        key = hmac.new(key, part.encode(), hashlib.sha256).digest()
    return key


def record_credentials(record: dict) -> Credentials:
    return Credentials(record["access_key_id"], record["secret_access_key"],
                       record.get("session_token"))


# ---------------------------------------------------------------------------------------------
# the oracle: botocore with its clock pinned


@contextlib.contextmanager
def pinned_botocore_clock(signing_time: datetime.datetime):
    """Make botocore.auth.get_current_datetime() (what every SigV4 add_auth reads) return
    signing_time, as a naive UTC datetime like the real one returns by default."""
    if not callable(getattr(botocore.auth, "get_current_datetime", None)):
        raise RuntimeError(f"botocore {botocore.__version__} auth.py has no get_current_datetime;"
                           " find where its signers read the clock and pin that instead")
    aware = signing_time.astimezone(datetime.timezone.utc)

    def frozen(remove_tzinfo=True):
        return aware.replace(tzinfo=None) if remove_tzinfo else aware

    with mock.patch.object(botocore.auth, "get_current_datetime", frozen):
        yield


def presign_with_botocore(record: dict, method: str, base_url: str, headers: Dict[str, str],
                          params: Dict[str, str], signing_time: datetime.datetime,
                          expires: int) -> str:
    """botocore's S3 presigned URL for this request, signed at signing_time."""
    request = AWSRequest(method=method, url=base_url, headers=dict(headers), params=dict(params))
    signer = S3SigV4QueryAuth(record_credentials(record), SERVICE, record["region"],
                              expires=expires)
    with pinned_botocore_clock(signing_time):
        signer.add_auth(request)
    return request.url


def botocore_post_signature(record: dict, policy_b64: str, conditions: list,
                            expiration: str, signing_time: datetime.datetime
                            ) -> Tuple[str, Dict[str, str], list]:
    """(signature of policy_b64, fields botocore's POST signer sets, conditions it appends).

    S3SigV4PostAuth.add_auth (clock pinned) makes the x-amz-* fields and conditions for this
    credential and time; its policy text is botocore's own json.dumps, so the signature of the
    text *as sent* comes from the same signer's signature() (inherited from SigV4Auth) with the
    request context add_auth filled in."""
    signer = S3SigV4PostAuth(record_credentials(record), SERVICE, record["region"])
    request = AWSRequest(method="POST", url="https://example.invalid/")
    request.context["s3-presign-post-fields"] = {}
    request.context["s3-presign-post-policy"] = {"expiration": expiration,
                                                 "conditions": list(conditions)}
    with pinned_botocore_clock(signing_time):
        signer.add_auth(request)
    fields = dict(request.context["s3-presign-post-fields"])
    appended = request.context["s3-presign-post-policy"]["conditions"][len(conditions):]
    assert isinstance(signer, SigV4Auth)
    return signer.signature(policy_b64, request), fields, appended


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
    """Single URI encoding of what the path decodes to, addressing bucket/key."""
    problems = []
    path = unquote_strict(parts.path, "URL path")
    single = percent_encode(path, safe="/~")
    if parts.path != single:
        problems.append(f"URL path {short(parts.path)} is not the single URI encoding of"
                        f" {short(path)} (expected {short(single)})")
    host = (parts.hostname or "").lower()
    allowed = [f"/{bucket}/{key}"]
    if host.startswith(bucket.lower() + ".") or host == bucket.lower():
        allowed.append("/" + key)
    if path not in allowed:
        problems.append(f"URL path decodes to {short(path)}, which does not address bucket"
                        f" {bucket!r} key {short(key)}")
    return problems


def check_host_region(parts: urllib.parse.SplitResult, region: str) -> List[str]:
    match = AWS_HOST_REGION.search((parts.hostname or "").lower())
    if match and match.group(1) != region:
        return [f"URL host {parts.hostname} is in region {match.group(1)}, record region is"
                f" {region!r}"]
    return []


def url_headers(answer: dict) -> Tuple[Dict[str, str], List[str]]:
    headers = answer.get("Headers") or {}
    if not isinstance(headers, dict) or not all(
            isinstance(k, str) and isinstance(v, str) for k, v in headers.items()):
        raise RecordError(f"answer.Headers {headers!r} is not an object of strings")
    problems = []
    lower = [k.lower() for k in headers]
    if len(set(lower)) != len(lower):
        problems.append(f"answer.Headers repeats a header name: {sorted(headers)}")
    for name, value in headers.items():
        if value != value.strip():
            problems.append(f"header {name} value {value!r} has surrounding blanks")
        if name.lower() in botocore.auth.SIGNED_HEADERS_BLACKLIST:
            problems.append(f"header {name} is one botocore never signs"
                            " (SIGNED_HEADERS_BLACKLIST); a client/proxy may change it")
    return headers, problems


def compare_params(url_params: Dict[str, str], oracle_params: Dict[str, str]) -> List[str]:
    problems = []
    mine, theirs = url_params.get("X-Amz-Signature"), oracle_params.get("X-Amz-Signature")
    if mine != theirs:
        problems.append(f"X-Amz-Signature {short(mine)} != botocore's {short(theirs)}")
    for name in sorted(set(url_params) | set(oracle_params)):
        if name == "X-Amz-Signature":
            continue
        if name not in oracle_params:
            problems.append(f"URL has {name}={short(url_params[name])}, which botocore does"
                            " not produce")
        elif name not in url_params:
            problems.append(f"URL lacks {name}={short(oracle_params[name])}, which botocore signs")
        elif url_params[name] != oracle_params[name]:
            problems.append(f"{name} is {short(url_params[name])} in the URL but"
                            f" {short(oracle_params[name])} from botocore")
    return problems


def verify_url_record(record: dict, answer: dict) -> List[str]:
    url = field(answer, "URL", str, "answer")
    method = field(answer, "Method", str, "answer")
    if method not in HTTP_METHODS:
        raise RecordError(f"answer.Method {method!r} is not one of {HTTP_METHODS}")
    parts = urllib.parse.urlsplit(url)
    if (parts.scheme not in ("http", "https") or not parts.hostname or parts.fragment
            or "@" in parts.netloc):
        raise RecordError(f"answer.URL {short(url)} is not an http(s) URL without"
                          " userinfo or fragment")

    problems = check_url_syntax(url)
    problems += check_url_path(parts, record["bucket"], record["key"])
    problems += check_host_region(parts, record["region"])
    params = parse_query(parts.query, "URL")
    missing = [p for p in REQUIRED_SIGNER_PARAMS if p not in params]
    if missing:
        raise RecordError(f"URL lacks {missing}")
    signing_time = parse_amz_date(params["X-Amz-Date"], "X-Amz-Date")
    if not params["X-Amz-Expires"].isdigit():
        raise RecordError(f"X-Amz-Expires {params['X-Amz-Expires']!r} is not whole seconds")
    expires = int(params["X-Amz-Expires"])
    if not 1 <= expires <= MAX_EXPIRES:
        problems.append(f"X-Amz-Expires {expires} is outside 1..{MAX_EXPIRES}")
    expires_in = field(answer, "ExpiresIn", int, "answer")
    if expires_in != expires:
        problems.append(f"answer.ExpiresIn {expires_in} != X-Amz-Expires {expires}")
    expiration = parse_utc(field(answer, "Expiration", str, "answer"), "answer.Expiration")
    expected_expiration = signing_time + datetime.timedelta(seconds=expires)
    if to_second(expiration) != expected_expiration:
        problems.append(f"answer.Expiration {answer['Expiration']} is not X-Amz-Date +"
                        f" X-Amz-Expires ({expected_expiration:%Y-%m-%dT%H:%M:%SZ})")

    headers, header_problems = url_headers(answer)
    problems += header_problems
    host_header = botocore.auth._host_from_url(url)
    if any(k.lower() == "host" for k in headers):
        problems.append("answer.Headers names Host; the Host is the URL's authority")
    elif host_header != parts.netloc:
        problems.append(f"botocore derives Host {host_header!r} from the URL, not its authority"
                        f" {parts.netloc!r} (upper case or an explicit default port)")

    request_params = {k: v for k, v in params.items() if k not in SIGNER_PARAMS}
    if not record["key"] and (method, request_params.get("list-type")) != ("GET", "2"):
        problems.append(f"a bucket-level {method} with {sorted(request_params)} is not a"
                        " ListObjectsV2 listing (GET, list-type=2)")
    if not record["key"] and "prefix" not in request_params:
        problems.append("a bucket-level listing without a prefix lists the whole bucket")
    base_url = urllib.parse.urlunsplit((parts.scheme, parts.netloc, parts.path, "", ""))
    try:
        oracle_url = presign_with_botocore(record, method, base_url, headers, request_params,
                                           signing_time, expires)
    except Exception as err:  # botocore refusing the input is a failure of this record
        return problems + [f"botocore refused to presign: {type(err).__name__}: {err}"]
    oracle_parts = urllib.parse.urlsplit(oracle_url)
    if (oracle_parts.netloc, oracle_parts.path) != (parts.netloc, parts.path):
        problems.append(f"botocore signed {oracle_parts.netloc}{oracle_parts.path}, not the"
                        f" URL's {parts.netloc}{parts.path}")
    oracle_params = parse_query(oracle_parts.query, "botocore URL")
    differences = compare_params(params, oracle_params)
    if differences and differences[0].startswith("X-Amz-Signature"):
        differences[0] += (f" (botocore signed {method} Host {host_header} path"
                           f" {short(parts.path, 60)} query {sorted(request_params)} headers"
                           f" {oracle_params.get('X-Amz-SignedHeaders')!r} for"
                           f" {oracle_params.get('X-Amz-Credential')!r})")
    return problems + differences


# ---------------------------------------------------------------------------------------------
# POST-policy records


def policy_conditions(conditions: list) -> Tuple[List[Tuple[str, str, object]], List[str]]:
    """[(op, lower-case field name, value)]; content-length-range gives (op, '', (min, max))."""
    parsed, problems = [], []
    for item in conditions:
        if isinstance(item, dict) and item:
            for name, value in item.items():
                if not isinstance(value, str):
                    problems.append(f"condition {item!r} has a non-string value")
                parsed.append(("eq", name.lower(), value))
        elif isinstance(item, list) and item and item[0] == "content-length-range":
            bounds = item[1:]
            if (len(bounds) != 2 or not all(type(b) is int for b in bounds)
                    or not 0 <= bounds[0] <= bounds[1]):
                problems.append(f"bad content-length-range condition {item!r}")
            parsed.append(("content-length-range", "", tuple(bounds)))
        elif (isinstance(item, list) and len(item) == 3 and item[0] in ("eq", "starts-with")
              and isinstance(item[1], str) and item[1].startswith("$")
              and isinstance(item[2], str)):
            op, name, value = item
            parsed.append((op, name[1:].lower(), value))
        else:
            problems.append(f"unsupported policy condition {item!r}")
    return parsed, problems


def condition_holds(op: str, actual: str, value) -> bool:
    if op == "eq":
        return actual == value
    return isinstance(value, str) and actual.startswith(value)  # starts-with


def check_key_condition(conditions, fields_key: Optional[str]) -> List[str]:
    key_conditions = [(op, v) for op, n, v in conditions if n == "key"]
    if not key_conditions:
        return ["policy has no key condition ({'key': ...} or ['starts-with', '$key', ...])"]
    problems = []
    for op, value in key_conditions:
        if op == "eq":
            if value != fields_key:
                problems.append(f"policy key condition {short(value)} != Fields.key"
                                f" {short(fields_key)}")
            elif "${filename}" in value:
                problems.append("exact key condition with ${filename}: S3 substitutes the"
                                " file name before checking, so the upload never matches")
        elif fields_key != value + "${filename}":
            problems.append(f"policy key starts-with {short(value)} but Fields.key is"
                            f" {short(fields_key)}, not that prefix + '${{filename}}'")
    return problems


def check_policy(policy: dict, record: dict, fields: Dict[str, str], answer: dict,
                 signed_at: datetime.datetime) -> List[str]:
    problems = []
    expiration = parse_utc(policy.get("expiration"), "policy expiration")
    answered = parse_utc(field(answer, "Expiration", str, "answer"), "answer.Expiration")
    if to_second(answered) != to_second(expiration):
        problems.append(f"answer.Expiration {answer['Expiration']} != policy expiration"
                        f" {policy['expiration']}")
    lifetime = (to_second(expiration) - signed_at).total_seconds()
    if lifetime <= 0:
        problems.append(f"policy expires {lifetime:.0f}s after x-amz-date")
    expires_in = field(answer, "ExpiresIn", int, "answer")
    if expires_in != lifetime:
        problems.append(f"answer.ExpiresIn {expires_in} != policy expiration - x-amz-date"
                        f" ({lifetime:.0f}s)")

    if not isinstance(policy.get("conditions"), list):
        return problems + ["policy has no conditions list"]
    conditions, condition_problems = policy_conditions(policy["conditions"])
    problems += condition_problems

    ci_fields = {name.lower(): value for name, value in fields.items()}
    for op, name, value in conditions:
        if op == "content-length-range" or name == "key":
            continue  # the key is checked by check_key_condition
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
    problems += check_key_condition(conditions, ci_fields.get("key"))
    if not has(("content-length-range",), ""):
        problems.append("policy has no content-length-range condition")
    for name in POST_SIGNER_FIELDS:
        if name in ci_fields and not has(("eq",), name, ci_fields[name]):
            problems.append(f"policy lacks the condition {{{name!r}: {short(ci_fields[name])}}}")
    named = {n for _, n, _ in conditions}
    extra = sorted(n for n in ci_fields if n not in named and n not in POST_UNCONDITIONED_FIELDS
                   and not n.startswith("x-ignore-"))
    if extra:
        problems.append(f"Fields {extra} have no policy condition (S3 rejects extra fields)")
    return problems


def check_post_url(url: str, bucket: str) -> List[str]:
    parts = urllib.parse.urlsplit(url)
    host = (parts.hostname or "").lower()
    paths = ("/", "") if host.startswith(bucket.lower() + ".") else (f"/{bucket}/", f"/{bucket}")
    problems = check_url_syntax(url)
    if (parts.scheme not in ("http", "https") or not host or parts.query or parts.fragment
            or parts.path not in paths):
        problems.append(f"answer.URL {short(url)} is not a bucket URL for a POST form")
    return problems


def verify_post_record(record: dict, answer: dict) -> List[str]:
    if field(answer, "Method", str, "answer") != "POST":
        raise RecordError(f"answer.Method {answer['Method']!r} is not POST")
    fields = field(answer, "Fields", dict, "answer")
    if not all(isinstance(k, str) and isinstance(v, str) for k, v in fields.items()):
        raise RecordError("answer.Fields is not an object of strings")
    ci_fields = {k.lower(): v for k, v in fields.items()}
    if len(ci_fields) != len(fields):
        raise RecordError("answer.Fields repeats a field name (S3 compares them case-insensitively)")
    problems = check_post_url(field(answer, "URL", str, "answer"), record["bucket"])
    for name in ("key", "policy", "x-amz-signature") + POST_SIGNER_FIELDS[:3]:
        if name not in ci_fields:
            problems.append(f"Fields has no {name}")
    if "success_action_status" in ci_fields and ci_fields["success_action_status"] not in (
            "200", "201", "204"):
        problems.append(f"success_action_status {ci_fields['success_action_status']!r} is not"
                        " 200, 201 or 204")

    policy_b64 = ci_fields.get("policy", "")
    try:
        policy = json.loads(base64.b64decode(policy_b64, validate=True).decode("utf-8"))
    except (binascii.Error, UnicodeDecodeError, ValueError) as err:
        raise RecordError(f"Fields.policy is not base64 of UTF-8 JSON: {err}") from None
    if not isinstance(policy, dict):
        raise RecordError("decoded policy is not a JSON object")
    amz_date = ci_fields.get("x-amz-date", "")
    signed_at = parse_amz_date(amz_date, "Fields x-amz-date")

    # Signature, twice: botocore's POST signer and stdlib hmac, over the policy text as sent.
    signer_names = set(POST_SIGNER_FIELDS)
    own_conditions = [c for c in policy.get("conditions") or []
                      if not (isinstance(c, dict) and len(c) == 1
                              and next(iter(c)).lower() in signer_names)]
    try:
        by_botocore, botocore_fields, appended = botocore_post_signature(
            record, policy_b64, own_conditions, str(policy.get("expiration")), signed_at)
    except Exception as err:
        return problems + [f"botocore refused to sign the policy: {type(err).__name__}: {err}"]
    by_stdlib = hmac.new(signing_key(record["secret_access_key"], amz_date[:8], record["region"]),
                         policy_b64.encode(), hashlib.sha256).hexdigest()
    signature = ci_fields.get("x-amz-signature")
    for computed_by, expected in (("botocore S3SigV4PostAuth", by_botocore),
                                  ("stdlib hmac", by_stdlib)):
        if signature != expected:
            problems.append(f"x-amz-signature {short(signature)} != {computed_by}'s {expected!r}")

    # The signer fields botocore sets (and their conditions) for this credential and time.
    for name in POST_SIGNER_FIELDS:
        mine, theirs = ci_fields.get(name), botocore_fields.get(name)
        if mine != theirs:
            problems.append(f"Fields {name} is {short(mine)}, botocore sets {short(theirs)}")
    conditions = policy.get("conditions") or []
    for condition in appended:
        if condition not in conditions:
            problems.append(f"policy lacks botocore's signer condition {short(condition)}")
    return problems + check_policy(policy, record, fields, answer, signed_at)


# ---------------------------------------------------------------------------------------------
# AWS's published POST example: are botocore's and the stdlib signature primitives right?

# AWS's published examples (sigv4-post-example.html, sigv4-query-string-auth.html) and the
# documentation key they use live with the other vectors.
AWS_DOC = json.loads((pathlib.Path(__file__).resolve().parents[2]
                      / "tests/vectors/aws_s3_doc_examples.json").read_text())
AWS_POST_EXAMPLE_POLICY = AWS_DOC["post"]["policy_base64"]  # (its policy text has CRLFs)
AWS_POST_EXAMPLE_SIGNATURE = AWS_DOC["post"]["signature"]
AWS_EXAMPLE_KEY = (AWS_DOC["access_key_id"], AWS_DOC["secret_access_key"])


def published_post_vector_problems() -> List[str]:
    record = {"access_key_id": AWS_EXAMPLE_KEY[0], "secret_access_key": AWS_EXAMPLE_KEY[1],
              "session_token": None, "region": "us-east-1"}
    signed_at = parse_amz_date(AWS_DOC["post"]["date"], "example x-amz-date")
    by_botocore, botocore_fields, _ = botocore_post_signature(
        record, AWS_POST_EXAMPLE_POLICY, [], "2015-12-30T12:00:00.000Z", signed_at)
    by_stdlib = hmac.new(signing_key(AWS_EXAMPLE_KEY[1], "20151229", "us-east-1"),
                         AWS_POST_EXAMPLE_POLICY.encode(), hashlib.sha256).hexdigest()
    problems = [f"{who} gives {got}, AWS publishes {AWS_POST_EXAMPLE_SIGNATURE}"
                for who, got in (("botocore", by_botocore), ("stdlib hmac", by_stdlib))
                if got != AWS_POST_EXAMPLE_SIGNATURE]
    credential = AWS_DOC["post"]["credential"]
    if botocore_fields.get("x-amz-credential") != credential:
        problems.append(f"botocore (clock pinned) sets x-amz-credential"
                        f" {botocore_fields.get('x-amz-credential')!r}, AWS has {credential!r}")
    return problems


# ---------------------------------------------------------------------------------------------
# driver


def verify_record(record: dict) -> List[str]:
    """Problems found in one record; empty means it passed."""
    if not isinstance(record, dict):
        raise RecordError("line is not a JSON object")
    kind = field(record, "kind", str)
    if kind not in ("url", "post"):
        raise RecordError(f"unsupported kind {kind!r}")
    for name in ("access_key_id", "secret_access_key", "region", "bucket", "key"):
        field(record, name, str)
    if record.get("session_token") is not None:
        field(record, "session_token", str)
    answer = field(record, "answer", dict)
    if answer.get("StatusCode") != 200:
        raise RecordError(f"answer.StatusCode is {answer.get('StatusCode')!r}, not 200")
    if kind == "url":
        return verify_url_record(record, answer)
    return verify_post_record(record, answer)


def read_lines(path: str) -> Optional[List[Tuple[int, str]]]:
    """(line number, text) of every non-blank line; None if the file cannot be read."""
    try:
        with open(path, encoding="utf-8") as f:
            return [(number, line) for number, line in enumerate(f, 1) if line.strip()]
    except (OSError, UnicodeDecodeError) as err:
        print(f"FAIL cannot read {path}: {err}")
        return None


def check_line(number: int, line: str) -> Tuple[str, List[str], str]:
    """(name for the report, problems, kind)."""
    name, kind = f"line {number}", "?"
    try:
        record = json.loads(line)
        if isinstance(record, dict):
            if isinstance(record.get("case"), str):
                name = f"{record['case']} (line {number})"
            kind = str(record.get("kind"))
        problems = verify_record(record)
    except (RecordError, json.JSONDecodeError) as err:
        problems = [str(err)]
    except Exception as err:  # a crash on one record must not hide the others
        problems = [f"unexpected {type(err).__name__}: {err}"]
    return name, problems, kind


def main(path: str) -> int:
    passed = failed = 0
    known_answer = published_post_vector_problems()
    if known_answer:
        failed += 1
        print("FAIL AWS sigv4-post-example known answer: " + "; ".join(known_answer))
    lines = read_lines(path)
    if lines is None:
        lines, failed = [], failed + 1
    elif not lines:
        print(f"FAIL {path}: no records, so nothing was checked")
        failed += 1
    kinds: Dict[str, int] = {}
    for number, line in lines:
        name, problems, kind = check_line(number, line)
        kinds[kind] = kinds.get(kind, 0) + 1
        if problems:
            failed += 1
            print(f"FAIL {name}: " + "; ".join(problems))
        else:
            passed += 1
    print(f"checked {kinds.get('url', 0)} url records with botocore {botocore.__version__}"
          f" S3SigV4QueryAuth and {kinds.get('post', 0)} post records with S3SigV4PostAuth +"
          " stdlib hmac (clock: botocore.auth.get_current_datetime pinned to X-Amz-Date)")
    print(f"botocore: {passed} passed, {failed} failed")
    return 1 if failed or not passed else 0


# ---------------------------------------------------------------------------------------------
# self-test generation (--write-selftest)
#
# The first record is AWS's published presigned-URL example, copied verbatim: its truth is
# external. Every other record is a SELF-CONSISTENCY check only: its URL/signature comes from the
# small stdlib SigV4 presigner below (written from the AWS spec, not from botocore), and it is
# written only if botocore, through verify_record, agrees with it. The stdlib presigner must first
# reproduce AWS's published example byte for byte.

AWS_URL_EXAMPLE = AWS_DOC["presigned_url"]["url"]
SELFTEST_NOTE = ("self-consistency only: URL signed by this script's stdlib SigV4 presigner"
                 " (--write-selftest), kept because botocore agreed")


@dataclasses.dataclass
class PresignSpec:
    """A hand-built request for the stdlib presigner."""

    case: str
    method: str
    origin: str  # scheme://authority
    bucket: str
    key: str
    path_style: bool
    params: List[Tuple[str, str]]
    headers: Dict[str, str]
    token: Optional[str]
    ak: str = "s3s-test-selftest-key"
    sk: str = "s3s-secret-key"
    region: str = "us-east-1"
    amz_date: str = "20261124T061500Z"
    expires: int = 900


def stdlib_presign(spec: PresignSpec) -> str:
    """SigV4 query signing with UNSIGNED-PAYLOAD and S3's single URI encoding, stdlib only."""
    enc = lambda s: urllib.parse.quote(s, safe="~")  # noqa: E731 - RFC 3986 unreserved kept
    path = urllib.parse.quote((f"/{spec.bucket}/" if spec.path_style else "/") + spec.key,
                              safe="/~")
    host = urllib.parse.urlsplit(spec.origin).netloc
    date = spec.amz_date[:8]
    scope = f"{date}/{spec.region}/{SERVICE}/aws4_request"
    headers = {"host": host, **{k.lower(): " ".join(v.split()) for k, v in spec.headers.items()}}
    signed = ";".join(sorted(headers))
    query = list(spec.params) + [
        ("X-Amz-Algorithm", ALGORITHM), ("X-Amz-Credential", f"{spec.ak}/{scope}"),
        ("X-Amz-Date", spec.amz_date), ("X-Amz-Expires", str(spec.expires)),
        ("X-Amz-SignedHeaders", signed)]
    if spec.token is not None:
        query.append(("X-Amz-Security-Token", spec.token))
    canonical_query = "&".join(f"{k}={v}" for k, v in sorted((enc(k), enc(v)) for k, v in query))
    canonical_headers = "".join(f"{n}:{headers[n]}\n" for n in sorted(headers))
    canonical_request = "\n".join([spec.method, path, canonical_query, canonical_headers, signed,
                                   "UNSIGNED-PAYLOAD"])
    string_to_sign = "\n".join([ALGORITHM, spec.amz_date, scope,
                                hashlib.sha256(canonical_request.encode()).hexdigest()])
    signature = hmac.new(signing_key(spec.sk, date, spec.region), string_to_sign.encode(),
                         hashlib.sha256).hexdigest()
    query.append(("X-Amz-Signature", signature))
    return spec.origin + path + "?" + "&".join(f"{enc(k)}={enc(v)}" for k, v in query)


def url_record(spec: PresignSpec, url: str, note: str) -> dict:
    start = parse_amz_date(spec.amz_date, "spec")
    expiration = start + datetime.timedelta(seconds=spec.expires)
    answer = {"StatusCode": 200, "Method": spec.method, "URL": url, "Headers": spec.headers,
              "Expiration": f"{expiration:%Y-%m-%dT%H:%M:%SZ}", "ExpiresIn": spec.expires}
    return {"case": spec.case, "kind": "url", "access_key_id": spec.ak,
            "secret_access_key": spec.sk, "session_token": spec.token, "region": spec.region,
            "bucket": spec.bucket, "key": spec.key, "answer": answer, "note": note}


def stdlib_post_record(case: str, key_field: str, key_condition, extra_fields: Dict[str, str],
                       extra_conditions: list, token: Optional[str]) -> dict:
    """A POST-policy form signed with stdlib hmac (policy JSON written by hand)."""
    ak, sk, region, amz_date, expires = "s3s-test-selftest-key", "s3s-secret-key", "us-east-1", \
        "20261124T061500Z", 900
    expiration = parse_amz_date(amz_date, "spec") + datetime.timedelta(seconds=expires)
    credential = f"{ak}/{amz_date[:8]}/{region}/{SERVICE}/aws4_request"
    signer = {"x-amz-algorithm": ALGORITHM, "x-amz-credential": credential,
              "x-amz-date": amz_date}
    if token is not None:
        signer["x-amz-security-token"] = token
    conditions = ([{"bucket": "examplebucket"}, key_condition] + extra_conditions
                  + [["content-length-range", 1, 10485760]]
                  + [{name: value} for name, value in signer.items()])
    policy = {"expiration": f"{expiration:%Y-%m-%dT%H:%M:%S.000Z}", "conditions": conditions}
    policy_b64 = base64.b64encode(json.dumps(policy, separators=(",", ":")).encode()).decode()
    signature = hmac.new(signing_key(sk, amz_date[:8], region), policy_b64.encode(),
                         hashlib.sha256).hexdigest()
    fields = {"key": key_field, **extra_fields, "policy": policy_b64, **signer,
              "x-amz-signature": signature}
    answer = {"StatusCode": 200, "Method": "POST", "URL": "http://127.0.0.1:8014/examplebucket/",
              "Fields": fields, "Expiration": f"{expiration:%Y-%m-%dT%H:%M:%SZ}",
              "ExpiresIn": expires}
    return {"case": case, "kind": "post", "access_key_id": ak, "secret_access_key": sk,
            "session_token": token, "region": region, "bucket": "examplebucket",
            "key": key_field.replace("${filename}", ""), "answer": answer,
            "note": SELFTEST_NOTE.replace("URL signed", "policy signed")}


def selftest_records() -> List[dict]:
    aws = PresignSpec("AWS S3 docs sigv4-query-string-auth example: GET examplebucket/test.txt",
                      "GET", "https://examplebucket.s3.amazonaws.com", "examplebucket",
                      "test.txt", False, [], {}, None, ak=AWS_EXAMPLE_KEY[0],
                      sk=AWS_EXAMPLE_KEY[1], amz_date="20130524T000000Z", expires=86400)
    if stdlib_presign(aws) != AWS_URL_EXAMPLE:
        raise SystemExit(f"stdlib presigner does not reproduce AWS's example:\n"
                         f"{stdlib_presign(aws)}")
    records = [url_record(aws, AWS_URL_EXAMPLE, "expected URL and X-Amz-Signature published by"
                          " AWS (AmazonS3/latest/API/sigv4-query-string-auth.html)")]
    local = "http://127.0.0.1:8014"
    token = "IQoJb3JpZ2luX2VjEPr//////////wEaCXVzLWVhc3QtMSJH+test/session=="
    specs = [
        PresignSpec("path-style GET with session token and response-* overrides", "GET", local,
                    "examplebucket", "reports/2026/q4 summary.pdf", True,
                    [("response-content-type", "application/pdf"),
                     ("response-content-disposition", 'attachment; filename="q4 report.pdf"')],
                    {}, token),
        PresignSpec("path-style PUT, key with space and '+', signed Content-Type", "PUT", local,
                    "examplebucket", "uploads/anonymous/a b+c.txt", True, [],
                    {"Content-Type": "image/png"}, None),
        PresignSpec("path-style PUT with token, unicode key, signed Content-Type/MD5/Length",
                    "PUT", local, "examplebucket", "uploads/u-42/été ~(1)!*'.jpg", True, [],
                    {"Content-Type": "image/jpeg", "Content-MD5": "1B2M2Y8AsgTpgAmY7PhCfg==",
                     "Content-Length": "1048576"}, token),
        PresignSpec("path-style POST ?uploads (CreateMultipartUpload, empty value)", "POST",
                    local, "examplebucket", "big/video.mp4", True, [("uploads", "")],
                    {"Content-Type": "video/mp4"}, token),
        PresignSpec("path-style PUT ?partNumber&uploadId (UploadPart) with Content-Length", "PUT",
                    local, "examplebucket", "big/video.mp4", True,
                    [("partNumber", "2"), ("uploadId", "VXBsb2FkIElE+/=.x~y")],
                    {"Content-Length": "5242880"}, None, expires=3600),
        PresignSpec("virtual-hosted eu-west-1 DELETE ?uploadId (AbortMultipartUpload)", "DELETE",
                    "https://examplebucket.s3.eu-west-1.amazonaws.com", "examplebucket",
                    "big/video.mp4", False, [("uploadId", "abc123")], {}, token,
                    region="eu-west-1", expires=604800),
        PresignSpec("https path-style custom host HEAD, 1-second expiry", "HEAD",
                    "https://minio.example.test", "examplebucket", "a/b/c.bin", True, [], {},
                    None, expires=1),
    ]
    records += [url_record(spec, stdlib_presign(spec), SELFTEST_NOTE) for spec in specs]
    records.append(stdlib_post_record(
        "POST form with session token, starts-with $key ${filename}, Content-Type",
        "uploads/anonymous/${filename}", ["starts-with", "$key", "uploads/anonymous/"],
        {"success_action_status": "201", "Content-Type": "image/png"},
        [{"success_action_status": "201"}, ["eq", "$Content-Type", "image/png"]], token))
    records.append(stdlib_post_record(
        "POST form without token, exact key", "uploads/fixed/report.csv",
        {"key": "uploads/fixed/report.csv"}, {"success_action_status": "204"},
        [{"success_action_status": "204"}], None))
    return records


def write_selftest(path: str) -> int:
    records = selftest_records()
    for record in records:
        problems = verify_record(record)
        if problems:  # botocore disagrees: do not write an unverified expectation
            print(f"botocore disagrees on {record['case']}: " + "; ".join(problems))
            return 1
    with open(path, "w", encoding="utf-8") as f:
        for record in records:
            f.write(json.dumps(record, ensure_ascii=False) + "\n")
    print(f"wrote {len(records)} records to {path} (botocore agreed on all)")
    return 0


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "--write-selftest":
        sys.exit(write_selftest(sys.argv[2]))
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    sys.exit(main(sys.argv[1]))
