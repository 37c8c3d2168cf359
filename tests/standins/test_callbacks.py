"""Upload callbacks, as OSS makes them: on PUT (the `callback` query parameter presign-url
signs, or ali-oss's `x-oss-callback` header), on multipart complete, with image values; the
callback is signed with the stand-in's key as OSS signs (checked here with `cryptography`
against the documented string to sign), and its answer relayed to the uploader."""

import base64
import hashlib
import json
import os
import urllib.parse
import xml.etree.ElementTree as ET

import oss2
import requests
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding
from oss2.models import PartInfo

from support import Receiver, StandInTestCase
from test_process import png

BODY = ('{"bucket":${bucket},"object":${object},"etag":${etag},"size":${size},"mimeType":${mimeType},'
        '"height":${imageInfo.height},"width":${imageInfo.width},"format":${imageInfo.format},'
        '"crc64":${crc64},"album":${x:album}}')


def callback_param(url: str, body: str = BODY) -> str:
    spec = {"callbackUrl": url, "callbackBody": body, "callbackBodyType": "application/json"}
    return base64.b64encode(json.dumps(spec).encode()).decode()


def callback_var(**values) -> str:
    return base64.b64encode(json.dumps({f"x:{k}": v for k, v in values.items()}).encode()).decode()


class CallbacksTest(StandInTestCase):
    def setUp(self):
        super().setUp()
        self.receiver = Receiver()

    def tearDown(self):
        self.receiver.stop()
        super().tearDown()

    def verify_signature(self, path: str, headers: dict, body: bytes) -> None:
        """What an app does: RSA (PKCS#1 v1.5, MD5) over the decoded path, the query, "\\n"
        and the body, with the key at x-oss-pub-key-url (here: the stand-in's own)."""
        self.assertEqual(base64.b64decode(headers["x-oss-pub-key-url"]).decode(),
                         "https://gosspublic.alicdn.com/callback_pub_key_v1.pem")
        parts = urllib.parse.urlsplit(path)
        signed = urllib.parse.unquote(parts.path) + "?" + parts.query + "\n" + body.decode()
        key = serialization.load_pem_public_key(self.oss.public_key_pem().encode())
        key.verify(base64.b64decode(headers["authorization"]), signed.encode(), padding.PKCS1v15(), hashes.MD5())

    def test_a_signed_url_put_with_a_pinned_callback(self):
        bucket = self.bucket()
        url = bucket.sign_url("PUT", "uploads/photo.png", 60, params={
            "callback": callback_param(self.receiver.url), "callback-var": callback_var(album="summer")},
            headers={"Content-Type": "image/png"})
        data = png()
        answer = requests.put(url, data=data, headers={"Content-Type": "image/png"}, timeout=10)
        self.assertEqual((answer.status_code, answer.json()), (200, {"recorded": True}))
        path, headers, body = self.receiver.requests[0]
        self.verify_signature(path, headers, body)
        self.assertEqual(json.loads(body), {
            "bucket": "examplebucket", "object": "uploads/photo.png", "etag": hashlib.md5(data).hexdigest().upper(),
            "size": len(data), "mimeType": "image/png", "height": "48", "width": "64", "format": "png",
            "crc64": str(crc64(data)), "album": "summer"})

    def test_the_x_oss_callback_header_as_ali_oss_sends_it(self):
        bucket = self.bucket()
        bucket.put_object("notes.txt", b"text", headers={
            "x-oss-callback": callback_param(self.receiver.url, '{"object":${object},"height":${imageInfo.height}}')})
        _, _, body = self.receiver.requests[0]
        self.assertEqual(json.loads(body), {"object": "notes.txt", "height": ""})

    def test_a_callback_at_multipart_complete(self):
        bucket = self.bucket()
        upload_id = bucket.init_multipart_upload("v.bin").upload_id
        parts = [PartInfo(1, bucket.upload_part("v.bin", upload_id, 1, b"a" * 102400).etag),
                 PartInfo(2, bucket.upload_part("v.bin", upload_id, 2, b"b").etag)]
        bucket.complete_multipart_upload("v.bin", upload_id, parts, headers={
            "x-oss-callback": callback_param(self.receiver.url, '{"object":${object},"size":${size},"etag":${etag}}')})
        _, headers, body = self.receiver.requests[0]
        self.verify_signature(self.receiver.requests[0][0], headers, body)
        self.assertEqual(json.loads(body)["size"], 102401)
        self.assertTrue(json.loads(body)["etag"].endswith("-2"))

    def test_an_unreachable_callback_is_callback_failed(self):
        bucket = self.bucket()
        url = bucket.sign_url("PUT", "x.txt", 60, params={"callback": callback_param("http://127.0.0.1:9/")})
        answer = requests.put(url, data=b"x", timeout=10)
        self.assertEqual(answer.status_code, 203)
        self.assertIn("<Code>CallbackFailed</Code>", answer.text)
        self.assertEqual(bucket.get_object("x.txt").read(), b"x")  # stored all the same, as on OSS

    def test_a_malformed_callback_is_refused_before_storing(self):
        bucket = self.bucket()
        url = bucket.sign_url("PUT", "y.txt", 60, params={"callback": "bm90IGpzb24="})
        self.assertXmlError(requests.put(url, data=b"y", timeout=10), 400, "InvalidArgument", "callback")
        self.assertRefused(lambda: bucket.get_object("y.txt"), 404, "NoSuchKey")

    def test_a_callback_url_that_is_not_http_is_refused_before_storing(self):
        """A callbackUrl goes to the stand-in's HTTP client: anything but an http(s) URL with a
        host (a local file, ftp, data) is 400 InvalidArgument before the upload is stored, and
        the answer never holds what such a URL would read."""
        secret = os.path.join(self.work, "secret.txt")
        with open(secret, "w") as f:
            f.write("top secret line from the developer's disk")
        bucket = self.bucket()
        for url in (f"file://{secret}", f"http://127.0.0.1:9/;file://{secret}", "ftp://127.0.0.1/x",
                    "data:text/plain,hello", "http:///no-host", "http://127.0.0.1:port/", "127.0.0.1:8080/cb"):
            with self.subTest(url):
                signed = bucket.sign_url("PUT", "z.txt", 60, params={"callback": callback_param(url)})
                answer = requests.put(signed, data=b"z", timeout=10)
                self.assertXmlError(answer, 400, "InvalidArgument", "The callbackUrl is invalid.")
                self.assertNotIn("top secret", answer.text)
                self.assertIn("<EC>0007-00000004</EC>", answer.text)
        self.assertRefused(lambda: bucket.get_object("z.txt"), 404, "NoSuchKey")
        self.assertEqual(self.oss.callbacks, [])

    def test_a_redirect_is_not_followed(self):
        redirect = Receiver(302, b"", {"Location": self.receiver.url})
        self.addCleanup(redirect.stop)
        bucket = self.bucket()
        url = bucket.sign_url("PUT", "r.txt", 60, params={"callback": callback_param(redirect.url)})
        answer = requests.put(url, data=b"r", timeout=10)
        self.assertEqual(answer.status_code, 203, answer.text)
        self.assertEqual(message(answer), "Error status : 302.")
        self.assertEqual(self.receiver.requests, [])

    def test_a_failed_callback_tells_its_status_and_a_short_reason(self):
        """OSS's CallbackFailed: "Error status : <status>." and a short reason, not the app's
        whole answer."""
        failing = Receiver(500, b'{"error":"AppDown","detail":"' + b"x" * 5000 + b'"}\nsecond line')
        self.addCleanup(failing.stop)
        bucket = self.bucket()
        url = bucket.sign_url("PUT", "f.txt", 60, params={"callback": callback_param(failing.url)})
        answer = requests.put(url, data=b"f", timeout=10)
        self.assertEqual(answer.status_code, 203)
        text = message(answer)
        self.assertTrue(text.startswith('Error status : 500. {"error":"AppDown"'), text)
        self.assertLessEqual(len(text), len("Error status : 500. ") + 100)
        self.assertNotIn("second line", answer.text)

    def test_several_callback_urls_are_tried_in_turn(self):
        bucket = self.bucket()
        both = f"http://127.0.0.1:9/;{self.receiver.url}"
        url = bucket.sign_url("PUT", "t.txt", 60, params={"callback": callback_param(both)})
        answer = requests.put(url, data=b"t", timeout=10)
        self.assertEqual((answer.status_code, answer.json()), (200, {"recorded": True}))
        self.assertEqual([status for _, status, _ in self.oss.callbacks], [-1, 200])


def message(answer) -> str:
    return ET.fromstring(answer.content).findtext("Message")


def crc64(data: bytes) -> int:
    """CRC-64/ECMA as oss2 computes it (the stand-in computes its own with crcmod)."""
    crc = oss2.utils.Crc64(0)
    crc.update(data)
    return crc.crc
