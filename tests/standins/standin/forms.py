"""PostObject (browser form) uploads to the local OSS stand-in (a stand-in, NOT Alibaba Cloud OSS).

* The form is read as multipart/form-data: its fields, and the `file` field's name and bytes.
* The policy's signature is recomputed over the base64 policy text exactly as sent, with
  alibabacloud-oss-v2's signer primitives (`SignerV4._calc_signature` with the credential's
  date and the stand-in's region, or `SignerV1._calc_signature`), for the key in
  `x-oss-credential` / `OSSAccessKeyId` (an STS key needs its `x-oss-security-token` field, see
  auth.py). A form without a policy and signature is anonymous: 403 AccessDenied.
* A V4 form, as OSS's POST V4 signature requires: `x-oss-signature-version` must be
  OSS4-HMAC-SHA256 and `x-oss-credential` `<id>/<x-oss-date's day>/<the stand-in's
  region>/oss/aliyun_v4_request` (400 InvalidArgument otherwise, as for URLs in auth.py);
  `x-oss-date` at most 15 minutes ahead (403 RequestTimeTooSkewed) and at most 7 days old (403
  AccessDenied "Request has expired."); and its policy must name all three of
  `x-oss-signature-version`, `x-oss-credential` and `x-oss-date` in `eq` conditions (`{"name":
  value}` or `["eq", "$name", value]`), which then must hold like any other (403 AccessDenied
  "Invalid according to Policy: …" naming the one missing). presign-url's V4 forms name them.
* The policy's `expiration` must be in the future (403 AccessDenied "Policy expired.").
* Every condition must hold against the fields (names compared case-insensitively), with
  `bucket` the request's bucket and `key` the form's key with `${filename}` replaced by the
  file's name: `{"name": value}` and `["eq"|"starts-with"|"in"|"not-in", "$name", value]`,
  refused 403 AccessDenied "Invalid according to Policy: Policy Condition failed: …" naming the
  condition; `["content-length-range", min, max]` refused 400 EntityTooLarge / EntityTooSmall.
  As on OSS, fields no condition names are not checked.
"""

import base64
import datetime
import json
from email.parser import BytesParser
from email.policy import HTTP
from typing import Dict, List, Set, Tuple

from alibabacloud_oss_v2.signer import SignerV1, SignerV4

from .auth import Authenticator, Caller, check_not_ahead, check_v4_version, now_utc, oracle, same, v4_access_key_id
from .refusals import Refused

V4_POLICY_FIELDS = ("x-oss-signature-version", "x-oss-credential", "x-oss-date")
MAX_V4_AGE = datetime.timedelta(days=7)


def read_form(content_type: str, body: bytes) -> Tuple[Dict[str, str], str, bytes]:
    """The form's fields, in order, and its file (the `file` field, which comes last)."""
    message = BytesParser(policy=HTTP).parsebytes(
        b"Content-Type: " + content_type.encode() + b"\r\n\r\n" + body)
    if not message.is_multipart():
        raise Refused(400, "InvalidArgument", "a PostObject request is multipart/form-data")
    fields, filename, data = {}, None, None
    for part in message.iter_parts():
        name = part.get_param("name", header="content-disposition")
        if name == "file":
            filename, data = part.get_filename() or "", part.get_payload(decode=True) or b""
        elif name:
            fields[name] = (part.get_payload(decode=True) or b"").decode()
    if data is None:
        raise Refused(400, "InvalidArgument", "the form has no file field")
    return fields, filename, data


def check_form(keys: Authenticator, region: str, bucket: str, fields: Dict[str, str], size: int,
               filename: str) -> Tuple[str, Caller]:
    """The object key the form writes, and who signed it, once its policy holds."""
    lower = {k.lower(): v for k, v in fields.items()}
    policy_b64 = lower.get("policy", "")
    if not policy_b64:
        raise Refused(403, "AccessDenied", "You have no right to access this object because of bucket acl.")
    caller = check_form_signature(keys, region, lower, policy_b64)
    policy = json.loads(base64.b64decode(policy_b64, validate=True))
    expiration = oracle.parse_utc(policy["expiration"], "policy expiration")
    if now_utc() > expiration:
        raise Refused(403, "AccessDenied", "Invalid according to Policy: Policy expired.")
    if "x-oss-signature" in lower:
        check_v4_policy_names(policy["conditions"])
    key = lower.get("key", "").replace("${filename}", filename)
    values = {**lower, "bucket": bucket, "key": key}
    for condition in policy["conditions"]:
        check_condition(condition, values, size)
    return key, caller


def check_form_signature(keys: Authenticator, region: str, lower: Dict[str, str], policy_b64: str) -> Caller:
    token = lower.get("x-oss-security-token")
    if "x-oss-signature" in lower:
        access_key_id, date = v4_form_terms(lower, region)
        secret, caller = keys.key(access_key_id, token)
        expected = SignerV4()._calc_signature(access_key_secrect=secret, date=date, region=region,
                                              product="oss", string_to_sign=policy_b64)
        signature = lower["x-oss-signature"]
    else:
        secret, caller = keys.key(lower.get("ossaccesskeyid", ""), token)
        expected = SignerV1()._calc_signature(access_key_secrect=secret, string_to_sign=policy_b64)
        signature = lower.get("signature", "")
    if not same(expected, signature):
        raise Refused(403, "SignatureDoesNotMatch", "The form's signature does not match its policy.")
    return caller


def v4_form_terms(lower: Dict[str, str], region: str) -> Tuple[str, str]:
    """(key id, signing day) of a V4 form, once its version, scope and date hold."""
    check_v4_version(lower.get("x-oss-signature-version"))
    date = lower.get("x-oss-date", "")
    moment = oracle.parse_x_oss_date(date)
    access_key_id = v4_access_key_id(lower.get("x-oss-credential", ""), date, region, "x-oss-credential")
    check_not_ahead(moment)
    if now_utc() - moment > MAX_V4_AGE:
        raise Refused(403, "AccessDenied", "Request has expired.")
    return access_key_id, date[:8]


def named_by(conditions: List) -> Set[str]:
    """The fields (lower case) that `eq` conditions pin."""
    names = set()
    for condition in conditions:
        if isinstance(condition, dict):
            names.update(name.lower() for name in condition)
        elif isinstance(condition, list) and len(condition) == 3 and str(condition[0]).lower() == "eq":
            names.add(str(condition[1]).lstrip("$").lower())
    return names


def check_v4_policy_names(conditions: List) -> None:
    named = named_by(conditions)
    missing = [name for name in V4_POLICY_FIELDS if name not in named]
    if missing:
        raise Refused(403, "AccessDenied", f"Invalid according to Policy: the policy does not name {missing[0]}"
                      " (a V4 form's policy names x-oss-signature-version, x-oss-credential and x-oss-date).")


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
    if op not in ("eq", "starts-with", "in", "not-in"):
        raise Refused(400, "InvalidPolicyDocument", f"Invalid Policy: unknown condition {op!r}.")
    name, value = condition[1].lstrip("$").lower(), condition[2]
    actual = values.get(name)
    if op == "eq":
        held = actual == value
    elif op == "starts-with":
        held = isinstance(value, str) and actual is not None and actual.startswith(value)
    else:
        held = isinstance(value, list) and (actual in value) == (op == "in")
    if not held:
        refuse(json.dumps(condition)[:80])
