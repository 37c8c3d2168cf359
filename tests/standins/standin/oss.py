"""A local stand-in for Alibaba Cloud OSS, for stsvend's tests and playground: NOT OSS.

It serves one region's buckets on 127.0.0.1, path-style only (`/<bucket>/<key>`; bucket-level
requests at `/<bucket>/` or `/<bucket>`), with stdlib `http.server`, and checks everything it
receives as OSS would, answering refusals with OSS's XML error body, status and code:

* Every request is signed (the buckets are private; unsigned is 403 AccessDenied): URL
  signatures V1/V4 and `Authorization` headers V1/V4 are recomputed with the official `oss2`
  SDK, PostObject forms with alibabacloud-oss-v2's signer primitives (auth.py, forms.py). Keys
  are the stand-in's own (`credentials`) or issued by the STS stand-in (`sts`), whose security
  token must come along.
* A key issued with a session policy is held to it, and to the policies of the keys it was
  chained from (policy.py): the actions are oss:PutObject (PUT, form POST,
  InitiateMultipartUpload, UploadPart, CompleteMultipartUpload), oss:GetObject (GET incl.
  x-oss-process, HEAD), oss:DeleteObject, oss:AbortMultipartUpload, oss:ListParts and
  oss:ListObjects (with `oss:Prefix` the listing's prefix, empty when absent, and
  `oss:Delimiter` when given); an upload (PUT, form POST, multipart initiate) that sets
  `x-oss-tagging` needs oss:PutObjectTagging too, and one that sets an `x-oss-object-acl`
  other than `default` needs oss:PutObjectAcl too (header or form field alike). A refusal is
  403 AccessDenied "Access denied by authorizer's policy.". The role's own permission policy
  is not modelled.
* Bodies: a Content-Length that is not a number is 400 InvalidArgument, and one over 5 GiB
  (OSS's limit for PutObject, UploadPart and PostObject) 400 EntityTooLarge, before anything is
  read; a chunked body is cut off there too. A header- or URL-signed request's body is read only
  after its signature is checked (none depends on the body), so an unsigned or badly signed
  upload is refused without reading it; a refused request's unread body is dropped when it is
  at most 1 MiB (so the client reads the answer), else the connection is closed unread. Bodies
  are held in memory; a form POST's body is read whole before its signature can be checked.
* Objects (store.py): PUT (Content-MD5 checked, 400 InvalidDigest), GET (a single `Range`,
  `response-*` overrides, `x-oss-process` via imaging.py), HEAD (errors in `x-oss-err` as OSS
  sends them), DELETE; Content-Type (else guessed from the key), Content-Disposition and
  x-oss-meta-* kept; ETag the upper-hex MD5 in quotes; `x-oss-hash-crc64ecma` returned.
  `x-oss-forbid-overwrite: true` (header or form field; at PUT, form POST, multipart initiate and
  complete) keeps an existing object: 409 FileAlreadyExists. Every value that goes back in a
  response header (`response-*` overrides, Content-Type, Content-Disposition, x-oss-meta-*
  names and values, from headers or form fields) must be free of control characters (CR, LF,
  …), and a name a token, else 400 InvalidArgument: no header injection; a parameter's or
  field's non-ASCII text goes back as its UTF-8 bytes. An upload's
  `x-oss-tagging` is checked (see above) but not kept; `x-oss-object-acl` may be `default` or
  `private` (the buckets are private), a public ACL is not available, another value 400
  InvalidArgument; `x-oss-server-side-encryption` (and its key id / data encryption) and an
  `x-oss-storage-class` other than Standard are not available.
* Listings (listing.py) and multipart uploads (multipart.py, store.py).
* CORS (cors.py): `cors=None` is a bucket without CORS (every preflight 403).
* Upload callbacks, as OSS makes them: the `callback` (query parameter, `x-oss-callback` header,
  or form field; at PUT, form POST and multipart complete) is decoded and checked before
  anything is stored: JSON with `callbackUrl` and `callbackBody` (else 400 InvalidArgument "The
  callback configuration is not json format."), the `callbackUrl` one to five `;`-separated
  http or https URLs with a host (else 400 InvalidArgument "The callbackUrl is invalid.", EC
  0007-00000004; OSS's refusal of private addresses is not modelled: the stand-in calls back
  on 127.0.0.1). Its `callbackBody` is filled with the upload's values (`${bucket}`,
  `${object}`, `${etag}`, `${size}`, `${mimeType}`, `${crc64}`, `${contentMd5}`,
  `${imageInfo.height|width|format}` for images, `${x:…}` from `callback-var`; as JSON values
  when `callbackBodyType` is application/json), signed with this stand-in's RSA key (PKCS#1
  v1.5, MD5) over the callback URL's decoded path, `?` and raw query, `\\n` and the body, and
  posted with `authorization` and `x-oss-pub-key-url` to each URL in turn until one answers
  200, through an opener that speaks http and https only and follows no redirect (a 3xx is a
  failed callback). A 200 answer of at most 1 MiB is relayed to the uploader (200); else
  `CallbackFailed` (203) as OSS answers it: "Error status : <status>." with, for an HTTP
  answer, its first line cut to 100 printable characters, or -1 with OSS's words when no
  answer came.
* `on_created(bucket, key, size, etag, content_type)` is called after each object is created
  (PUT, form POST, multipart complete), `etag` as OSS's events give it (upper hex, no quotes).

Anything OSS offers that the stand-in does not (other sub-resources, ListBuckets, CopyObject,
other processes) is 400 InvalidArgument saying so; bad input is 400 InvalidArgument, never a
crash.
"""

