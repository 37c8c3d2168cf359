"""presign-url's cold start with a CDN configured: process start to the first answered
`"via":"cdn"` request over loopback, median of N starts, for no CDN (a bucket GET), Alibaba Cloud
CDN type A, and CloudFront with an RSA 2048 and a P-256 key (read and checked at cold start).

usage: .venv/bin/python bench/cdn_cold_start.py [--starts 10] [--target target/release]
"""

import argparse
import json
import os
import pathlib
import socket
import statistics
import subprocess
import tempfile
import time
import urllib.request

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def one_start(binary, env, body):
    port = free_port()
    started = time.perf_counter()
    child = subprocess.Popen([binary], env={**env, "PORT": str(port)}, stdout=subprocess.DEVNULL,
                             stderr=subprocess.DEVNULL)
    try:
        while True:
            try:
                request = urllib.request.Request(f"http://127.0.0.1:{port}/", data=json.dumps(body).encode())
                with urllib.request.urlopen(request, timeout=2) as answer:
                    assert answer.status == 200
                    return (time.perf_counter() - started) * 1000
            except (ConnectionError, urllib.error.URLError):
                time.sleep(0.0005)
    finally:
        child.terminate()
        child.wait()


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--starts", type=int, default=10)
    parser.add_argument("--target", default=os.environ.get("CARGO_TARGET_DIR", "target") + "/release")
    args = parser.parse_args()
    binary = str(pathlib.Path(args.target) / "presign-url")
    folder = pathlib.Path(tempfile.mkdtemp())
    pem, none = serialization.Encoding.PEM, serialization.NoEncryption()
    for name, key in [("rsa.pem", rsa.generate_private_key(public_exponent=65537, key_size=2048)),
                      ("ec.pem", ec.generate_private_key(ec.SECP256R1()))]:
        (folder / name).write_bytes(key.private_bytes(pem, serialization.PrivateFormat.PKCS8, none))
    base = {"PATH": os.environ.get("PATH", ""), "AUTH_MODE": "none", "BUCKET": "examplebucket",
            "BUCKET_REGION": "cn-hangzhou", "ALIBABA_CLOUD_ACCESS_KEY_ID": "LTAI-bench",
            "ALIBABA_CLOUD_ACCESS_KEY_SECRET": "bench-secret", "RUST_LOG": "warn"}
    cloudfront = {"CDN_DOMAIN": "https://d111111abcdef8.cloudfront.net", "CDN_AUTH_TYPE": "cloudfront",
                  "CLOUDFRONT_KEY_PAIR_ID": "K2JCJMDEHXQW5F"}
    cases = [
        ("no CDN, bucket GET", base, {"key": "uploads/anonymous/a.jpg"}),
        ("Alibaba Cloud CDN type A", {**base, "CDN_DOMAIN": "https://cdn.example.com", "CDN_AUTH_TYPE": "A",
                                      "CDN_AUTH_KEY": "aliyuncdnexp1234"}, {"key": "uploads/anonymous/a.jpg", "via": "cdn"}),
        ("CloudFront, RSA 2048", {**base, **cloudfront, "CLOUDFRONT_PRIVATE_KEY_FILE": str(folder / "rsa.pem")},
         {"key": "uploads/anonymous/a.jpg", "via": "cdn"}),
        ("CloudFront, ECDSA P-256", {**base, **cloudfront, "CLOUDFRONT_PRIVATE_KEY_FILE": str(folder / "ec.pem")},
         {"key": "uploads/anonymous/a.jpg", "via": "cdn"}),
    ]
    for name, env, body in cases:
        times = [one_start(binary, env, body) for _ in range(args.starts)]
        print(f"{name}: median {statistics.median(times):.2f} ms over {args.starts} starts")


if __name__ == "__main__":
    main()
