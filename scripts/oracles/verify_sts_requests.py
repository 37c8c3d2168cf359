"""Verifies the AssumeRole requests issue-token actually sent, with Alibaba's official SDK.

Reads the JSON lines written by functions/issue-token/tests/it/http_mode.rs (each: method, path,
form body, and the test's AccessKeySecret) and checks every Signature with
alibabacloud-openapi-util's get_rpcsignature, the function the official SDKs sign RPC calls
with. Fails when the file is missing or empty, so it cannot pass without checking anything.

usage: verify_sts_requests.py target/tmp/sts-requests.jsonl
"""

import json
import sys
import urllib.parse

from alibabacloud_openapi_util.client import Client

REQUIRED = {
    "AccessKeyId", "Action", "DurationSeconds", "Format", "Policy", "RoleArn", "RoleSessionName",
    "SignatureMethod", "SignatureNonce", "SignatureVersion", "Timestamp", "Version",
}


def main(path: str) -> int:
    with open(path, encoding="utf-8") as f:
        requests = [json.loads(line) for line in f if line.strip()]
    passed = failed = 0
    nonces = set()
    for i, request in enumerate(requests):
        pairs = urllib.parse.parse_qsl(request["body"], keep_blank_values=True, strict_parsing=True)
        params = dict(pairs)
        problems = []
        if len(params) != len(pairs):
            problems.append("a parameter appears twice")
        signature = params.pop("Signature", None)
        official = Client.get_rpcsignature(params, request["method"], request["access_key_secret"])
        if signature != official:
            problems.append(f"Signature {signature!r} != openapi-util's {official!r}")
        missing = REQUIRED - params.keys()
        if missing:
            problems.append(f"missing {sorted(missing)}")
        if params.get("SignatureNonce") in nonces:
            problems.append("SignatureNonce reused")
        nonces.add(params.get("SignatureNonce"))
        if problems:
            failed += 1
            print(f"FAIL request {i}: " + "; ".join(problems))
        else:
            passed += 1
    print("AssumeRole requests sent by issue-token, checked with alibabacloud-openapi-util")
    print(f"openapi-util-requests: {passed} passed, {failed} failed")
    return 1 if failed or not passed else 0


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    sys.exit(main(sys.argv[1]))
