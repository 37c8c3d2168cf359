"""Writes tests/vectors/aws_sigv4.json from the AWS SigV4 signing test suite.

The suite ships inside the `aws-sigv4` crate on crates.io (aws-signing-test-suite/v4/, from
awslabs/aws-c-auth, Apache-2.0). Only cases that apply to S3-style signing (single URI
encoding, no path normalization) are taken, in header and query (presigned) form, plus the
S3 presigned-URL example from the AWS documentation.

usage: python3 scripts/vectors/import_aws_sigv4_suite.py ~/.cargo/registry/src/*/aws-sigv4-1.6.4/aws-signing-test-suite/v4
"""

import json
import pathlib
import sys
import urllib.parse

CASES = [
    "get-vanilla", "get-vanilla-query", "get-unreserved", "get-utf8", "get-space-unnormalized",
    "get-vanilla-query-order-key-case", "get-vanilla-query-unreserved", "get-vanilla-utf8-query",
    "get-vanilla-empty-query-key", "get-vanilla-with-session-token", "post-vanilla",
    "post-vanilla-query", "post-header-key-sort", "post-x-www-form-urlencoded",
    "post-x-www-form-urlencoded-parameters", "post-sts-header-before",
]
OUT = pathlib.Path(__file__).resolve().parents[2] / "tests" / "vectors" / "aws_sigv4.json"


def parse_request(text: str):
    head, _, body = text.partition("\n\n")
    lines = head.split("\n")
    method, rest = lines[0].split(" ", 1)
    target = rest.rsplit(" ", 1)[0]  # the path may hold spaces
    path, _, query = target.partition("?")
    pairs = [tuple(p.split("=", 1)) if "=" in p else (p, "") for p in query.split("&") if p]
    pairs = [(urllib.parse.unquote(k), urllib.parse.unquote(v)) for k, v in pairs]
    return method, path, pairs, body


def parse_canonical(text: str):
    lines = text.split("\n")
    signed = lines[-2].split(";")
    headers = [tuple(line.split(":", 1)) for line in lines[3 : 3 + len(signed)]]
    return headers, lines[-1]


def case(root: pathlib.Path, name: str, mode: str):
    d = root / name
    if not (d / f"{mode}-canonical-request.txt").exists():
        return None
    context = json.loads((d / "context.json").read_text())
    method, path, query, body = parse_request((d / "request.txt").read_text())
    canonical = (d / f"{mode}-canonical-request.txt").read_text()
    headers, payload_hash = parse_canonical(canonical)
    creds = context["credentials"]
    entry = {
        "name": f"{name} ({mode})",
        "source": f"official: AWS SigV4 test suite, aws-sigv4 1.6.4 crate, aws-signing-test-suite/v4/{name}/{mode}-*.txt (Apache-2.0, from awslabs/aws-c-auth)",
        "mode": mode,
        "method": method,
        "path": path,
        "query": [list(p) for p in query],
        "region": context["region"],
        "service": context["service"],
        "date_time": context["timestamp"].replace("-", "").replace(":", ""),
        "access_key_id": creds["access_key_id"],
        "secret_access_key": creds["secret_access_key"],
        "session_token": creds.get("token"),
        "payload_hash": payload_hash,
        "canonical_request": canonical,
        "string_to_sign": (d / f"{mode}-string-to-sign.txt").read_text(),
        "signature": (d / f"{mode}-signature.txt").read_text().strip(),
    }
    entry["headers"] = [list(h) for h in headers]
    if mode == "query":
        entry["expires"] = context["expiration_in_seconds"]
    return entry


def main(root: str) -> int:
    root = pathlib.Path(root)
    cases = [c for name in CASES for mode in ("header", "query") if (c := case(root, name, mode))]
    # AWS's own S3 example, with its documentation key, is kept in tests/vectors beside this output.
    cases.append(json.loads((OUT.parent / "aws_s3_doc_examples.json").read_text())["presigned_url"]["case"])
    doc = {
        "algorithm": "AWS Signature Version 4 (AWS4-HMAC-SHA256), header and query (presigned) signing, S3-style single URI encoding",
        "reference": "https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_sigv-create-signed-request.html",
        "licence": "cases from the AWS SigV4 test suite are Apache-2.0 (awslabs/aws-c-auth, as shipped in the aws-sigv4 crate); see tests/vectors/NOTICE",
        "generator": "scripts/vectors/import_aws_sigv4_suite.py",
        "cases": cases,
    }
    OUT.write_text(json.dumps(doc, indent=2, ensure_ascii=False) + "\n")
    print(f"wrote {len(cases)} cases to {OUT}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
