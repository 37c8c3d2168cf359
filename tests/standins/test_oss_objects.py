"""The OSS stand-in driven by the official oss2 SDK (header-signed V1 `oss2.Auth` and V4
`oss2.AuthV4` with a region, and `sign_url` URLs), and by plain HTTP where a request must be
one an SDK would not send. Bytes are compared with what was sent, never with the stand-in's
own output; refusals must carry OSS's status and code."""

import base64
import concurrent.futures
import datetime
import hashlib
import os
import socket
import urllib.parse
from unittest import mock

import oss2
import requests
from oss2.models import PartInfo

from support import BUCKET, KEY_ID, REGION, SECRET, StandInTestCase, oracle

VERSIONS = ("v1", "v4")
PART = 100 * 1024


def presigned(endpoint: str, version: str, key: str, *, expires_in: int = 60, signed_at=None,
              region: str = REGION, method: str = "GET", params=None) -> str:
    """A URL presigned with oss2 (the oracle's presign_with_oss2) at `signed_at` for `region`,
    pointed at the stand-in."""
    inp = oracle.PresignInput(
        version=version, method=method, bucket=BUCKET, key=key, region=region, access_key_id=KEY_ID,
        access_key_secret=SECRET, security_token=None,
        signing_time=signed_at or datetime.datetime.now(datetime.timezone.utc), expires_in=expires_in,
        headers={}, params=params or {}, additional_headers=())
    query = urllib.parse.urlsplit(oracle.presign_with_oss2(inp)).query
    return f"{endpoint}/{BUCKET}/{urllib.parse.quote(key)}?{query}"


def replace_param(url: str, name: str, value) -> str:
    """The URL with parameter `name` set to `value` (None: removed), its signature kept."""
    parts = urllib.parse.urlsplit(url)
    query = [(k, value if k == name else v) for k, v in urllib.parse.parse_qsl(parts.query, keep_blank_values=True)]
    query = [(k, v) for k, v in query if v is not None]
    return urllib.parse.urlunsplit(parts._replace(query=urllib.parse.urlencode(query, quote_via=urllib.parse.quote)))


