"""Who signed a request to the local OSS stand-in (a stand-in, NOT Alibaba Cloud OSS).

Every request must be signed (the stand-in's buckets are private); the signature is
recomputed with Alibaba's official `oss2` SDK from the request as received and compared:

* a URL signature, V4 (`x-oss-signature`) or V1 (`Signature`): oss2 presigns the same method,
  bucket, key, query parameters (all but the signer's) and signed headers at the URL's own
  signing time (`presign_with_oss2` of scripts/oracles/verify_presigned.py, which handles
  bucket-level URLs too); past its expiry it is 403 AccessDenied "Request has expired.".
  Before that, the signer's parameters are checked as OSS's error pages describe them (the
  statuses of the format errors are the stand-in's choice): V4 needs
  `x-oss-signature-version` OSS4-HMAC-SHA256, `x-oss-expires` an integer from 1 to 604800
  (7 days; 400 InvalidArgument, EC 0002-00000232), an `x-oss-date` at most 15 minutes ahead
  (403 RequestTimeTooSkewed) and an `x-oss-credential` whose scope is
  `<id>/<x-oss-date's day>/<the stand-in's region>/oss/aliyun_v4_request` (400
  InvalidArgument naming the part that differs); V1 needs `Expires` in unix seconds (400
  InvalidArgument, EC 0002-00000067 when missing, 0002-00000070 when not a number; OSS caps
  no V1 expiry);
* an `Authorization` header, V1 (`OSS <id>:<signature>`) or V4 (`OSS4-HMAC-SHA256
  Credential=…, AdditionalHeaders=…, Signature=…`): oss2's `ProviderAuth` / `ProviderAuthV4`
  `_sign_request` signs the request as received with its clock pinned to the request's `Date`
  / `x-oss-date`; a request time more than 15 minutes from now is 403 RequestTimeTooSkewed. V4
  requests must send `x-oss-content-sha256: UNSIGNED-PAYLOAD` (what OSS accepts, and what oss2
  signs), and their whole `Credential` must be the one oss2 makes (the scope checked as for
  URLs), not only their `Signature`;
* a PostObject form (see forms.py, which checks a V4 form's scope with `v4_access_key_id`).

URL and header signatures do not depend on the body, so the OSS stand-in checks them before it
reads one.

Access keys are the stand-in's own (`credentials`: id -> secret) or issued by the STS stand-in
(`sts.lookup`). An STS key needs its security token (`x-oss-security-token` header, the
`security-token` / `x-oss-security-token` query parameter, or the form field): missing, it is
403 InvalidAccessKeyId (as OSS treats a key it cannot find); another token is 403
InvalidSecurityToken; past the credential's expiration, 403 SecurityTokenExpired. A token sent
with a permanent key is 403 InvalidAccessKeyId (OSS then looks the key up as an STS key). The
caller carries the session policies the STS key is held to (its own and its chain's).

oss2 reads its clock from module globals, so the re-signing pins them with unittest.mock under
one lock; an oss2 client signing in another thread of the same process at that instant would
see the pinned clock.
"""

import dataclasses
import datetime
import email.utils
import hmac
import os
import sys
import threading
import urllib.parse
from typing import Dict, Optional, Tuple
from unittest import mock

import oss2
import oss2.auth

from .refusals import Refused

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "..", "..", "scripts", "oracles"))
import verify_presigned as oracle  # noqa: E402  (the oss2 regeneration the oracles use)

MAX_SKEW = datetime.timedelta(minutes=15)
MAX_V4_EXPIRES = 7 * 24 * 3600
SIGNING_LOCK = threading.Lock()
V4_ALGORITHM = "OSS4-HMAC-SHA256"
V4_SCOPE_END = ["oss", "aliyun_v4_request"]


@dataclasses.dataclass(frozen=True)
class Caller:
    """Whose key signed: its id, and the session policies to enforce, each of which must allow
    (none: a key of the stand-in's own, or an STS key issued without a policy), with the
    account its resources are named in."""

    access_key_id: str
    policies: Tuple[dict, ...] = ()
    account: str = "*"


def invalid_key() -> Refused:
    return Refused(403, "InvalidAccessKeyId", "The OSS Access Key Id you provided does not exist in our records.")


def signature_mismatch() -> Refused:
    return Refused(403, "SignatureDoesNotMatch",
                   "The request signature we calculated does not match the signature you provided."
                   " Check your key and signing method.")


def same(a: str, b: str) -> bool:
    return hmac.compare_digest((a or "").encode(), (b or "").encode())


def now_utc() -> datetime.datetime:
    return datetime.datetime.now(datetime.timezone.utc)


def invalid(message: str, ec: Optional[str] = None) -> Refused:
    return Refused(400, "InvalidArgument", message, ec)


def check_not_ahead(moment: datetime.datetime) -> None:
    """A signing time more than 15 minutes ahead of the stand-in's clock is refused."""
    if moment - now_utc() > MAX_SKEW:
        raise Refused(403, "RequestTimeTooSkewed",
                      "The difference between the request time and the current time is too large.")


