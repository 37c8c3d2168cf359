"""PostObject forms, built as presign-url builds them and signed with alibabacloud-oss-v2's
signer primitives (oss2 has no post-policy signer): what the policy allows is stored; what it
does not is refused with OSS's codes, naming the condition."""

import base64
import hashlib
import json
import xml.etree.ElementTree as ET

import requests

from support import BUCKET, KEY_ID, SECRET, StandInTestCase, post_form, signed_form

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
