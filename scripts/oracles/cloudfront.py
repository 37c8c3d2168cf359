"""CloudFront signed URLs and cookies, checked with botocore's own signer
(`botocore.signers.CloudFrontSigner`) and the `cryptography` package; nothing here comes from
stsvend's code.

    cloudfront.py keys DIR      writes the private keys the test configures presign-url with:
                                rsa-pkcs1.pem, rsa-pkcs8.pem (RSA 2048), ec-sec1.pem, ec-pkcs8.pem
                                (P-256), and keys CloudFront would not take: rsa-1024.pem,
                                ec-p384.pem, rsa-encrypted.pem; prints their names as JSON.
    cloudfront.py verify        reads one record a line on stdin:
        {"case", "kind": "url"|"cookies", "key_file", "hash": "SHA1"|"SHA256", "key_pair_id",
         "url" (kind url: the object's URL, no query) | "resource" (kind cookies), "expires",
         "answer": presign-url's answer}
                                and checks it: an RSA URL must equal the URL botocore signs for
                                the same URL and expiry (PKCS #1 v1.5 is deterministic); an RSA
                                cookie set must hold botocore's custom policy and the signature
                                cryptography makes of it; an ECDSA signature (random in
                                cryptography) must verify with the public key. A SHA-256 URL also
                                carries Hash-Algorithm=SHA256 (botocore signs SHA-1 only; its
                                signer is handed a SHA-256 signature, as the CloudFront guide says).
                                Exits 1 on the first wrong record.
"""

import base64
import datetime
import json
import pathlib
import sys
import urllib.parse

from botocore.signers import CloudFrontSigner
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa


def write_keys(folder):
    folder = pathlib.Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    rsa_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    ec_key = ec.generate_private_key(ec.SECP256R1())
    pem = serialization.Encoding.PEM
    none = serialization.NoEncryption()
    keys = {
        "rsa-pkcs1.pem": rsa_key.private_bytes(pem, serialization.PrivateFormat.TraditionalOpenSSL, none),
        "rsa-pkcs8.pem": rsa_key.private_bytes(pem, serialization.PrivateFormat.PKCS8, none),
        "ec-sec1.pem": ec_key.private_bytes(pem, serialization.PrivateFormat.TraditionalOpenSSL, none),
        "ec-pkcs8.pem": ec_key.private_bytes(pem, serialization.PrivateFormat.PKCS8, none),
        "rsa-1024.pem": rsa.generate_private_key(public_exponent=65537, key_size=1024).private_bytes(
            pem, serialization.PrivateFormat.PKCS8, none),
        "ec-p384.pem": ec.generate_private_key(ec.SECP384R1()).private_bytes(
            pem, serialization.PrivateFormat.PKCS8, none),
        "rsa-encrypted.pem": rsa_key.private_bytes(
            pem, serialization.PrivateFormat.PKCS8, serialization.BestAvailableEncryption(b"pw")),
    }
    for name, text in keys.items():
        (folder / name).write_bytes(text)
    print(json.dumps(sorted(keys)))


def unsafe_b64(text):
    """CloudFront's URL-safe base64 back to bytes."""
    return base64.b64decode(text.replace("-", "+").replace("_", "=").replace("~", "/"))


def hash_of(name):
    return hashes.SHA256() if name == "SHA256" else hashes.SHA1()


def signer_for(key, hash_name):
    def sign(message):
        if isinstance(key, rsa.RSAPrivateKey):
            return key.sign(message, padding.PKCS1v15(), hash_of(hash_name))
        return key.sign(message, ec.ECDSA(hash_of(hash_name)))
    return sign


def verify_signature(key, signature, message, hash_name):
    public = key.public_key()
    if isinstance(key, rsa.RSAPrivateKey):
        public.verify(signature, message, padding.PKCS1v15(), hash_of(hash_name))
    else:
        public.verify(signature, message, ec.ECDSA(hash_of(hash_name)))


def check_url(record, key, signer):
    url = record["answer"]["URL"]
    expires = datetime.datetime.fromtimestamp(record["expires"], datetime.timezone.utc)
    expected = signer.generate_presigned_url(record["url"], date_less_than=expires)
    if record["hash"] == "SHA256":
        expected += "&Hash-Algorithm=SHA256"
    if isinstance(key, rsa.RSAPrivateKey):
        assert url == expected, f"{url}\n  botocore: {expected}"
        return
    # ECDSA: the same URL but for the signature, which must verify.
    base, _, query = url.partition("?")
    params = urllib.parse.parse_qs(query, keep_blank_values=True, strict_parsing=True)
    expected_params = urllib.parse.parse_qs(expected.partition("?")[2])
    assert base == record["url"], base
    assert sorted(params) == sorted(expected_params), (params, expected_params)
    for name in params:
        if name != "Signature":
            assert params[name] == expected_params[name], name
    policy = signer.build_policy(record["url"], expires).encode()
    verify_signature(key, unsafe_b64(params["Signature"][0]), policy, record["hash"])


def check_cookies(record, key, signer):
    answer = record["answer"]
    cookies = answer["Cookies"]
    expected_names = {"CloudFront-Policy", "CloudFront-Signature", "CloudFront-Key-Pair-Id"}
    if record["hash"] == "SHA256":
        expected_names.add("CloudFront-Hash-Algorithm")
        assert cookies["CloudFront-Hash-Algorithm"] == "SHA256"
    assert set(cookies) == expected_names, cookies
    assert answer["Resource"] == record["resource"], answer["Resource"]
    assert cookies["CloudFront-Key-Pair-Id"] == record["key_pair_id"]
    expires = datetime.datetime.fromtimestamp(record["expires"], datetime.timezone.utc)
    policy = signer.build_policy(record["resource"], expires)
    assert unsafe_b64(cookies["CloudFront-Policy"]).decode() == policy, cookies["CloudFront-Policy"]
    signature = unsafe_b64(cookies["CloudFront-Signature"])
    if isinstance(key, rsa.RSAPrivateKey):
        expected = signer_for(key, record["hash"])(policy.encode())
        assert signature == expected, "the RSA signature differs from cryptography's"
    verify_signature(key, signature, policy.encode(), record["hash"])


def verify():
    count = 0
    for line in sys.stdin:
        if not line.strip():
            continue
        record = json.loads(line)
        key = serialization.load_pem_private_key(
            pathlib.Path(record["key_file"]).read_bytes(), password=None)
        signer = CloudFrontSigner(record["key_pair_id"], signer_for(key, record["hash"]))
        try:
            if record["kind"] == "url":
                check_url(record, key, signer)
            else:
                check_cookies(record, key, signer)
        except Exception as error:  # one line naming the case, then stop
            print(f"MISMATCH {record['case']}: {error!r}", file=sys.stderr)
            return 1
        count += 1
    print(f"{count} CloudFront answers agree with botocore and cryptography", file=sys.stderr)
    return 0 if count else 1


if __name__ == "__main__":
    if sys.argv[1:2] == ["keys"]:
        write_keys(sys.argv[2])
    elif sys.argv[1:2] == ["verify"]:
        sys.exit(verify())
    else:
        sys.exit(__doc__)
