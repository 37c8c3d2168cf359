"""STS calls made by issue-token for many requests from many callers.

Runs the release issue-token in HTTP mode with AUTH_MODE=jwt (HS256) and the default
per-caller prefix against bench/sts_standin.py, sends --requests requests round-robin from
--callers distinct callers (each its own bearer token, so its own session policy), checks that
every answer is 200, and prints how many AssumeRole calls reached STS.

With --shared-prefix every caller has the same prefix (OBJECT_PREFIX=shared/), so the same
session policy: the calls must still be one per caller, since a credential belongs to the session
STS issued it for (an earlier cache keyed by policy alone made 1 call for them all).

usage: python3 bench/callers.py [--callers 100] [--requests 10000] [--shared-prefix]
"""

import argparse
import base64
import hashlib
import hmac
import http.client
import json
import os
import pathlib
import subprocess
import sys
import time

ROOT = pathlib.Path(__file__).resolve().parents[1]
SECRET = "bench-hs256-secret-0123456789abcdef"


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def tokens_until(exp: int):
    """A function from a subject to its HS256 bearer token (iss = aud = "bench", expiring at
    exp), with the header, the key and the claims around "sub" prepared once: bench/jwt_tokens.py
    writes hundreds of thousands of them."""
    head = b64(json.dumps({"alg": "HS256"}).encode())
    before, after = json.dumps({"iss": "bench", "aud": "bench", "sub": "\0", "exp": exp}).split('"\\u0000"')
    keyed = hmac.new(SECRET.encode(), digestmod=hashlib.sha256)

    def token_for(sub: str) -> str:
        body = b64(f"{before}{json.dumps(sub)}{after}".encode())
        mac = keyed.copy()
        mac.update(f"{head}.{body}".encode())
        return f"{head}.{body}.{b64(mac.digest())}"
    return token_for


def token(sub: str) -> str:
    return tokens_until(int(time.time()) + 3600)(sub)


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--callers", type=int, default=100)
    parser.add_argument("--requests", type=int, default=10_000)
    parser.add_argument("--shared-prefix", action="store_true")
    args = parser.parse_args()
    sts = subprocess.Popen([sys.executable, str(ROOT / "bench" / "sts_standin.py"), "9441"], stderr=subprocess.PIPE, text=True)
    env = {"PATH": os.environ.get("PATH", ""), "PORT": "9432", "RUST_LOG": "warn", "AUTH_MODE": "jwt",
           "JWT_HS256_SECRET": SECRET, "JWT_ISSUER": "bench", "JWT_AUDIENCE": "bench",
           "STS_ENDPOINT": "http://127.0.0.1:9441", "ALIBABA_CLOUD_ACCESS_KEY_ID": "LTAI-test-bench-key",
           "ALIBABA_CLOUD_ACCESS_KEY_SECRET": "bench-secret", "ROLE_ARN": "acs:ram::1234567890123:role/bench",
           "BUCKET": "examplebucket", "BUCKET_REGION": "cn-hangzhou"}
    if args.shared_prefix:
        env["OBJECT_PREFIX"] = "shared/"
    server = subprocess.Popen([str(ROOT / "target" / "release" / "issue-token")], env=env)
    time.sleep(0.5)
    tokens = [token(f"user-{i}") for i in range(args.callers)]
    conn = http.client.HTTPConnection("127.0.0.1", 9432)
    started = time.perf_counter()
    for n in range(args.requests):
        conn.request("GET", "/", headers={"Authorization": f"Bearer {tokens[n % len(tokens)]}"})
        answer = conn.getresponse()
        answer.read()
        assert answer.status == 200, answer.status
    elapsed = time.perf_counter() - started
    server.terminate()
    server.wait()
    sts.terminate()
    calls = [line for line in sts.stderr.read().splitlines() if line.startswith("calls=")]
    prefixes = "one shared prefix" if args.shared_prefix else "one prefix each"
    print(f"{args.requests} requests from {args.callers} callers ({prefixes}) in {elapsed:.1f} s: all 200")
    print(f"AssumeRole calls that reached STS: {calls[-1].split('=')[1] if calls else 0}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