import base64
import datetime
import email.utils
import hashlib
import http.server
import json
import mimetypes
import re
import secrets
import sys
import traceback
import urllib.error
import urllib.parse
import urllib.request
from typing import Callable, Dict, List, Optional, Tuple

import oss2.auth
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from . import cors
from . import forms
from . import imaging
from . import listing
from . import multipart
from . import policy
from . import serving
from .auth import Authenticator, Caller, oracle
from .refusals import Refused, not_available, xml_error
from .store import MAX_PART_NUMBER, Store, check_bucket, check_completion, check_key, multipart_etag

# The published key's URL: record-upload is pinned to this stand-in's key in the tests.
KEY_URL = "https://gosspublic.alicdn.com/callback_pub_key_v1.pem"
# The sub-resources OSS knows (oss2's list); any the stand-in does not serve is refused.
SUBRESOURCES = oss2.auth.ProviderAuth._subresource_key_set - {"security-token"}
OVERRIDES = {"response-content-type": "Content-Type", "response-content-disposition": "Content-Disposition",
             "response-content-language": "Content-Language", "response-cache-control": "Cache-Control",
             "response-content-encoding": "Content-Encoding", "response-expires": "Expires"}
CALLBACK = {"callback", "callback-var"}
# (method, object-level, sub-resources required, sub-resources allowed besides, operation, action)
OPERATIONS = [
    ("PUT", True, {"partNumber", "uploadId"}, set(), "upload_part", "oss:PutObject"),
    ("PUT", True, set(), CALLBACK, "put_object", "oss:PutObject"),
    ("POST", True, {"uploads"}, set(), "initiate", "oss:PutObject"),
    ("POST", True, {"uploadId"}, CALLBACK, "complete", "oss:PutObject"),
    ("GET", True, {"uploadId"}, set(), "list_parts", "oss:ListParts"),
    ("DELETE", True, {"uploadId"}, set(), "abort", "oss:AbortMultipartUpload"),
    ("GET", True, set(), set(OVERRIDES) | {"x-oss-process"}, "get_object", "oss:GetObject"),
    ("HEAD", True, set(), set(OVERRIDES), "head_object", "oss:GetObject"),
    ("DELETE", True, set(), set(), "delete_object", "oss:DeleteObject"),
    ("GET", False, set(), {"continuation-token"}, "list_objects", "oss:ListObjects"),
]
RANGE = re.compile(r"^bytes=(\d*)-(\d*)$")
MAX_OBJECT_SIZE = 5 * 1024 ** 3  # OSS's limit for PutObject, UploadPart and PostObject
DRAIN_LIMIT = 1024 * 1024  # a refused request's unread body up to this is read and dropped
MAX_CALLBACK_ANSWER = 1024 * 1024
HEADER_NAME = re.compile(r"^[!#$%&'*+.^_`|~0-9A-Za-z-]+$")
CONTROL = re.compile(r"[\x00-\x1f\x7f]")
ACLS = ("default", "private", "public-read", "public-read-write")
ENCRYPTION = ("x-oss-server-side-encryption", "x-oss-server-side-encryption-key-id",
              "x-oss-server-side-data-encryption")