def check_v4_version(value: Optional[str]) -> None:
    if value != V4_ALGORITHM:
        raise invalid(f"x-oss-signature-version must be {V4_ALGORITHM}.")


def v4_access_key_id(credential: str, x_oss_date: str, region: str, where: str) -> str:
    """The key id of a V4 credential `<id>/<date>/<region>/oss/aliyun_v4_request`, once its
    date is x-oss-date's day and its region the stand-in's; 400 InvalidArgument otherwise."""
    parts = credential.split("/")
    if len(parts) != 5 or not parts[0] or parts[3:] != V4_SCOPE_END:
        raise invalid(f"{where} is not <AccessKeyId>/<date>/<region>/oss/aliyun_v4_request.")
    if parts[1] != x_oss_date[:8]:
        raise invalid(f"The date in {where} ({parts[1]}) is not the day of x-oss-date ({x_oss_date[:8]}).")
    if parts[2] != region:
        raise invalid(f"The region in {where} ({parts[2][:40]}) is not this endpoint's region ({region}).")
    return parts[0]


def url_v1_terms(params: Dict[str, str]) -> Tuple[str, datetime.datetime, int]:
    """(key id, a signing time, seconds valid) of a V1 URL: it signs only its expiry, so any
    signing time before it will do."""
    expires = params.get("Expires", "")
    if not expires.isascii() or not expires.isdigit() or len(expires) > 11:
        raise invalid("Expires must be the URL's expiry in unix seconds.",
                      "0002-00000070" if expires else "0002-00000067")
    signing_time = datetime.datetime.fromtimestamp(int(expires) - 60, datetime.timezone.utc)
    return params.get("OSSAccessKeyId", ""), signing_time, 60


def account_of(role_arn: str) -> str:
    """`acs:ram::1234567890123:role/uploader` -> `1234567890123`."""
    parts = role_arn.split(":")
    return parts[3] if len(parts) > 4 and parts[3] else "*"