def raw_request(port: int, head: str, body: bytes = b"", timeout: float = 10) -> bytes:
    """Sends a request's head (and the start of its body) and reads the answer until the
    stand-in closes the connection."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
        s.sendall(head.encode() + body)
        out = b""
        while chunk := s.recv(65536):
            out += chunk
    return out


def tamper(url: str, name: str) -> str:
    """The URL with one character of parameter `name` changed."""
    parts = urllib.parse.urlsplit(url)
    query = urllib.parse.parse_qsl(parts.query, keep_blank_values=True)
    changed = [(k, ("B" if v[0] != "B" else "C") + v[1:] if k == name else v) for k, v in query]
    return urllib.parse.urlunsplit(parts._replace(query=urllib.parse.urlencode(changed, quote_via=urllib.parse.quote)))


class ObjectsTest(StandInTestCase):
    def test_start_up_line_says_it_is_a_stand_in(self):
        self.assertIn(f"oss stand-in (a local stand-in, not Alibaba Cloud OSS) on 127.0.0.1:{self.port}",
                      self.oss_banner)
        self.assertIn("not Alibaba Cloud STS", self.sts_banner)

    def test_put_get_head_delete_round_trip_bytes(self):
        data = os.urandom(3000)
        for version in VERSIONS:
            with self.subTest(version):
                bucket, key = self.bucket(version=version), f"uploads/{version}/a b+c%d ü.bin"
                put = bucket.put_object(key, data, headers={"Content-Type": "application/x-test",
                                                            "x-oss-meta-album": "summer",
                                                            "Content-Disposition": "attachment"})
                self.assertEqual(put.etag, hashlib.md5(data).hexdigest().upper())
                self.assertEqual(bucket.get_object(key).read(), data)
                head = bucket.head_object(key)
                self.assertEqual((head.content_length, head.content_type, head.etag),
                                 (len(data), "application/x-test", put.etag))
                self.assertEqual(head.headers["x-oss-meta-album"], "summer")
                self.assertEqual(head.headers["Content-Disposition"], "attachment")
                bucket.delete_object(key)
                self.assertRefused(lambda: bucket.get_object(key), 404, "NoSuchKey")
                self.assertRefused(lambda: bucket.head_object(key), 404, "NoSuchKey")

    def test_objects_are_files_under_the_bucket_folder(self):
        self.bucket().put_object("uploads/alice/notes.txt", b"on disk")
        with open(os.path.join(self.oss.root, BUCKET, "uploads", "alice", "notes.txt"), "rb") as f:
            self.assertEqual(f.read(), b"on disk")

    def test_keys_that_would_leave_the_folder_stay_inside_it(self):
        bucket = self.bucket()
        for key in ("a/../../escape.txt", "b//c", "./d", "e/"):
            with self.subTest(key):
                bucket.put_object(key, key.encode())
                self.assertEqual(bucket.get_object(key).read(), key.encode())
        self.assertFalse(os.path.exists(os.path.join(self.oss.root, "escape.txt")))
        listed = [o.key for o in bucket.list_objects_v2(max_keys=100).object_list]
        self.assertEqual(listed, sorted(["a/../../escape.txt", "b//c", "./d", "e/"]))

    def test_a_key_and_a_folder_of_the_same_name_is_a_stand_in_limit(self):
        bucket = self.bucket()
        bucket.put_object("f", b"file")
        self.assertRefused(lambda: bucket.put_object("f/g", b"x"), 400, "InvalidObjectName", "stand-in")

    def test_range_and_response_overrides(self):
        bucket = self.bucket()
        bucket.put_object("r.txt", b"0123456789")
        self.assertEqual(bucket.get_object("r.txt", byte_range=(2, 5)).read(), b"2345")
        self.assertEqual(bucket.get_object("r.txt", byte_range=(7, None)).read(), b"789")
        self.assertRefused(lambda: bucket.get_object("r.txt", byte_range=(20, 30)), 416, "InvalidRange")
        got = bucket.get_object("r.txt", params={"response-content-type": "text/csv",
                                                 "response-content-disposition": "inline"})
        self.assertEqual((got.headers["Content-Type"], got.headers["Content-Disposition"]), ("text/csv", "inline"))

    def test_content_md5_is_checked(self):
        bucket = self.bucket()
        good = base64.b64encode(hashlib.md5(b"body").digest()).decode()
        bucket.put_object("m.txt", b"body", headers={"Content-MD5": good})
        self.assertRefused(lambda: bucket.put_object("m.txt", b"other", headers={"Content-MD5": good}),
                           400, "InvalidDigest")

    def test_forbid_overwrite_keeps_the_first_object(self):
        for version in VERSIONS:
            with self.subTest(version):
                bucket, key = self.bucket(version=version), f"create-only-{version}.txt"
                bucket.put_object(key, b"first", headers={"x-oss-forbid-overwrite": "true"})
                self.assertRefused(lambda: bucket.put_object(key, b"second", headers={"x-oss-forbid-overwrite": "true"}),
                                   409, "FileAlreadyExists")
                self.assertEqual(bucket.get_object(key).read(), b"first")
                bucket.put_object(key, b"third")  # without the header it is replaced
                self.assertEqual(bucket.get_object(key).read(), b"third")

    def test_concurrent_signed_requests(self):
        """The stand-in pins oss2's process-wide clock while it re-signs; under load every
        request must still verify (V1 and V4, headers and URLs)."""
        def upload(n):
            bucket, key = self.bucket(version=VERSIONS[n % 2]), f"load/{n}.bin"
            bucket.put_object(key, str(n).encode() * 100)
            url = bucket.sign_url("GET", key, 60)
            return requests.get(url, timeout=10).content == str(n).encode() * 100
        with concurrent.futures.ThreadPoolExecutor(8) as pool:
            self.assertTrue(all(pool.map(upload, range(40))))

    def test_on_created_hears_of_every_new_object(self):
        bucket = self.bucket()
        bucket.put_object("e.txt", b"event", headers={"Content-Type": "text/plain"})
        self.assertEqual(self.events, [(BUCKET, "e.txt", 5, hashlib.md5(b"event").hexdigest().upper(), "text/plain")])


class RefusalsTest(StandInTestCase):
    def test_wrong_secret_is_signature_does_not_match(self):
        for auth in (oss2.Auth(KEY_ID, "wrong"), oss2.AuthV4(KEY_ID, "wrong")):
            with self.subTest(type(auth).__name__):
                self.assertRefused(lambda: self.bucket(auth).put_object("k", b"x"), 403, "SignatureDoesNotMatch")

    def test_unknown_key_is_invalid_access_key_id(self):
        for auth in (oss2.Auth("LTAI-nobody", SECRET), oss2.AuthV4("LTAI-nobody", SECRET)):
            with self.subTest(type(auth).__name__):
                self.assertRefused(lambda: self.bucket(auth).get_object("k"), 403, "InvalidAccessKeyId")

    def test_a_token_with_a_permanent_key_is_refused(self):
        auth = oss2.StsAuth(KEY_ID, SECRET, "CAIS-made-up", auth_version=oss2.AUTH_VERSION_4)
        self.assertRefused(lambda: self.bucket(auth).put_object("k", b"x"), 403, "InvalidAccessKeyId")

    def test_unsigned_requests_are_refused(self):
        self.bucket().put_object("private.txt", b"secret")
        self.assertXmlError(requests.get(f"{self.endpoint}/{BUCKET}/private.txt", timeout=10),
                            403, "AccessDenied", "bucket acl")

    def test_header_signed_request_time_too_skewed(self):
        past = datetime.datetime.now(datetime.timezone.utc) - datetime.timedelta(minutes=20)
        with mock.patch.object(oss2.auth.utils, "http_date", return_value=oss2.utils.http_date(past.timestamp())):
            self.assertRefused(lambda: self.bucket(version="v1").get_object("k"), 403, "RequestTimeTooSkewed")
        with oracle.pinned_oss2_clock(past):
            self.assertRefused(lambda: self.bucket(version="v4").get_object("k"), 403, "RequestTimeTooSkewed")

    def test_the_v4_authorization_credential_must_be_this_endpoints(self):
        """The whole Credential is compared, not only the Signature: a rewritten scope is
        refused, and so is a request signed with oss2 for another region."""
        bucket = self.bucket()
        bucket.put_object("k", b"x")
        send = oss2.http.Session.do_request

        def rewritten(session, request, timeout):
            request.headers["authorization"] = request.headers["authorization"].replace(
                f"/{REGION}/oss/aliyun_v4_request", "/us-west-1/s3/aws4_request")
            return send(session, request, timeout)

        with mock.patch.object(oss2.http.Session, "do_request", rewritten):
            self.assertRefused(lambda: bucket.get_object("k"), 400, "InvalidArgument", "Credential")
        elsewhere = oss2.Bucket(oss2.AuthV4(KEY_ID, SECRET), self.endpoint, BUCKET, region="us-west-1")
        self.assertRefused(lambda: elsewhere.get_object("k"), 400, "InvalidArgument", "region")

    def test_bad_input_is_a_400_not_a_crash(self):
        for method, path, headers in [
            ("GET", f"/{BUCKET}/%ff", {}),
            ("GET", f"/{BUCKET}/k?a=1&a=2", {}),
            ("GET", f"/{BUCKET}/k", {"Authorization": "Bearer nonsense"}),
            ("GET", f"/{BUCKET}/k", {"Authorization": "OSS4-HMAC-SHA256 garbage"}),
            ("PUT", f"/{BUCKET}/k", {"Content-Length": "abc"}),
            ("GET", "/NOT_A_BUCKET/k", {}),
        ]:
            with self.subTest(path=path, headers=headers):
                answer = requests.request(method, self.endpoint + path, headers=headers, timeout=10)
                self.assertEqual(answer.status_code, 400, answer.text)
                self.assertIn("<Error>", answer.text)

    def test_what_the_stand_in_lacks_says_so(self):
        bucket = self.bucket()
        bucket.put_object("k", b"x")
        self.assertRefused(lambda: bucket.put_object_acl("k", oss2.OBJECT_ACL_PUBLIC_READ), 400, "InvalidArgument",
                           "not available in the local stand-in")
        self.assertRefused(lambda: bucket.copy_object(BUCKET, "k", "k2"), 400, "InvalidArgument",
                           "not available in the local stand-in")


class SignedUrlsTest(StandInTestCase):
    def test_put_and_get_urls_work(self):
        for version in VERSIONS:
            with self.subTest(version):
                bucket, key = self.bucket(version=version), f"signed/{version} photo+1.txt"
                url = bucket.sign_url("PUT", key, 60, headers={"Content-Type": "text/plain"}, slash_safe=True)
                answer = requests.put(url, data=b"via url", headers={"Content-Type": "text/plain"}, timeout=10)
                self.assertEqual(answer.status_code, 200, answer.text)
                got = requests.get(bucket.sign_url("GET", key, 60, slash_safe=True), timeout=10)
                self.assertEqual((got.status_code, got.content), (200, b"via url"))

    def test_one_changed_signature_character_is_refused(self):
        for version, name in (("v1", "Signature"), ("v4", "x-oss-signature")):
            with self.subTest(version):
                url = self.bucket(version=version).sign_url("PUT", "k.txt", 60)
                self.assertXmlError(requests.put(tamper(url, name), data=b"x", timeout=10),
                                    403, "SignatureDoesNotMatch")

    def test_a_header_the_url_did_not_sign_breaks_it(self):
        url = self.bucket(version="v4").sign_url("PUT", "k.txt", 60)
        answer = requests.put(url, data=b"x", headers={"x-oss-forbid-overwrite": "true"}, timeout=10)
        self.assertXmlError(answer, 403, "SignatureDoesNotMatch")

    def test_expired_urls_are_refused(self):
        past = datetime.datetime.now(datetime.timezone.utc) - datetime.timedelta(hours=2)
        for version in VERSIONS:
            with self.subTest(version), oracle.pinned_oss2_clock(past):
                url = self.bucket(version=version).sign_url("GET", "k.txt", 60)
            self.assertXmlError(requests.get(url, timeout=10), 403, "AccessDenied", "Request has expired")

    def test_v4_url_expiry_must_be_1_to_604800_seconds(self):
        """x-oss-expires is at most 7 days (OSS EC 0002-00000232), even when correctly signed."""
        self.bucket().put_object("k.txt", b"x")
        for seconds in (604801, 8 * 24 * 3600):
            with self.subTest(seconds):
                answer = requests.get(presigned(self.endpoint, "v4", "k.txt", expires_in=seconds), timeout=10)
                self.assertXmlError(answer, 400, "InvalidArgument", "x-oss-expires")
                self.assertIn("<EC>0002-00000232</EC>", answer.text)
        url = presigned(self.endpoint, "v4", "k.txt", expires_in=604800)
        self.assertEqual(requests.get(url, timeout=10).status_code, 200)
        for value in ("0", "-1", "soon", None):
            with self.subTest(value):
                self.assertXmlError(requests.get(replace_param(url, "x-oss-expires", value), timeout=10),
                                    400, "InvalidArgument", "x-oss-expires")

    def test_v4_url_signed_in_the_future(self):
        self.bucket().put_object("k.txt", b"x")
        ahead = datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(minutes=20)
        url = presigned(self.endpoint, "v4", "k.txt", signed_at=ahead)
        self.assertXmlError(requests.get(url, timeout=10), 403, "RequestTimeTooSkewed")
        nearly = datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(minutes=10)
        url = presigned(self.endpoint, "v4", "k.txt", signed_at=nearly)
        self.assertEqual(requests.get(url, timeout=10).status_code, 200)

    def test_v4_url_credential_scope_must_be_this_endpoints(self):
        self.bucket().put_object("k.txt", b"x")
        other_region = presigned(self.endpoint, "v4", "k.txt", region="us-east-1")  # correctly signed there
        self.assertXmlError(requests.get(other_region, timeout=10), 400, "InvalidArgument", "region")
        url = presigned(self.endpoint, "v4", "k.txt")
        credential = urllib.parse.parse_qs(urllib.parse.urlsplit(url).query)["x-oss-credential"][0]
        key_id, day, region, _, _ = credential.split("/")
        for scope, what in [(f"19990101/{region}/oss/aliyun_v4_request", "date"),
                            (f"{day}/us-east-1/oss/aliyun_v4_request", "region"),
                            (f"{day}/{region}/s3/aws4_request", "aliyun_v4_request"),
                            (f"{day}/{region}/oss", "aliyun_v4_request")]:
            with self.subTest(scope):
                answer = requests.get(replace_param(url, "x-oss-credential", f"{key_id}/{scope}"), timeout=10)
                self.assertXmlError(answer, 400, "InvalidArgument", what)

    def test_v4_url_signature_version_must_be_oss4(self):
        self.bucket().put_object("k.txt", b"x")
        url = presigned(self.endpoint, "v4", "k.txt")
        for value in ("NOPE", "oss4-hmac-sha256", None):
            with self.subTest(value):
                self.assertXmlError(requests.get(replace_param(url, "x-oss-signature-version", value), timeout=10),
                                    400, "InvalidArgument", "x-oss-signature-version")

    def test_v1_url_expires_must_be_unix_seconds(self):
        url = presigned(self.endpoint, "v1", "k.txt")
        for value, ec in (("soon", "0002-00000070"), ("１２", "0002-00000070"), (None, "0002-00000067")):
            with self.subTest(value):
                answer = requests.get(replace_param(url, "Expires", value), timeout=10)
                self.assertXmlError(answer, 400, "InvalidArgument", "Expires")
                self.assertIn(f"<EC>{ec}</EC>", answer.text)

    def test_unknown_key_in_a_url(self):
        bucket = self.bucket(oss2.AuthV4("LTAI-nobody", SECRET))
        self.assertXmlError(requests.get(bucket.sign_url("GET", "k", 60), timeout=10), 403, "InvalidAccessKeyId")


class ListingTest(StandInTestCase):
    KEYS = ["uploads/alice/a.txt", "uploads/alice/b/c.txt", "uploads/alice/d e+f%.txt",
            "uploads/bob/x.txt", "z.txt"]

    def setUp(self):
        super().setUp()
        self.client = self.bucket()
        for key in self.KEYS:
            self.client.put_object(key, key.encode())

    def test_list_objects_v2_with_prefix_and_delimiter(self):
        result = self.client.list_objects_v2(prefix="uploads/", delimiter="/")
        self.assertEqual(result.prefix_list, ["uploads/alice/", "uploads/bob/"])
        self.assertEqual(result.object_list, [])
        result = self.client.list_objects_v2(prefix="uploads/alice/")
        self.assertEqual([o.key for o in result.object_list], sorted(k for k in self.KEYS if k.startswith("uploads/alice/")))
        first = result.object_list[0]
        self.assertEqual((first.size, first.etag, first.type, first.storage_class),
                         (len(first.key), hashlib.md5(first.key.encode()).hexdigest().upper(), "Normal", "Standard"))

    def test_pages_v2_by_continuation_token_and_v1_by_marker(self):
        seen, token = [], ""
        while True:
            page = self.client.list_objects_v2(continuation_token=token, max_keys=2)
            seen += [o.key for o in page.object_list]
            if not page.is_truncated:
                break
            token = page.next_continuation_token
        self.assertEqual(seen, sorted(self.KEYS))
        self.assertEqual([o.key for o in oss2.ObjectIteratorV2(self.client, max_keys=1)], sorted(self.KEYS))
        self.assertEqual([o.key for o in oss2.ObjectIterator(self.client, max_keys=2)], sorted(self.KEYS))
        after = self.client.list_objects_v2(start_after="uploads/alice/b/c.txt")
        self.assertEqual([o.key for o in after.object_list], sorted(self.KEYS)[2:])

    def test_common_prefixes_page_without_repeating(self):
        listed = [o for o in oss2.ObjectIteratorV2(self.client, prefix="uploads/", delimiter="/", max_keys=1)]
        self.assertEqual([o.key for o in listed], ["uploads/alice/", "uploads/bob/"])

    def test_presign_url_style_listing_urls(self):
        """presign-url's listing is a bucket-level URL (`/<bucket>/?list-type=2&prefix=…`), signed
        for an empty key: regenerated here with oss2 as the oracle does."""
        for version in VERSIONS:
            with self.subTest(version):
                url = self.listing_url(version, "uploads/alice/")
                answer = requests.get(url, timeout=10)
                self.assertEqual(answer.status_code, 200, answer.text)
                self.assertIn("<Key>uploads%2Falice%2Fa.txt</Key>", answer.text)
                self.assertNotIn("bob", answer.text)
        rewritten = self.listing_url("v4", "uploads/alice/").replace("alice", "bob")
        self.assertXmlError(requests.get(rewritten, timeout=10), 403, "SignatureDoesNotMatch")
        # V1 does not sign `prefix` (README, "My files"): only a session policy confines it.
        rewritten = self.listing_url("v1", "uploads/alice/").replace("alice", "bob")
        self.assertEqual(requests.get(rewritten, timeout=10).status_code, 200)

    def listing_url(self, version: str, prefix: str) -> str:
        inp = oracle.PresignInput(
            version=version, method="GET", bucket=BUCKET, key="", region=REGION, access_key_id=KEY_ID,
            access_key_secret=SECRET, security_token=None,
            signing_time=datetime.datetime.now(datetime.timezone.utc), expires_in=300, headers={},
            params={"list-type": "2", "prefix": prefix, "max-keys": "100", "encoding-type": "url"},
            additional_headers=())
        url = urllib.parse.urlsplit(oracle.presign_with_oss2(inp))
        return f"{self.endpoint}/{BUCKET}/?{url.query}"


class MultipartTest(StandInTestCase):
    def upload(self, bucket, key, sizes):
        upload_id = bucket.init_multipart_upload(key, headers={"Content-Type": "video/mp4",
                                                               "x-oss-meta-who": "alice"}).upload_id
        chunks = [os.urandom(size) for size in sizes]
        parts = [PartInfo(n, bucket.upload_part(key, upload_id, n, chunk).etag)
                 for n, chunk in enumerate(chunks, 1)]
        return upload_id, chunks, parts

    def test_a_multipart_upload_round_trip(self):
        for version in VERSIONS:
            with self.subTest(version):
                bucket, key = self.bucket(version=version), f"video {version}.mp4"
                upload_id, chunks, parts = self.upload(bucket, key, [PART, PART + 7, 1234])
                listed = bucket.list_parts(key, upload_id)
                self.assertEqual([(p.part_number, p.size) for p in listed.parts], [(1, PART), (2, PART + 7), (3, 1234)])
                self.assertEqual([p.etag for p in listed.parts], [hashlib.md5(c).hexdigest().upper() for c in chunks])
                result = bucket.complete_multipart_upload(key, upload_id, parts)
                expected = hashlib.md5(b"".join(hashlib.md5(c).digest() for c in chunks)).hexdigest().upper() + "-3"
                self.assertEqual(result.etag, expected)
                self.assertEqual(bucket.get_object(key).read(), b"".join(chunks))
                head = bucket.head_object(key)
                self.assertEqual((head.content_type, head.headers["x-oss-meta-who"], head.object_type),
                                 ("video/mp4", "alice", "Multipart"))
                self.assertRefused(lambda: bucket.list_parts(key, upload_id), 404, "NoSuchUpload")
        self.assertEqual([e[1] for e in self.events], ["video v1.mp4", "video v4.mp4"])

    def test_list_parts_pages(self):
        bucket = self.bucket()
        upload_id, _, _ = self.upload(bucket, "p.bin", [10, 10, 10])
        first = bucket.list_parts("p.bin", upload_id, max_parts=2)
        self.assertEqual(([p.part_number for p in first.parts], first.is_truncated), ([1, 2], True))
        rest = bucket.list_parts("p.bin", upload_id, marker=first.next_marker)
        self.assertEqual(([p.part_number for p in rest.parts], rest.is_truncated), ([3], False))

    def test_small_parts_are_entity_too_small(self):
        bucket = self.bucket()
        upload_id, _, parts = self.upload(bucket, "s.bin", [10, 10])
        self.assertRefused(lambda: bucket.complete_multipart_upload("s.bin", upload_id, parts), 400, "EntityTooSmall")

    def test_a_wrong_etag_is_invalid_part(self):
        bucket = self.bucket()
        upload_id, _, parts = self.upload(bucket, "w.bin", [PART, 10])
        parts[1] = PartInfo(2, "0" * 32)
        self.assertRefused(lambda: bucket.complete_multipart_upload("w.bin", upload_id, parts), 400, "InvalidPart")
        missing = [parts[0], PartInfo(3, parts[0].etag)]
        self.assertRefused(lambda: bucket.complete_multipart_upload("w.bin", upload_id, missing), 400, "InvalidPart")

    def test_parts_out_of_order_are_invalid_part_order(self):
        bucket = self.bucket()
        upload_id, _, parts = self.upload(bucket, "o.bin", [PART, PART])
        body = "".join(f"<Part><PartNumber>{p.part_number}</PartNumber><ETag>\"{p.etag}\"</ETag></Part>"
                       for p in reversed(parts))
        url = bucket.sign_url("POST", "o.bin", 60, params={"uploadId": upload_id})
        answer = requests.post(url, data=f"<CompleteMultipartUpload>{body}</CompleteMultipartUpload>", timeout=10)
        self.assertXmlError(answer, 400, "InvalidPartOrder")
        answer = requests.post(url, data=b"<not xml", timeout=10)
        self.assertXmlError(answer, 400, "MalformedXML")

    def test_unknown_and_aborted_uploads(self):
        bucket = self.bucket()
        self.assertRefused(lambda: bucket.upload_part("u.bin", "0" * 32, 1, b"x"), 404, "NoSuchUpload")
        upload_id, _, _ = self.upload(bucket, "u.bin", [10])
        self.assertRefused(lambda: bucket.upload_part("other.bin", upload_id, 1, b"x"), 404, "NoSuchUpload")
        self.assertRefused(lambda: bucket.upload_part("u.bin", upload_id, 10001, b"x"), 400, "InvalidArgument")
        self.assertEqual(bucket.abort_multipart_upload("u.bin", upload_id).status, 204)
        self.assertRefused(lambda: bucket.list_parts("u.bin", upload_id), 404, "NoSuchUpload")

    def test_forbid_overwrite_at_initiate_and_complete(self):
        bucket = self.bucket()
        upload_id, _, parts = self.upload(bucket, "c.bin", [PART, 10])
        bucket.put_object("c.bin", b"arrived first")
        self.assertRefused(lambda: bucket.complete_multipart_upload(
            "c.bin", upload_id, parts, headers={"x-oss-forbid-overwrite": "true"}), 409, "FileAlreadyExists")
        self.assertEqual(bucket.get_object("c.bin").read(), b"arrived first")
        self.assertRefused(lambda: bucket.init_multipart_upload("c.bin", headers={"x-oss-forbid-overwrite": "true"}),
                           409, "FileAlreadyExists")


class BodiesTest(StandInTestCase):
    """Bodies are read only once the request may go ahead: an unsigned or badly signed upload
    is answered at once, however large it says it is, and no Content-Length over 5 GiB (OSS's
    limit for one PutObject, UploadPart or PostObject) is read at all."""

    def test_an_unsigned_upload_is_refused_without_reading_its_body(self):
        head = f"PUT /{BUCKET}/big.bin HTTP/1.1\r\nHost: x\r\nContent-Length: {100 * 1024 * 1024}\r\n\r\n"
        answer = raw_request(self.port, head, b"only the start of it", timeout=5)
        self.assertTrue(answer.startswith(b"HTTP/1.0 403"), answer[:200])
        self.assertIn(b"<Code>AccessDenied</Code>", answer)

    def test_a_badly_signed_upload_is_refused_without_reading_its_body(self):
        url = urllib.parse.urlsplit(tamper(self.bucket().sign_url("PUT", "big.bin", 60), "x-oss-signature"))
        head = f"PUT {url.path}?{url.query} HTTP/1.1\r\nHost: x\r\nContent-Length: {100 * 1024 * 1024}\r\n\r\n"
        answer = raw_request(self.port, head, b"only the start of it", timeout=5)
        self.assertIn(b"<Code>SignatureDoesNotMatch</Code>", answer)

    def test_content_length_over_5_gib_or_not_a_number(self):
        url = urllib.parse.urlsplit(self.bucket().sign_url("PUT", "huge.bin", 60))
        for length, code in ((str(5 * 1024 ** 3 + 1), "EntityTooLarge"), ("1000000000000000", "EntityTooLarge"),
                             ("-1", "InvalidArgument"), ("0x10", "InvalidArgument"), ("²", "InvalidArgument")):
            with self.subTest(length):
                head = f"PUT {url.path}?{url.query} HTTP/1.1\r\nHost: x\r\nContent-Length: {length}\r\n\r\n"
                answer = raw_request(self.port, head, timeout=5)
                self.assertTrue(answer.startswith(b"HTTP/1.0 400"), answer[:200])
                self.assertIn(f"<Code>{code}</Code>".encode(), answer)
        self.assertRefused(lambda: self.bucket().get_object("huge.bin"), 404, "NoSuchKey")

    def test_a_chunked_body_is_read_after_the_signature(self):
        bucket = self.bucket()
        bucket.put_object("chunked.bin", iter([b"a" * 1000, b"b" * 10]))  # oss2 sends an iterator chunked
        self.assertEqual(bucket.get_object("chunked.bin").read(), b"a" * 1000 + b"b" * 10)

    def test_response_header_values_cannot_inject_headers(self):
        bucket = self.bucket()
        bucket.put_object("h.txt", b"x")
        for name, value in (("response-content-disposition", "inline\r\nSet-Cookie: pwn=1"),
                            ("response-content-type", "text/plain\nX-Evil: 1"),
                            ("response-cache-control", "no-cache\x00")):
            with self.subTest(name):
                answer = requests.get(bucket.sign_url("GET", "h.txt", 60, params={name: value}), timeout=10)
                self.assertXmlError(answer, 400, "InvalidArgument", name)
                self.assertNotIn("Set-Cookie", answer.headers)
                self.assertNotIn("X-Evil", answer.headers)
        disposition = 'attachment; filename="照片 ü.jpg"'  # goes back as its UTF-8 bytes
        answer = requests.get(bucket.sign_url("GET", "h.txt", 60, params={"response-content-disposition": disposition}),
                              timeout=10)
        self.assertEqual(answer.headers["Content-Disposition"].encode("latin-1").decode(), disposition)


class UploadOptionsTest(StandInTestCase):
    def test_what_the_stand_in_does_not_store_is_refused(self):
        bucket = self.bucket()
        for headers in ({"x-oss-server-side-encryption": "KMS"}, {"x-oss-server-side-encryption": "AES256"},
                        {"x-oss-storage-class": "Archive"}, {"x-oss-storage-class": "IA"},
                        {"x-oss-object-acl": "public-read"}):
            with self.subTest(headers):
                self.assertRefused(lambda: bucket.put_object("o.txt", b"x", headers=headers), 400, "InvalidArgument",
                                   "not available in the local stand-in")
                self.assertRefused(lambda: bucket.init_multipart_upload("o.txt", headers=headers), 400,
                                   "InvalidArgument", "not available in the local stand-in")
        self.assertRefused(lambda: bucket.put_object("o.txt", b"x", headers={"x-oss-object-acl": "secret"}),
                           400, "InvalidArgument", "access control")
        self.assertRefused(lambda: bucket.get_object("o.txt"), 404, "NoSuchKey")
        for headers in ({"x-oss-storage-class": "Standard"}, {"x-oss-object-acl": "private"},
                        {"x-oss-object-acl": "default"}, {"x-oss-tagging": "a=1"}):
            with self.subTest(headers):
                bucket.put_object("o.txt", b"x", headers=headers)
        self.assertEqual(bucket.head_object("o.txt").headers["x-oss-storage-class"], "Standard")
