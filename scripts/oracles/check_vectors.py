"""Checks every file of tests/vectors/ against outside truth.

- aliyun_rpc_v1.json: Alibaba's alibabacloud-openapi-util get_rpcsignature over each case's
  parameters must give the case's signature.
- aws_sigv4.json: the published canonical request of each case hashes and signs to its
  published signature (and, for the S3 documentation example, to its published digest).
- every file: an independent HMAC (Python's hmac/hashlib) over each written-out stage
  (RPC string_to_sign, OSS V1 string_to_sign, OSS V4 canonical_request, POST policy_base64)
  must give the case's published signature, so a hand-written stage is exactly what the
  official signature covers.

Rust's crates/sign/tests/vectors.rs checks stsvend against the same files stage by stage.
"""

import base64
import hashlib
import hmac
import json
import pathlib
import sys

from alibabacloud_openapi_util.client import Client

VECTORS = pathlib.Path(__file__).resolve().parents[2] / "tests" / "vectors"


def b64_hmac_sha1(key: str, message: str) -> str:
    return base64.b64encode(hmac.new(key.encode(), message.encode(), hashlib.sha1).digest()).decode()


def v4_signing_key(secret: str, date: str, region: str, product: str) -> bytes:
    key = ("aliyun_v4" + secret).encode()
    for part in (date, region, product, "aliyun_v4_request"):
        key = hmac.new(key, part.encode(), hashlib.sha256).digest()
    return key


def rpc_case(case):
    problems = []
    official = Client.get_rpcsignature(dict(case["params"]), case["method"], case["access_key_secret"])
    if official != case["signature"]:
        problems.append(f"openapi-util gives {official}")
    if b64_hmac_sha1(case["access_key_secret"] + "&", case["string_to_sign"]) != case["signature"]:
        problems.append("string_to_sign is not what the signature covers")
    return problems


def oss_v1_case(case):
    if b64_hmac_sha1(case["access_key_secret"], case["string_to_sign"]) != case["signature"]:
        return ["string_to_sign is not what the signature covers"]
    if not case["string_to_sign"].endswith(case["canonicalized_resource"]):
        return ["string_to_sign does not end with canonicalized_resource"]
    return []


def oss_v4_case(case):
    if "canonical_request" not in case:
        return []  # only the signature is published; crates/sign/tests/vectors.rs checks it
    date = case["date_time"][:8]
    scope = f"{date}/{case['region']}/{case['product']}/aliyun_v4_request"
    digest = hashlib.sha256(case["canonical_request"].encode()).hexdigest()
    string_to_sign = f"OSS4-HMAC-SHA256\n{case['date_time']}\n{scope}\n{digest}"
    key = v4_signing_key(case["access_key_secret"], date, case["region"], case["product"])
    if hmac.new(key, string_to_sign.encode(), hashlib.sha256).hexdigest() != case["signature"]:
        return ["canonical_request is not what the signature covers"]
    return []


def aws_sigv4_case(case):
    date = case["date_time"][:8]
    key = ("AWS4" + case["secret_access_key"]).encode()
    for part in (date, case["region"], case["service"], "aws4_request"):
        key = hmac.new(key, part.encode(), hashlib.sha256).digest()
    digest = hashlib.sha256(case["canonical_request"].encode()).hexdigest()
    scope = f"{date}/{case['region']}/{case['service']}/aws4_request"
    string_to_sign = f"AWS4-HMAC-SHA256\n{case['date_time']}\n{scope}\n{digest}"
    problems = []
    if "string_to_sign" in case and case["string_to_sign"] != string_to_sign:
        problems.append("string_to_sign does not follow from canonical_request")
    if case.get("canonical_request_sha256", digest) != digest:
        problems.append("canonical_request does not hash to the published digest")
    if hmac.new(key, string_to_sign.encode(), hashlib.sha256).hexdigest() != case["signature"]:
        problems.append("canonical_request is not what the signature covers")
    return problems


def post_case(case):
    problems = []
    if base64.b64encode(case["policy"].encode()).decode() != case["policy_base64"]:
        problems.append("policy_base64 is not base64(policy)")
    if case["version"] == "v1":
        signature = b64_hmac_sha1(case["access_key_secret"], case["policy_base64"])
    else:
        key = v4_signing_key(case["access_key_secret"], case["date"], case["region"], "oss")
        signature = hmac.new(key, case["policy_base64"].encode(), hashlib.sha256).hexdigest()
    if signature != case["signature"]:
        problems.append("the signature does not cover policy_base64")
    return problems


CHECKS = {
    "aliyun_rpc_v1.json": rpc_case,
    "oss_v1_presign.json": oss_v1_case,
    "oss_v4_presign.json": oss_v4_case,
    "oss_post_policy.json": post_case,
    "aws_sigv4.json": aws_sigv4_case,
}


def main() -> int:
    passed = failed = 0
    for name, check in CHECKS.items():
        for case in json.loads((VECTORS / name).read_text())["cases"]:
            problems = check(case)
            if problems:
                failed += 1
                print(f"FAIL {name} / {case['name']}: " + "; ".join(problems))
            else:
                passed += 1
    print("tests/vectors checked with alibabacloud-openapi-util and independent HMACs")
    print(f"vectors: {passed} passed, {failed} failed")
    return 1 if failed or not passed else 0


if __name__ == "__main__":
    sys.exit(main())
