"""PostObject forms, built as presign-url builds them and signed with alibabacloud-oss-v2's
signer primitives (oss2 has no post-policy signer): what the policy allows is stored; what it
does not is refused with OSS's codes, naming the condition."""

import base64
import datetime
import hashlib
import json
import xml.etree.ElementTree as ET

import requests

from support import BUCKET, KEY_ID, REGION, SECRET, StandInTestCase, post_form, signed_form

PREFIX = "uploads/alice/"


class FormsTest(StandInTestCase):
    def test_a_form_within_its_policy_is_stored(self):
        for version in ("v1", "v4"):
            with self.subTest(version):
                fields = signed_form(PREFIX + "${filename}", KEY_ID, SECRET, version=version,
                                     conditions=[["starts-with", "$key", PREFIX], {"success_action_status": "201"},
                                                 ["in", "$content-type", ["image/png", "text/plain"]]],
                                     fields={"success_action_status": "201", "Content-Type": "text/plain",
                                             "x-oss-meta-who": "alice"})
                answer = post_form(self.endpoint, fields, f"{version} notes.txt", b"form bytes")
                self.assertEqual(answer.status_code, 201, answer.text)
                result = ET.fromstring(answer.content)
                self.assertEqual((result.findtext("Bucket"), result.findtext("Key")),
                                 (BUCKET, f"{PREFIX}{version} notes.txt"))
                self.assertEqual(result.findtext("ETag").strip('"'), hashlib.md5(b"form bytes").hexdigest().upper())
                head = self.bucket().head_object(f"{PREFIX}{version} notes.txt")
                self.assertEqual((head.content_type, head.headers["x-oss-meta-who"]), ("text/plain", "alice"))
        self.assertEqual(len(self.events), 2)

    def test_a_key_outside_the_starts_with(self):
        fields = signed_form("uploads/bob/x.txt", KEY_ID, SECRET, conditions=[["starts-with", "$key", PREFIX]])
        answer = post_form(self.endpoint, fields, "x.txt", b"x")
        self.assertXmlError(answer, 403, "AccessDenied", "Policy Condition failed")
        self.assertIn("$key", answer.text)

    def test_a_content_type_the_policy_does_not_allow(self):
        fields = signed_form(PREFIX + "page.html", KEY_ID, SECRET,
                             conditions=[["in", "$content-type", ["image/png", "image/jpeg"]]],
                             fields={"Content-Type": "text/html"})
        answer = post_form(self.endpoint, fields, "page.html", b"<script>")
        self.assertXmlError(answer, 403, "AccessDenied", "content-type")

    def test_a_field_changed_after_signing(self):
        fields = signed_form(PREFIX + "a.txt", KEY_ID, SECRET, conditions=[{"x-oss-forbid-overwrite": "true"}],
                             fields={"x-oss-forbid-overwrite": "true"})
        fields["x-oss-forbid-overwrite"] = "false"
        self.assertXmlError(post_form(self.endpoint, fields, "a.txt", b"x"), 403, "AccessDenied", "x-oss-forbid-overwrite")

    def test_content_length_range(self):
        fields = signed_form(PREFIX + "big.bin", KEY_ID, SECRET)  # 0 to 1024 bytes
        self.assertXmlError(post_form(self.endpoint, fields, "big.bin", b"x" * 1025), 400, "EntityTooLarge")

    def test_an_expired_policy(self):
        fields = signed_form(PREFIX + "late.txt", KEY_ID, SECRET, expires_in=-60)
        self.assertXmlError(post_form(self.endpoint, fields, "late.txt", b"x"), 403, "AccessDenied", "Policy expired")

    def test_signatures_and_keys(self):
        for version in ("v1", "v4"):
            with self.subTest(version):
                fields = signed_form(PREFIX + "s.txt", KEY_ID, "wrong secret", version=version)
                self.assertXmlError(post_form(self.endpoint, fields, "s.txt", b"x"), 403, "SignatureDoesNotMatch")
                fields = signed_form(PREFIX + "s.txt", "LTAI-nobody", SECRET, version=version)
                self.assertXmlError(post_form(self.endpoint, fields, "s.txt", b"x"), 403, "InvalidAccessKeyId")
        fields = signed_form(PREFIX + "s.txt", KEY_ID, SECRET)
        policy = json.loads(base64.b64decode(fields["policy"]))
        policy["conditions"] = [["content-length-range", 0, 10 ** 9]]
        fields["policy"] = base64.b64encode(json.dumps(policy).encode()).decode()
        self.assertXmlError(post_form(self.endpoint, fields, "s.txt", b"x"), 403, "SignatureDoesNotMatch")

    def test_an_unsigned_or_broken_form(self):
        self.assertXmlError(post_form(self.endpoint, {"key": "anon.txt"}, "anon.txt", b"x"), 403, "AccessDenied")
        fields = signed_form(PREFIX + "b.txt", KEY_ID, SECRET)
        fields["policy"] = "%%%not base64"
        self.assertEqual(post_form(self.endpoint, fields, "b.txt", b"x").status_code, 403)
        answer = requests.post(f"{self.endpoint}/{BUCKET}/", data=b"not a form",
                               headers={"Content-Type": "text/plain"}, timeout=10)
        self.assertXmlError(answer, 400, "InvalidArgument")

    def test_forbid_overwrite_field(self):
        self.bucket().put_object(PREFIX + "once.txt", b"first")
        fields = signed_form(PREFIX + "once.txt", KEY_ID, SECRET, conditions=[{"x-oss-forbid-overwrite": "true"}],
                             fields={"x-oss-forbid-overwrite": "true"})
        self.assertXmlError(post_form(self.endpoint, fields, "once.txt", b"second"), 409, "FileAlreadyExists")
        self.assertEqual(self.bucket().get_object(PREFIX + "once.txt").read(), b"first")