class Authenticator:
    """Checks the signature of each request against the stand-in's keys and the STS stand-in's."""

    def __init__(self, region: str, credentials: Dict[str, str], sts=None):
        self.region, self.credentials, self.sts = region, credentials, sts

    def key(self, access_key_id: str, token: Optional[str]) -> Tuple[str, Caller]:
        """The secret that signs for `access_key_id`, and the caller, once the token holds."""
        if access_key_id in self.credentials:
            if token:
                raise invalid_key()
            return self.credentials[access_key_id], Caller(access_key_id)
        issued = self.sts.lookup(access_key_id) if self.sts is not None else None
        if issued is None or not token:
            raise invalid_key()
        if not same(token, issued.security_token):
            raise Refused(403, "InvalidSecurityToken", "The security token you provided is invalid.")
        if now_utc() >= issued.expiration:
            raise Refused(403, "SecurityTokenExpired", "The security token you provided has expired.")
        return issued.access_key_secret, Caller(access_key_id, tuple(issued.policies), account_of(issued.role_arn))

    def request(self, method: str, bucket: str, key: str, params: Dict[str, str], headers) -> Caller:
        """The caller of a header- or URL-signed request; 403 when unsigned."""
        authorization = headers.get("Authorization")
        if authorization:
            return self.header_signed(method, bucket, key, params, headers, authorization)
        if "x-oss-signature" in params or "Signature" in params:
            return self.url_signed(method, bucket, key, params, headers)
        raise Refused(403, "AccessDenied", "You have no right to access this object because of bucket acl.")

    # -- URL signatures -------------------------------------------------------------------

    def url_signed(self, method: str, bucket: str, key: str, params: Dict[str, str], headers) -> Caller:
        version = "v4" if "x-oss-signature" in params else "v1"
        terms = self.url_v4_terms if version == "v4" else url_v1_terms
        access_key_id, signing_time, expires_in = terms(params)
        token = params.get("x-oss-security-token") or params.get("security-token")
        secret, caller = self.key(access_key_id, token)
        if now_utc() > signing_time + datetime.timedelta(seconds=expires_in):
            raise Refused(403, "AccessDenied", "Request has expired.")
        additional = tuple(h for h in params.get("x-oss-additional-headers", "").split(";") if h)
        signed_headers = {name: value for name, value in headers.items()
                          if name.lower() in ("content-type", "content-md5") + additional
                          or name.lower().startswith("x-oss-")}
        inp = oracle.PresignInput(
            version=version, method=method, bucket=bucket, key=key, region=self.region,
            access_key_id=access_key_id, access_key_secret=secret, security_token=token,
            signing_time=signing_time, expires_in=expires_in, headers=signed_headers,
            params={k: v for k, v in params.items() if k not in oracle.SIGNER_PARAMS[version]},
            additional_headers=additional,
        )
        with SIGNING_LOCK:
            regenerated = oracle.presign_with_oss2(inp)
        name = oracle.SIGNATURE_PARAM[version]
        if not same(oracle.parse_query(urllib.parse.urlsplit(regenerated).query, "oss2").get(name),
                    params.get(name)):
            raise signature_mismatch()
        return caller

    def url_v4_terms(self, params: Dict[str, str]) -> Tuple[str, datetime.datetime, int]:
        """(key id, signing time, seconds valid) of a V4 URL, once its signer parameters hold."""
        check_v4_version(params.get("x-oss-signature-version"))
        expires = params.get("x-oss-expires", "")
        if not (expires.isascii() and expires.isdigit() and 1 <= int(expires) <= MAX_V4_EXPIRES):
            raise invalid(f"x-oss-expires must be a whole number of seconds from 1 to {MAX_V4_EXPIRES}.",
                          "0002-00000232" if expires else "0002-00000215")
        date = params.get("x-oss-date", "")
        signing_time = oracle.parse_x_oss_date(date)
        access_key_id = v4_access_key_id(params.get("x-oss-credential", ""), date, self.region, "x-oss-credential")
        check_not_ahead(signing_time)
        return access_key_id, signing_time, int(expires)

    # -- Authorization headers ------------------------------------------------------------

    def header_signed(self, method: str, bucket: str, key: str, params: Dict[str, str], headers,
                      authorization: str) -> Caller:
        if authorization.startswith(V4_ALGORITHM + " "):
            return self.header_signed_v4(method, bucket, key, params, headers, authorization)
        if authorization.startswith("OSS "):
            return self.header_signed_v1(method, bucket, key, params, headers, authorization)
        raise Refused(400, "InvalidArgument", "Authorization header is invalid.")

    def oss2_request(self, method: str, bucket: str, key: str, params: Dict[str, str], headers):
        kept = {k: v for k, v in headers.items() if k.lower() != "authorization"}
        return oss2.http.Request(method, f"http://stand-in/{bucket}/{urllib.parse.quote(key)}",
                                 params=dict(params), headers=kept, region=self.region, product="oss")

    def header_signed_v1(self, method, bucket, key, params, headers, authorization) -> Caller:
        access_key_id, _, signature = authorization[len("OSS "):].strip().rpartition(":")
        date = headers.get("Date") or headers.get("x-oss-date") or ""
        try:
            moment = email.utils.parsedate_to_datetime(date)
        except (TypeError, ValueError, IndexError):
            raise Refused(403, "AccessDenied", "OSS authentication requires a valid Date.") from None
        self.check_skew(moment if moment.tzinfo else moment.replace(tzinfo=datetime.timezone.utc))
        secret, caller = self.key(access_key_id, headers.get("x-oss-security-token"))
        request = self.oss2_request(method, bucket, key, params, headers)
        auth = oss2.ProviderAuth(oss2.credentials.StaticCredentialsProvider(
            access_key_id, secret, headers.get("x-oss-security-token") or ""))
        with SIGNING_LOCK, mock.patch.object(oss2.auth.utils, "http_date", return_value=date):
            auth._sign_request(request, bucket, key)
        if not same(request.headers["authorization"].rpartition(":")[2], signature):
            raise signature_mismatch()
        return caller

    def header_signed_v4(self, method, bucket, key, params, headers, authorization) -> Caller:
        fields = parse_v4_authorization(authorization)
        date = headers.get("x-oss-date", "")
        signing_time = oracle.parse_x_oss_date(date)
        self.check_skew(signing_time)
        access_key_id = v4_access_key_id(fields.get("Credential", ""), date, self.region,
                                         "the Authorization header's Credential")
        if headers.get("x-oss-content-sha256") != "UNSIGNED-PAYLOAD":
            raise Refused(400, "InvalidArgument", "x-oss-content-sha256 must be UNSIGNED-PAYLOAD.")
        secret, caller = self.key(access_key_id, headers.get("x-oss-security-token"))
        request = self.oss2_request(method, bucket, key, params, headers)
        auth = oss2.ProviderAuthV4(oss2.credentials.StaticCredentialsProvider(
            access_key_id, secret, headers.get("x-oss-security-token") or ""))
        additional = [h for h in fields.get("AdditionalHeaders", "").split(";") if h]
        with SIGNING_LOCK, oracle.pinned_oss2_clock(signing_time):
            auth._sign_request(request, bucket, key, in_additional_headers=additional)
        expected = parse_v4_authorization(request.headers["authorization"])
        if not all(same(expected.get(name), fields.get(name)) for name in ("Credential", "Signature")):
            raise signature_mismatch()
        return caller

    @staticmethod
    def check_skew(moment: datetime.datetime) -> None:
        if abs(now_utc() - moment) > MAX_SKEW:
            raise Refused(403, "RequestTimeTooSkewed",
                          "The difference between the request time and the current time is too large.")


def parse_v4_authorization(value: str) -> Dict[str, str]:
    """`OSS4-HMAC-SHA256 Credential=a, AdditionalHeaders=b, Signature=c` -> its fields."""
    pairs = (item.strip().partition("=") for item in value[len(V4_ALGORITHM):].split(","))
    return {name: text for name, _, text in pairs if name}