def body_length(headers) -> Tuple[int, bool]:
    """(Content-Length, chunked) of a request, refused before anything is read when the length
    is not a number or over 5 GiB."""
    if "chunked" in (headers.get("Transfer-Encoding") or "").lower():
        return 0, True
    length = headers.get("Content-Length") or "0"
    if not re.fullmatch(r"[0-9]{1,19}", length):
        raise Refused(400, "InvalidArgument", "Content-Length is not a number.")
    if int(length) > MAX_OBJECT_SIZE:
        raise too_large()
    return int(length), False


def too_large() -> Refused:
    return Refused(400, "EntityTooLarge", "Your proposed upload exceeds the maximum allowed size.")


class Request:
    """A request as received. Its body is read only when an operation asks for it, after the
    signature of a header- or URL-signed request is checked."""

    def __init__(self, handler):
        self.method, self.headers, self.rfile = handler.command, handler.headers, handler.rfile
        self.length, self.chunked = body_length(handler.headers)
        self.reading, self._body = False, b""
        self.bucket, self.key, self.params = "", "", {}

    def read_target(self, target: str) -> None:
        """The bucket, key and query parameters of the request line's target."""
        parts = urllib.parse.urlsplit(target)
        path = oracle.unquote_strict(parts.path, "URL path")
        self.bucket, _, self.key = path.lstrip("/").partition("/")
        self.params = oracle.parse_query(parts.query, "URL")

    @property
    def body(self) -> bytes:
        if not self.reading:
            self.reading = True
            self._body = read_chunked(self.rfile, MAX_OBJECT_SIZE) if self.chunked else self.rfile.read(self.length)
        return self._body

    def drop_unread(self) -> bool:
        """Reads and drops an unread body of at most 1 MiB (so the client, still sending, reads
        the answer); False when a larger or chunked one is left unread."""
        if self.reading or (self.length == 0 and not self.chunked):
            return True
        if self.chunked or self.length > DRAIN_LIMIT:
            return False
        return len(self.body) == self.length


def truthy(value: Optional[str]) -> bool:
    return (value or "").lower() == "true"


def http_date(moment: Optional[datetime.datetime] = None) -> str:
    return email.utils.format_datetime(moment or datetime.datetime.now(datetime.timezone.utc), usegmt=True)


def header_value(name: str, value: str) -> str:
    """A header (name and value) the stand-in will send back: a token for a name and no
    control characters in the value (no header injection); 400 InvalidArgument otherwise."""
    if CONTROL.search(value) or not HEADER_NAME.match(name):
        raise Refused(400, "InvalidArgument", f"{name[:60]} holds a control character or a character an"
                      " HTTP header cannot carry.")
    return value


def as_sent(text: str) -> str:
    """A query parameter's or form field's text as http.server writes it byte for byte in a
    header (it encodes Latin-1): its UTF-8 bytes, as request headers arrive."""
    return text.encode("utf-8").decode("latin-1")


def attributes(headers, key: str, override: str = "") -> dict:
    """What an upload keeps besides its bytes: Content-Type (else guessed from the key),
    Content-Disposition and x-oss-meta-*, each fit to go back in a response header
    (`headers` as they arrive: a form's fields go through as_sent first)."""
    lower = {k.lower(): v for k, v in headers.items()}
    content_type = override or lower.get("content-type") or mimetypes.guess_type(key)[0]
    disposition = lower.get("content-disposition")
    return {"content_type": header_value("Content-Type", content_type or "application/octet-stream"),
            "content_disposition": disposition and header_value("Content-Disposition", disposition),
            "meta": {k: header_value(k, v) for k, v in lower.items() if k.startswith("x-oss-meta-")}}


def overrides(params: Dict[str, str]) -> Dict[str, str]:
    """The response headers the `response-*` parameters set."""
    return {OVERRIDES[k]: as_sent(header_value(k, v)) for k, v in params.items() if k in OVERRIDES}


def extra_actions(values: Dict[str, str]) -> List[str]:
    """What an upload's headers or form fields (names in lower case) need besides
    oss:PutObject."""
    actions = ["oss:PutObjectTagging"] if "x-oss-tagging" in values else []
    if values.get("x-oss-object-acl", "default") != "default":
        actions.append("oss:PutObjectAcl")
    return actions