class V4FormTest(StandInTestCase):
    """A V4 form as OSS's POST V4 signature requires it: each refused form is signed with
    alibabacloud-oss-v2's signer for what it says (its scope, its date, its policy)."""

    def post(self, **options):
        fields = signed_form(PREFIX + "v4.txt", KEY_ID, SECRET, **options)
        return post_form(self.endpoint, fields, "v4.txt", b"x")

    def test_the_policy_must_name_the_v4_fields(self):
        self.assertXmlError(self.post(name_v4_fields=False), 403, "AccessDenied", "the policy does not name x-oss-")
        fields = signed_form(PREFIX + "v4.txt", KEY_ID, SECRET, name_v4_fields=False,
                             conditions=[{"x-oss-signature-version": "OSS4-HMAC-SHA256"},
                                         ["eq", "$x-oss-credential", "ignored: the field must equal it"]])
        self.assertXmlError(post_form(self.endpoint, fields, "v4.txt", b"x"), 403, "AccessDenied", "x-oss-date")

    def test_the_credential_scope_must_be_this_endpoints(self):
        today = datetime.datetime.now(datetime.timezone.utc).strftime("%Y%m%d")
        for scope, what in [(f"{today}/us-east-1/oss/aliyun_v4_request", "region"),
                            (f"19990101/{REGION}/oss/aliyun_v4_request", "date"),
                            (f"{today}/{REGION}/s3/aws4_request", "aliyun_v4_request")]:
            with self.subTest(scope):
                self.assertXmlError(self.post(scope=scope), 400, "InvalidArgument", what)

    def test_the_signature_version_must_be_oss4(self):
        self.assertXmlError(self.post(signature_version="NOPE"), 400, "InvalidArgument", "x-oss-signature-version")

    def test_x_oss_date_at_most_7_days_old_and_15_minutes_ahead(self):
        now = datetime.datetime.now(datetime.timezone.utc)
        self.assertXmlError(self.post(signed_at=now - datetime.timedelta(days=8)), 403, "AccessDenied", "expired")
        self.assertXmlError(self.post(signed_at=now + datetime.timedelta(minutes=20)), 403, "RequestTimeTooSkewed")
        self.assertEqual(self.post(signed_at=now - datetime.timedelta(days=6)).status_code, 204)

    def test_upload_options_and_header_values_as_form_fields(self):
        for extra, code, text in [({"x-oss-server-side-encryption": "KMS"}, "InvalidArgument", "not available"),
                                  ({"x-oss-storage-class": "Archive"}, "InvalidArgument", "not available"),
                                  ({"x-oss-object-acl": "public-read"}, "InvalidArgument", "not available"),
                                  ({"Content-Disposition": "inline\r\nSet-Cookie: pwn=1"}, "InvalidArgument",
                                   "Content-Disposition"),
                                  ({"x-oss-meta-a: b": "c"}, "InvalidArgument", "x-oss-meta-a: b")]:
            with self.subTest(extra):
                fields = signed_form(PREFIX + "o.txt", KEY_ID, SECRET, fields=extra)
                self.assertXmlError(post_form(self.endpoint, fields, "o.txt", b"x"), 400, code, text)
        disposition = 'attachment; filename="照片.jpg"'
        self.assertEqual(post_form(self.endpoint, signed_form(PREFIX + "o.txt", KEY_ID, SECRET, fields={
            "x-oss-object-acl": "default", "Content-Disposition": disposition}), "o.txt", b"x").status_code, 204)
        head = self.bucket().head_object(PREFIX + "o.txt")
        self.assertEqual(head.headers["Content-Disposition"].encode("latin-1").decode(), disposition)

    def test_a_field_name_cannot_inject_a_header(self):
        """An RFC 2231 field name decodes to any characters: a meta name with CR LF is refused."""
        fields = signed_form(PREFIX + "n.txt", KEY_ID, SECRET)
        boundary = "stand-in-test-boundary"
        parts = [f'Content-Disposition: form-data; name="{name}"\r\n\r\n{value}' for name, value in fields.items()]
        parts.append("Content-Disposition: form-data; name*=utf-8''x-oss-meta-a%0D%0ASet-Cookie%3A%20pwn\r\n\r\n1")
        parts.append('Content-Disposition: form-data; name="file"; filename="n.txt"\r\n\r\nx')
        body = "".join(f"--{boundary}\r\n{part}\r\n" for part in parts) + f"--{boundary}--\r\n"
        answer = requests.post(f"{self.endpoint}/{BUCKET}/", data=body.encode(), timeout=10,
                               headers={"Content-Type": f"multipart/form-data; boundary={boundary}"})
        self.assertXmlError(answer, 400, "InvalidArgument", "control character")
