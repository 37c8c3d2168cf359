"""Checks tests/vectors/aliyun_rpc_v1.json against Alibaba's official alibabacloud-openapi-util.

For every case: openapi-util's get_rpcsignature over the case's parameters must give the
case's signature, and HMAC-SHA1 over the case's hand-written string_to_sign must give it too
(so the written-out stage is exactly what the official signature covers).
"""

import base64
import hashlib
import hmac
import json
import pathlib
import sys

from alibabacloud_openapi_util.client import Client

VECTORS = pathlib.Path(__file__).resolve().parents[2] / "tests" / "vectors" / "aliyun_rpc_v1.json"


def main() -> int:
    cases = json.loads(VECTORS.read_text())["cases"]
    passed = failed = 0
    for case in cases:
        params = dict(case["params"])
        official = Client.get_rpcsignature(params, case["method"], case["access_key_secret"])
        key = (case["access_key_secret"] + "&").encode()
        over_stage = base64.b64encode(
            hmac.new(key, case["string_to_sign"].encode(), hashlib.sha1).digest()
        ).decode()
        problems = []
        if official != case["signature"]:
            problems.append(f"openapi-util gives {official}, the file says {case['signature']}")
        if over_stage != case["signature"]:
            problems.append("the written string_to_sign is not what the signature covers")
        if problems:
            failed += 1
            print(f"FAIL {case['name']}: " + "; ".join(problems))
        else:
            passed += 1
            print(f"ok   {case['name']}")
    print(f"openapi-util-vectors: {passed} passed, {failed} failed")
    return 1 if failed or not passed else 0


if __name__ == "__main__":
    sys.exit(main())