def check_upload_options(values: Dict[str, str]) -> None:
    """400 for the upload options the stand-in does not model (see the module docstring)."""
    acl = values.get("x-oss-object-acl", "default")
    if acl not in ACLS:
        raise Refused(400, "InvalidArgument", "no such object access control exists")
    if acl.startswith("public-"):
        raise not_available(f"x-oss-object-acl {acl} (its buckets are private: it serves no anonymous reads)")
    for name in ENCRYPTION:
        if name in values:
            raise not_available(f"server-side encryption ({name})")
    storage_class = values.get("x-oss-storage-class", "Standard")
    if storage_class != "Standard":
        raise not_available(f"x-oss-storage-class {storage_class[:40]} (it stores Standard only)")


def check_content_md5(headers, body: bytes) -> None:
    given = headers.get("Content-MD5")
    if given is not None and given != base64.b64encode(hashlib.md5(body).digest()).decode():
        raise Refused(400, "InvalidDigest", "The Content-MD5 you specified was invalid.")


def parse_callback(encoded: str) -> dict:
    """The callback's JSON, once it names a callbackBody and one to five http(s) URLs."""
    try:
        spec = json.loads(base64.b64decode(encoded, validate=True))
        if not isinstance(spec, dict) or not spec.get("callbackUrl") or "callbackBody" not in spec:
            raise ValueError("callbackUrl and callbackBody are required")
    except ValueError:
        raise Refused(400, "InvalidArgument", "The callback configuration is not json format.") from None
    callback_urls(spec)
    return spec


def callback_urls(spec: dict) -> List[str]:
    urls = [url.strip() for url in str(spec["callbackUrl"]).split(";") if url.strip()]
    if not 1 <= len(urls) <= 5 or not all(map(is_http_url, urls)):
        raise Refused(400, "InvalidArgument", "The callbackUrl is invalid.", ec="0007-00000004")
    return urls


def is_http_url(url: str) -> bool:
    try:
        parts = urllib.parse.urlsplit(url)
        parts.port  # noqa: B018  (raises ValueError for a port that is not a number)
    except ValueError:
        return False
    return parts.scheme in ("http", "https") and bool(parts.hostname)


def callback_opener() -> urllib.request.OpenerDirector:
    """An opener for http and https only (no file:, ftp: or data:, no proxy from the
    environment) that follows no redirect: a 3xx is the callback's answer."""
    opener = urllib.request.OpenerDirector()
    for handler in (urllib.request.HTTPHandler(), urllib.request.HTTPSHandler(),
                    urllib.request.HTTPDefaultErrorHandler(), urllib.request.HTTPErrorProcessor()):
        opener.add_handler(handler)
    return opener


def callback_failure(status: int, text: bytes) -> bytes:
    """OSS's CallbackFailed error: the status, and a short reason: with no HTTP answer (-1),
    the stand-in's own words; else the answer's first line, cut to 100 printable characters."""
    if status == -1:
        return xml_error("CallbackFailed", f"Error status : -1.{text.decode()}")
    line = next(iter(text[:200].decode(errors="replace").splitlines()), "")
    reason = "".join(c for c in line if c.isprintable())[:100]
    return xml_error("CallbackFailed", f"Error status : {status}." + (f" {reason}" if reason else ""))


def parse_callback_var(encoded: Optional[str]) -> Dict[str, str]:
    if not encoded:
        return {}
    try:
        values = json.loads(base64.b64decode(encoded, validate=True))
        return {k: str(v) for k, v in values.items() if k.startswith("x:")}
    except (ValueError, AttributeError):
        raise Refused(400, "InvalidArgument", "The callback-var is not json format.") from None


def object_headers(meta: dict) -> Dict[str, str]:
    headers = {"Content-Type": meta["content_type"], "ETag": f'"{meta["etag"]}"',
               "Last-Modified": http_date(datetime.datetime.fromisoformat(meta["last_modified"])),
               "x-oss-hash-crc64ecma": meta["crc64"], "x-oss-object-type": meta["type"],
               "x-oss-storage-class": "Standard", "Accept-Ranges": "bytes"}
    if meta.get("content_disposition"):
        headers["Content-Disposition"] = meta["content_disposition"]
    headers.update(meta.get("meta") or {})
    return headers


