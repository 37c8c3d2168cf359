"""The stand-in CDN: Alibaba Cloud's published examples for types A, B and C are served at their
time and refused after it or tampered; CloudFront URLs signed by botocore's CloudFrontSigner
(and cookies of a custom policy) are served while the policy holds and for the resources it
covers only; the origin fetch gets the percent-decoded key."""

import datetime
import unittest

import requests
from botocore.signers import CloudFrontSigner
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from standin.cdn import AliyunUrlAuth, CloudFrontAuth, StandInCdn

KEY = "aliyuncdnexp1234"  # the documentation's example key


class Clock:
    def __init__(self, now):
        self.now = now

    def __call__(self):
        return self.now


class CdnTestCase(unittest.TestCase):
    def serve(self, auth, now):
        self.fetched = []
        self.clock = Clock(now)

        def fetch(key):
            self.fetched.append(key)
            return 200, "text/plain", b"bytes of " + key.encode()

        cdn = StandInCdn(auth, fetch, self.clock)
        port = cdn.start()
        self.addCleanup(cdn.stop)
        return f"http://127.0.0.1:{port}"

    def get(self, url, **kwargs):
        return requests.get(url, timeout=10, **kwargs)


class AliyunTest(CdnTestCase):
    def test_the_documentations_examples_are_served_in_time_and_refused_after(self):
        examples = [
            ("A", "/video/standard/1K.html?auth_key=1444435200-0-0-80cd3862d699b7118eed99103f2a3a4f", 1444435200,
             "video/standard/1K.html"),
            ("B", "/201508150800/9044548ef1527deadafa49a890a377f0/4/44/44c0909bcfc20a01afaf256ca99a8b8b.mp3", 1439596800,
             "4/44/44c0909bcfc20a01afaf256ca99a8b8b.mp3"),
            ("C", "/a37fa50a5fb8f71214b1e7c95ec7a1bd/55CE8100/test.flv", 1439596800, "test.flv"),
        ]
        for auth_type, target, start, key in examples:
            with self.subTest(auth_type=auth_type):
                origin = self.serve(AliyunUrlAuth(auth_type, ["otherkey12345678", KEY], 1800), start + 1800)
                answer = self.get(origin + target)
                self.assertEqual((answer.status_code, answer.content), (200, b"bytes of " + key.encode()))
                self.clock.now = start + 1801
                self.assertEqual(self.get(origin + target).status_code, 403)
                self.clock.now = start
                tampered = target.replace("80cd", "80ce").replace("9044", "9045").replace("a37f", "a37e")
                self.assertEqual(self.get(origin + tampered).status_code, 403)
                self.assertEqual(self.get(origin + "/" + key).status_code, 403)
                self.assertEqual(self.fetched, [key])


class CloudFrontTest(CdnTestCase):
    def setUp(self):
        self.key = rsa.generate_private_key(public_exponent=65537, key_size=2048)

    def signer(self):
        sign = lambda message: self.key.sign(message, padding.PKCS1v15(), hashes.SHA1())  # noqa: E731
        return CloudFrontSigner("K2JCJMDEHXQW5F", sign)

    def test_canned_urls_and_cookies_are_served_only_where_and_while_the_policy_holds(self):
        now = 1_795_337_590
        origin = self.serve(CloudFrontAuth("https://d111111abcdef8.cloudfront.net", "K2JCJMDEHXQW5F",
                                           self.key.public_key()), now)
        expires = datetime.datetime.fromtimestamp(now + 600, datetime.timezone.utc)
        signed = self.signer().generate_presigned_url(
            "https://d111111abcdef8.cloudfront.net/uploads/alice/a%20b.jpg", date_less_than=expires)
        target = signed.replace("https://d111111abcdef8.cloudfront.net", origin)
        self.assertEqual(self.get(target).content, b"bytes of uploads/alice/a b.jpg")
        self.assertEqual(self.get(target.replace("alice", "bob")).status_code, 403)
        self.assertEqual(self.get(target.replace("Expires=", "Expires=1")).status_code, 403)
        self.clock.now = now + 600
        self.assertEqual(self.get(target).status_code, 403)
        self.clock.now = now
        policy = self.signer().build_policy("https://d111111abcdef8.cloudfront.net/uploads/alice/*", expires)
        cookie_url = self.signer().generate_presigned_url("https://x/", policy=policy)
        fields = dict(part.split("=", 1) for part in cookie_url.split("?", 1)[1].split("&"))
        cookies = {f"CloudFront-{name}": value for name, value in fields.items()}
        self.assertEqual(self.get(origin + "/uploads/alice/any/thing.png", cookies=cookies).status_code, 200)
        self.assertEqual(self.get(origin + "/uploads/bob/thing.png", cookies=cookies).status_code, 403)
        self.assertEqual(self.get(origin + "/uploads/alice/thing.png").status_code, 403)


if __name__ == "__main__":
    unittest.main()
