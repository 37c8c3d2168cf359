"""Verifies what the ali-oss web example sent, with Alibaba's official SDKs from PyPI.

Reads the requests tests/browser/alioss.test.mjs intercepted (JSON lines: kind, method, url,
headers, and the vended temporary credentials):
- kind "oss": oss2 signs the same request (method, bucket, key, query, every header the browser
  sent, the security token) with its clock pinned to the request's x-oss-date, and its
  `Authorization` header must equal the one ali-oss sent;
- kind "imm": alibabacloud-openapi-util's get_rpcsignature over the query's parameters must give
  the `Signature` the page computed, and the parameters must carry the vended key and token.
Fails when the file is missing or empty, or any request fails.

usage: verify_alioss_requests.py target/tmp/alioss-requests.jsonl
"""

import json
import sys
import urllib.parse
from unittest import mock

import oss2
from alibabacloud_openapi_util.client import Client


def check_oss(request) -> list:
    parts = urllib.parse.urlsplit(request["url"])
    bucket = parts.hostname.split(".")[0]
    key = urllib.parse.unquote(parts.path.lstrip("/"))
    params = dict(urllib.parse.parse_qsl(parts.query, keep_blank_values=True))
    headers = {k: v for k, v in request["headers"].items() if k.lower() != "authorization"}
    sent = request["headers"].get("authorization", "")
    auth = oss2.ProviderAuth(oss2.credentials.StaticCredentialsProvider(
        request["access_key_id"], request["access_key_secret"], request["security_token"]))
    oss_request = oss2.http.Request(request["method"], request["url"], params=params, headers=headers)
    date = headers.get("x-oss-date") or headers.get("date")
    with mock.patch.object(oss2.auth.utils, "http_date", return_value=date):
        auth._sign_request(oss_request, bucket, key)
    problems = []
    if bucket != request["bucket"]:
        problems.append(f"bucket {bucket}")
    if oss_request.headers["authorization"] != sent:
        problems.append(f"Authorization {sent!r} != oss2's {oss_request.headers['authorization']!r}")
    if headers.get("x-oss-security-token") != request["security_token"]:
        problems.append("the security token is not attached")
    return problems


def check_imm(request) -> list:
    params = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(request["url"]).query, keep_blank_values=True))
    signature = params.pop("Signature", None)
    problems = []
    official = Client.get_rpcsignature(params, request["method"], request["access_key_secret"])
    if signature != official:
        problems.append(f"Signature {signature!r} != openapi-util's {official!r}")
    for name, value in [("AccessKeyId", request["access_key_id"]), ("SecurityToken", request["security_token"]),
                        ("Action", "DetectImageFaces"), ("SignatureVersion", "1.0")]:
        if params.get(name) != value:
            problems.append(f"{name} is {params.get(name)!r}")
    return problems


def main(path: str) -> int:
    with open(path, encoding="utf-8") as f:
        requests = [json.loads(line) for line in f if line.strip()]
    passed = failed = 0
    for i, request in enumerate(requests):
        problems = (check_oss if request["kind"] == "oss" else check_imm)(request)
        if problems:
            failed += 1
            print(f"FAIL {request['kind']} request {i}: " + "; ".join(problems))
        else:
            passed += 1
            print(f"ok   {request['kind']} {request['method']} {request['url'][:90]}")
    print("what ali-oss and the page sent, checked with oss2 and alibabacloud-openapi-util")
    print(f"alioss-sdks: {passed} passed, {failed} failed")
    return 1 if failed or not passed else 0


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    sys.exit(main(sys.argv[1]))