def byte_range(header: Optional[str], size: int):
    """(start, end), inclusive, of a single `bytes=a-b` / `bytes=a-` / `bytes=-n` range; None for
    the whole object (OSS ignores a range it cannot parse); 416 InvalidRange when it starts past
    the end."""
    match = RANGE.match((header or "").strip())
    if not match or match.groups() == ("", ""):
        return None
    first, last = match.groups()
    if first == "":
        return (max(0, size - int(last)), size - 1) if int(last) and size else None
    start, end = int(first), min(int(last), size - 1) if last else size - 1
    if last and int(last) < start:
        return None
    if start >= size:
        raise Refused(416, "InvalidRange", "The requested range cannot be satisfied")
    return start, end


class StandInOss:
    """One region's OSS buckets on 127.0.0.1, on disk under `root` (see the module docstring)."""

    def __init__(self, root: str, region: str, credentials: Dict[str, str], sts=None,
                 cors: Optional[List[dict]] = None, on_created: Optional[Callable] = None):
        self.root, self.region, self.credentials = root, region, credentials
        self.sts, self.cors, self.on_created = sts, cors, on_created
        self.store = Store(root)
        self.auth = Authenticator(region, credentials, sts)
        # cryptography refuses to generate keys under 1024 bits; OSS's own is 512 (the
        # published-vector tests cover that size).
        self.callback_key = rsa.generate_private_key(public_exponent=65537, key_size=1024)
        self.callbacks = []  # (callback URL, status, answer) of each callback made
        self.server = None

    def public_key_pem(self) -> str:
        return self.callback_key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo).decode()

    def start(self, port: int = 0) -> int:
        stand_in = self

        class Handler(http.server.BaseHTTPRequestHandler):
            timeout = 30  # a client that sends less than it announced is dropped, not waited for

            def log_message(self, *args):
                pass

            def serve(self):
                stand_in.answer(self)

            do_GET = do_HEAD = do_PUT = do_POST = do_DELETE = do_OPTIONS = serve

        self.server = serving.serve(Handler, port, "OSS")
        return self.server.server_port

    def stop(self):
        serving.stop(self.server)

    # -- HTTP -----------------------------------------------------------------------------

    def answer(self, handler) -> None:
        request_id = secrets.token_hex(12).upper()
        method, request = handler.command, None
        try:
            request = Request(handler)
            request.read_target(handler.path)
            status, headers, out = self.route(request)
        except Refused as e:
            status, headers = e.status, {"Content-Type": "application/xml"}
            out = xml_error(e.code, str(e), request_id, e.ec)
        except Exception as e:  # bad input must be an answer, never a crash
            if not isinstance(e, (oracle.RecordError, ValueError, KeyError, TypeError)):
                print(f"oss stand-in: {method} {handler.path[:200]}:", file=sys.stderr)
                traceback.print_exc(limit=5, file=sys.stderr)
            status, headers = 400, {"Content-Type": "application/xml"}
            out = xml_error("InvalidArgument", f"{type(e).__name__}: {e}"[:300], request_id)
        if not self.dropped(request):
            handler.close_connection = True
        if method != "OPTIONS":
            headers = {**cors.actual(self.cors, handler.headers.get("Origin"), method), **headers}
        headers.setdefault("Content-Length", str(len(out)))
        if method == "HEAD" and status >= 300:
            headers["x-oss-err"] = base64.b64encode(out).decode()
            headers["Content-Length"] = "0"
        self.write(handler, status, {"x-oss-request-id": request_id, "Date": http_date(),
                                     "Server": "oss-stand-in", **headers}, b"" if method == "HEAD" else out)

    @staticmethod
    def dropped(request: Optional[Request]) -> bool:
        """Whether the request's body is read (or small enough to read and drop now)."""
        try:
            return request is not None and request.drop_unread()
        except (OSError, ValueError):
            return False

    @staticmethod
    def write(handler, status: int, headers: Dict[str, str], out: bytes) -> None:
        try:
            handler.send_response(status)
            for name, value in headers.items():
                handler.send_header(name, value)
            handler.end_headers()
            handler.wfile.write(out)
        except OSError:
            handler.close_connection = True

    # -- routing and authorisation -------------------------------------------------------

    def route(self, request: Request):
        if request.method == "OPTIONS":
            return 200, cors.preflight(self.cors, request.headers), b""
        if not request.bucket:
            raise not_available("a request without a bucket (ListBuckets)")
        check_bucket(request.bucket)
        if request.method == "POST" and not request.key:
            return self.post_form(request)
        operation, action = self.operation_of(request)
        if request.key:
            check_key(request.key)
        caller = self.auth.request(request.method, request.bucket, request.key, request.params,
                                   request.headers)
        self.authorize(caller, action, request.bucket, request.key, request.params)
        if operation in ("put_object", "initiate"):
            self.check_upload(caller, request.bucket, request.key, {k.lower(): v for k, v in request.headers.items()})
        return getattr(self, operation)(request)

    @staticmethod
    def operation_of(request: Request):
        if request.headers.get("x-oss-copy-source"):
            raise not_available("CopyObject (x-oss-copy-source)")
        named = set(request.params) & SUBRESOURCES
        for method, object_level, required, allowed, operation, action in OPERATIONS:
            if (method == request.method and object_level == bool(request.key)
                    and required <= named <= required | allowed):
                return operation, action
        what = "object" if request.key else "bucket"
        raise not_available(f"{request.method} on an {what} with {sorted(named) or 'no sub-resource'}")

    def authorize(self, caller: Caller, action: str, bucket: str, key: str, params: Dict[str, str]) -> None:
        """Every session policy the STS key is held to must allow the action (policy.py)."""
        if not caller.policies:
            return
        resource = f"acs:oss:{self.region}:{caller.account}:{bucket}" + (f"/{key}" if key else "")
        context = {}
        if action == "oss:ListObjects":
            context["oss:Prefix"] = params.get("prefix", "")
            if "delimiter" in params:
                context["oss:Delimiter"] = params["delimiter"]
        if policy.decide_all(caller.policies, action, resource, context) != "allow":
            raise Refused(403, "AccessDenied", "Access denied by authorizer's policy.", ec="0003-00000301")

    def check_upload(self, caller: Caller, bucket: str, key: str, values: Dict[str, str]) -> None:
        """An upload's headers or form fields (names in lower case): the actions they need
        besides oss:PutObject, then the options the stand-in does not model."""
        for action in extra_actions(values):
            self.authorize(caller, action, bucket, key, {})
        check_upload_options(values)

    # -- objects --------------------------------------------------------------------------

    def put_object(self, request: Request):
        check_content_md5(request.headers, request.body)
        encoded = request.params.get("callback") or request.headers.get("x-oss-callback")
        callback_var = request.params.get("callback-var") or request.headers.get("x-oss-callback-var")
        if encoded:
            parse_callback(encoded)
        meta = self.store.put(request.bucket, request.key, request.body,
                              attributes(request.headers, request.key),
                              truthy(request.headers.get("x-oss-forbid-overwrite")))
        return self.created(request.bucket, meta, request.body, encoded, callback_var,
                            lambda: (200, {"ETag": f'"{meta["etag"]}"', "Content-MD5": meta["content_md5"],
                                           "x-oss-hash-crc64ecma": meta["crc64"]}, b""))

    def post_form(self, request: Request):
        fields, filename, data = forms.read_form(request.headers.get("Content-Type") or "", request.body)
        key, caller = forms.check_form(self.auth, self.region, request.bucket, fields, len(data), filename)
        check_key(key)
        self.authorize(caller, "oss:PutObject", request.bucket, key, {})
        lower = {k.lower(): v for k, v in fields.items()}
        self.check_upload(caller, request.bucket, key, lower)
        if lower.get("callback"):
            parse_callback(lower["callback"])
        sent = {name: as_sent(value) for name, value in fields.items()}
        meta = self.store.put(request.bucket, key, data, attributes(sent, key, as_sent(lower.get("x-oss-content-type", ""))),
                              truthy(lower.get("x-oss-forbid-overwrite")))
        status = int(lower.get("success_action_status") or 204)
        status = status if status in (200, 201, 204) else 204
        body = multipart.to_bytes(multipart.document("PostResponse", [
            ("Bucket", request.bucket), ("Location", self.location(request.bucket, key)), ("Key", key),
            ("ETag", f'"{meta["etag"]}"')])) if status == 201 else b""
        return self.created(request.bucket, meta, data, lower.get("callback"), lower.get("callback-var"),
                            lambda: (status, {"ETag": f'"{meta["etag"]}"'}, body))

    def get_object(self, request: Request):
        override = overrides(request.params)
        meta = self.store.head(request.bucket, request.key)
        data = self.store.read(request.bucket, request.key)
        headers, status = object_headers(meta), 200
        process = request.params.get("x-oss-process")
        if process:
            data, headers["Content-Type"] = imaging.process(data, process)
            headers.pop("ETag"), headers.pop("x-oss-hash-crc64ecma")
        else:
            span = byte_range(request.headers.get("Range"), len(data))
            if span:
                status, data = 206, data[span[0]:span[1] + 1]
                headers["Content-Range"] = f"bytes {span[0]}-{span[1]}/{meta['size']}"
                headers.pop("x-oss-hash-crc64ecma")
        headers.update(override)
        return status, headers, data

    def head_object(self, request: Request):
        override = overrides(request.params)
        meta = self.store.head(request.bucket, request.key)
        headers = object_headers(meta)
        headers.update(override)
        headers["Content-Length"] = str(meta["size"])
        return 200, headers, b""

    def delete_object(self, request: Request):
        self.store.delete(request.bucket, request.key)
        return 204, {}, b""

    def list_objects(self, request: Request):
        out = listing.listing(request.bucket, self.store.keys(request.bucket), request.params)
        return 200, {"Content-Type": "application/xml"}, out

    # -- multipart uploads ----------------------------------------------------------------

    def initiate(self, request: Request):
        if truthy(request.headers.get("x-oss-forbid-overwrite")) and self.store.exists(request.bucket, request.key):
            raise Refused(409, "FileAlreadyExists", "The object you specified already exists and can not be overwritten.")
        upload_id = self.store.initiate(request.bucket, request.key, attributes(request.headers, request.key))
        return 200, {"Content-Type": "application/xml"}, multipart.initiate_result(request.bucket, request.key, upload_id)

    def upload_part(self, request: Request):
        number = request.params["partNumber"]
        if not number.isdigit() or not 1 <= int(number) <= MAX_PART_NUMBER:
            raise Refused(400, "InvalidArgument", "Part number must be an integer between 1 and 10000, inclusive.")
        check_content_md5(request.headers, request.body)
        part = self.store.put_part(request.params["uploadId"], request.bucket, request.key, int(number), request.body)
        return 200, {"ETag": f'"{part["etag"]}"', "x-oss-hash-crc64ecma": part["crc64"]}, b""

    def list_parts(self, request: Request):
        upload_id = request.params["uploadId"]
        parts = self.store.parts(upload_id, request.bucket, request.key)
        out = multipart.parts_result(request.bucket, request.key, upload_id, parts, request.params)
        return 200, {"Content-Type": "application/xml"}, out

    def complete(self, request: Request):
        upload_id = request.params["uploadId"]
        upload = self.store.upload(upload_id, request.bucket, request.key)
        listed = multipart.parse_complete(request.body)
        stored = {p["number"]: p for p in self.store.parts(upload_id, request.bucket, request.key)}
        check_completion(listed, stored)
        encoded = request.params.get("callback") or request.headers.get("x-oss-callback")
        callback_var = request.params.get("callback-var") or request.headers.get("x-oss-callback-var")
        if encoded:
            parse_callback(encoded)
        numbers = [p["number"] for p in listed]
        data = b"".join(self.store.part_data(upload_id, numbers))
        meta = self.store.put(request.bucket, request.key, data, upload,
                              truthy(request.headers.get("x-oss-forbid-overwrite")),
                              etag=multipart_etag([stored[n] for n in numbers]), kind="Multipart")
        self.store.abort(upload_id, request.bucket, request.key)
        out = multipart.complete_result(request.bucket, request.key, meta["etag"],
                                        self.location(request.bucket, request.key))
        return self.created(request.bucket, meta, data, encoded, callback_var,
                            lambda: (200, {"Content-Type": "application/xml", "ETag": f'"{meta["etag"]}"',
                                           "x-oss-hash-crc64ecma": meta["crc64"]}, out))

    def abort(self, request: Request):
        self.store.abort(request.params["uploadId"], request.bucket, request.key)
        return 204, {}, b""

    def location(self, bucket: str, key: str) -> str:
        port = self.server.server_port if self.server else 0
        return f"http://127.0.0.1:{port}/{bucket}/{urllib.parse.quote(key)}"

    # -- after an upload: events and callbacks --------------------------------------------

    def created(self, bucket: str, meta: dict, data: bytes, callback: Optional[str],
                callback_var: Optional[str], plain_answer: Callable):
        """Tells `on_created`, then makes the callback (its answer relayed) or answers plainly."""
        if self.on_created is not None:
            try:
                self.on_created(bucket, meta["key"], meta["size"], meta["etag"], meta["content_type"])
            except Exception as e:  # a listener's fault must not fail the upload
                print(f"oss stand-in: on_created failed: {type(e).__name__}: {e}", file=sys.stderr)
        if not callback:
            return plain_answer()
        image = imaging.image_info(data) or {}
        variables = {"crc64": meta["crc64"], "contentMd5": meta["content_md5"],
                     **{f"imageInfo.{k}": v for k, v in image.items()}, **parse_callback_var(callback_var)}
        return self.callback(callback, bucket, meta["key"], meta["etag"], meta["size"], meta["content_type"],
                             variables)

    def callback(self, encoded: str, bucket: str, key: str, etag: str, size: int, mime: str,
                 variables: Optional[Dict[str, str]] = None):
        """Makes the upload callback `encoded` describes, as OSS does; (status, headers, body)
        of the answer to the uploader."""
        spec = parse_callback(encoded)
        values = {"bucket": bucket, "object": key, "etag": etag, "size": size, "mimeType": mime,
                  "imageInfo.height": "", "imageInfo.width": "", "imageInfo.format": "",
                  "crc64": "0", "contentMd5": "", **(variables or {})}
        body = spec["callbackBody"]
        json_body = spec.get("callbackBodyType") == "application/json"
        for name, value in values.items():
            filled = json.dumps(value) if json_body else urllib.parse.quote(str(value), safe="")
            body = body.replace("${" + name + "}", filled)
        for url in callback_urls(spec):
            status, text = self.post_callback(url, body, spec.get("callbackBodyType"))
            self.callbacks.append((url, status, text))
            if status == 200:
                return 200, {"Content-Type": "application/json", "ETag": f'"{etag}"'}, text
        return 203, {"Content-Type": "application/xml"}, callback_failure(status, text)

    def post_callback(self, url: str, body: str, body_type: Optional[str]) -> Tuple[int, bytes]:
        """(status, answer) of one signed callback POST; -1 and the stand-in's reason when no
        HTTP answer came, 400 when the answer is over 1 MiB."""
        parts = urllib.parse.urlsplit(url)
        signed = urllib.parse.unquote(parts.path) + (f"?{parts.query}" if parts.query else "") + "\n" + body
        signature = self.callback_key.sign(signed.encode(), padding.PKCS1v15(), hashes.MD5())
        request = urllib.request.Request(url, data=body.encode(), method="POST", headers={
            "Content-Type": body_type or "application/x-www-form-urlencoded",
            "authorization": base64.b64encode(signature).decode(),
            "x-oss-pub-key-url": base64.b64encode(KEY_URL.encode()).decode(),
        })
        try:
            with callback_opener().open(request, timeout=5) as answer:
                status, text = answer.status, answer.read(MAX_CALLBACK_ANSWER + 1)
        except urllib.error.HTTPError as e:
            return e.code, e.read(1024)
        except TimeoutError:
            return -1, b"Cost too long time"
        except (OSError, ValueError):
            return -1, b"OSS can not connect to your callbackUrl, please check it."
        if len(text) > MAX_CALLBACK_ANSWER:
            return 400, b"User server return too long content-length value"
        return status, text


def read_chunked(stream, limit: int) -> bytes:
    """A `Transfer-Encoding: chunked` body, 400 EntityTooLarge past `limit` bytes."""
    chunks, size_read = [], 0
    while True:
        size = int(stream.readline(100).split(b";")[0].strip(), 16)
        if size == 0:
            while stream.readline(1000).strip():
                pass
            return b"".join(chunks)
        size_read += size
        if size_read > limit:
            raise too_large()
        chunks.append(stream.read(size))
        stream.readline(10)
