"""Session policies: temporary credentials from the STS stand-in, used with oss2's StsAuth (and
in URLs and forms), are held by the OSS stand-in to the Policy their AssumeRole carried, as OSS
holds them (403 AccessDenied "Access denied by authorizer's policy."); and the security token
must come along. The evaluator itself (tests/standins/standin/policy.py) is tested on its own too."""

import datetime
import unittest
import urllib.parse

import oss2
import requests
from oss2.models import PartInfo

from support import BUCKET, REGION, StandInTestCase, oracle, post_form, signed_form, write_policy

from standin import policy  # noqa: E402  (tests/standins/standin)

ALICE = "uploads/alice/"
POLICY = {"Version": "1", "Statement": [
    {"Effect": "Allow", "Action": ["oss:PutObject"], "Resource": [f"acs:oss:*:*:{BUCKET}/{ALICE}*"]},
    {"Effect": "Allow", "Action": ["oss:ListObjects"], "Resource": [f"acs:oss:*:*:{BUCKET}"],
     "Condition": {"StringLike": {"oss:Prefix": [f"{ALICE}*"]}}},
]}
DENIED = "Access denied by authorizer's policy."


class SessionPolicyTest(StandInTestCase):
    def test_puts_under_the_prefix_only(self):
        for version in ("v1", "v4"):
            with self.subTest(version):
                bucket = self.sts_bucket(POLICY, version)
                bucket.put_object(f"{ALICE}{version}.txt", b"mine")
                self.assertEqual(self.bucket().get_object(f"{ALICE}{version}.txt").read(), b"mine")
                error = self.assertRefused(lambda: bucket.put_object("uploads/bob/x", b"not mine"),
                                           403, "AccessDenied", DENIED)
                self.assertEqual(error.ec, "0003-00000301")
                self.assertRefused(lambda: bucket.get_object(f"{ALICE}{version}.txt"), 403, "AccessDenied", DENIED)
                self.assertRefused(lambda: bucket.delete_object(f"{ALICE}{version}.txt"), 403, "AccessDenied")

    def test_listing_is_confined_by_the_prefix_condition(self):
        bucket = self.sts_bucket(POLICY)
        bucket.put_object(f"{ALICE}a.txt", b"a")
        self.assertEqual([o.key for o in bucket.list_objects_v2(prefix=ALICE).object_list], [f"{ALICE}a.txt"])
        self.assertEqual([o.key for o in bucket.list_objects(prefix=ALICE).object_list], [f"{ALICE}a.txt"])
        self.assertRefused(lambda: bucket.list_objects_v2(prefix="uploads/bob/"), 403, "AccessDenied", DENIED)
        self.assertRefused(lambda: bucket.list_objects_v2(), 403, "AccessDenied", DENIED)

    def test_a_v1_listing_url_is_confined_by_the_policy_not_its_signature(self):
        """V1 does not sign `prefix` (README, "My files"): a rewritten V1 listing URL keeps its
        signature, and only the key's session policy refuses it."""
        _, answer = self.assume_role(POLICY)
        c = answer["Credentials"]
        inp = oracle.PresignInput(
            version="v1", method="GET", bucket=BUCKET, key="", region=REGION, access_key_id=c["AccessKeyId"],
            access_key_secret=c["AccessKeySecret"], security_token=c["SecurityToken"],
            signing_time=datetime.datetime.now(datetime.timezone.utc), expires_in=300, headers={},
            params={"list-type": "2", "prefix": ALICE}, additional_headers=())
        query = urllib.parse.urlsplit(oracle.presign_with_oss2(inp)).query
        url = f"{self.endpoint}/{BUCKET}/?{query}"
        self.assertEqual(requests.get(url, timeout=10).status_code, 200)
        self.assertXmlError(requests.get(url.replace("alice", "bob"), timeout=10), 403, "AccessDenied", DENIED)

    def test_the_repository_write_policy_allows_multipart_under_the_prefix(self):
        bucket = self.sts_bucket(write_policy(BUCKET, ALICE, "bucket_write_policy.json"))
        key = f"{ALICE}video.mp4"
        upload_id = bucket.init_multipart_upload(key).upload_id
        parts = [PartInfo(n, bucket.upload_part(key, upload_id, n, data).etag)
                 for n, data in ((1, b"a" * 102400), (2, b"b"))]
        self.assertEqual(len(bucket.list_parts(key, upload_id).parts), 2)
        bucket.complete_multipart_upload(key, upload_id, parts)
        other = bucket.init_multipart_upload(f"{ALICE}dropped.bin").upload_id
        bucket.abort_multipart_upload(f"{ALICE}dropped.bin", other)
        self.assertRefused(lambda: bucket.init_multipart_upload("uploads/bob/v.mp4"), 403, "AccessDenied")
        self.assertRefused(lambda: bucket.get_object(key), 403, "AccessDenied")

    def test_the_repository_read_policy_reads_and_lists_the_prefix(self):
        self.bucket().put_object(f"{ALICE}photo.jpg", b"jpg")
        self.bucket().put_object("uploads/bob/photo.jpg", b"jpg")
        bucket = self.sts_bucket(write_policy(BUCKET, ALICE, "bucket_read_policy.json"))
        self.assertEqual(bucket.get_object(f"{ALICE}photo.jpg").read(), b"jpg")
        self.assertEqual(len(bucket.list_objects_v2(prefix=ALICE).object_list), 1)
        self.assertRefused(lambda: bucket.get_object("uploads/bob/photo.jpg"), 403, "AccessDenied")
        self.assertRefused(lambda: bucket.put_object(f"{ALICE}new.jpg", b"x"), 403, "AccessDenied")

    def test_an_explicit_deny_wins(self):
        document = {"Version": "1", "Statement": [
            {"Effect": "Allow", "Action": "oss:*", "Resource": f"acs:oss:*:*:{BUCKET}/*"},
            {"Effect": "Deny", "Action": "oss:DeleteObject", "Resource": f"acs:oss:*:*:{BUCKET}/keep/*"}]}
        bucket = self.sts_bucket(document)
        bucket.put_object("keep/a", b"a")
        bucket.put_object("tmp/b", b"b")
        bucket.delete_object("tmp/b")
        self.assertRefused(lambda: bucket.delete_object("keep/a"), 403, "AccessDenied", DENIED)

    def test_urls_and_forms_signed_with_the_key_are_held_to_it_too(self):
        _, answer = self.assume_role(POLICY)
        c = answer["Credentials"]
        bucket = self.bucket(oss2.StsAuth(c["AccessKeyId"], c["AccessKeySecret"], c["SecurityToken"],
                                          auth_version=oss2.AUTH_VERSION_4))
        self.assertEqual(requests.put(bucket.sign_url("PUT", f"{ALICE}u.txt", 60), data=b"u", timeout=10).status_code, 200)
        self.assertXmlError(requests.put(bucket.sign_url("PUT", "uploads/bob/u.txt", 60), data=b"u", timeout=10),
                            403, "AccessDenied", DENIED)
        for key, status in ((f"{ALICE}f.txt", 204), ("uploads/bob/f.txt", 403)):
            fields = signed_form(key, c["AccessKeyId"], c["AccessKeySecret"], token=c["SecurityToken"])
            self.assertEqual(post_form(self.endpoint, fields, "f.txt", b"form").status_code, status, key)


class SecurityTokenTest(StandInTestCase):
    def credentials(self):
        _, answer = self.assume_role()
        c = answer["Credentials"]
        return c["AccessKeyId"], c["AccessKeySecret"], c["SecurityToken"]

    def test_a_missing_token(self):
        key, secret, _ = self.credentials()
        for auth in (oss2.Auth(key, secret), oss2.AuthV4(key, secret)):
            self.assertRefused(lambda: self.bucket(auth).put_object("k", b"x"), 403, "InvalidAccessKeyId")

    def test_a_wrong_token(self):
        key, secret, _ = self.credentials()
        _, _, other = self.credentials()
        auth = oss2.StsAuth(key, secret, other, auth_version=oss2.AUTH_VERSION_4)
        self.assertRefused(lambda: self.bucket(auth).put_object("k", b"x"), 403, "InvalidSecurityToken")
        url = self.bucket(oss2.StsAuth(key, secret, other)).sign_url("GET", "k", 60)
        self.assertXmlError(requests.get(url, timeout=10), 403, "InvalidSecurityToken")

    def test_an_expired_token(self):
        key, secret, token = self.credentials()
        bucket = self.bucket(oss2.StsAuth(key, secret, token, auth_version=oss2.AUTH_VERSION_4))
        bucket.put_object("k", b"x")
        self.sts.lookup(key).expiration = datetime.datetime.now(datetime.timezone.utc) - datetime.timedelta(seconds=1)
        self.assertRefused(lambda: bucket.put_object("k", b"x"), 403, "SecurityTokenExpired")
        form = signed_form("k2", key, secret, token=token)
        self.assertXmlError(post_form(self.endpoint, form, "k2", b"x"), 403, "SecurityTokenExpired")


class EvaluatorTest(unittest.TestCase):
    """policy.decide on its own: effects, wildcards, conditions, what it does not model."""

    RESOURCE = "acs:oss:cn-hangzhou:1234567890123:examplebucket/uploads/alice/a.txt"

    def decide(self, statement, action="oss:PutObject", resource=RESOURCE, context=None):
        return policy.decide({"Version": "1", "Statement": [statement]}, action, resource, context)

    def test_wildcards_in_actions_and_resources(self):
        allow = {"Effect": "Allow", "Action": "oss:Put*", "Resource": "acs:oss:*:*:examplebucket/uploads/?lice/*"}
        self.assertEqual(self.decide(allow), "allow")
        self.assertEqual(self.decide(allow, action="OSS:PUTOBJECT"), "allow")  # actions ignore case
        self.assertEqual(self.decide(allow, action="oss:GetObject"), "implicit")
        self.assertEqual(self.decide(allow, resource=self.RESOURCE.replace("alice", "bob")), "implicit")
        self.assertEqual(self.decide(allow, resource=self.RESOURCE.replace("examplebucket", "ExampleBucket")), "implicit")

    def test_deny_wins_over_allow(self):
        statements = [{"Effect": "Allow", "Action": "*", "Resource": "*"},
                      {"Effect": "Deny", "Action": ["oss:PutObject"], "Resource": ["*"]}]
        self.assertEqual(policy.decide({"Statement": statements}, "oss:PutObject", self.RESOURCE), "deny")
        self.assertEqual(policy.decide({"Statement": statements}, "oss:GetObject", self.RESOURCE), "allow")

    def test_string_conditions_on_the_prefix(self):
        bucket = "acs:oss:cn-hangzhou:1:examplebucket"
        for operator, pattern, prefix, expected in [
            ("StringLike", "uploads/alice/*", "uploads/alice/", "allow"),
            ("StringLike", "uploads/alice/*", "uploads/bob/", "implicit"),
            ("StringEquals", "uploads/alice/", "uploads/alice/", "allow"),
            ("StringEquals", "uploads/alice/", "uploads/alice/x", "implicit"),
            ("StringNotLike", "uploads/bob/*", "uploads/alice/", "allow"),
            ("StringNotEquals", "uploads/alice/", "uploads/alice/", "implicit"),
        ]:
            with self.subTest(operator=operator, prefix=prefix):
                statement = {"Effect": "Allow", "Action": "oss:ListObjects", "Resource": "*",
                             "Condition": {operator: {"oss:Prefix": [pattern]}}}
                self.assertEqual(self.decide(statement, "oss:ListObjects", bucket, {"oss:Prefix": prefix}), expected)

    def test_a_missing_key_fails_positive_operators_only(self):
        like = {"Effect": "Allow", "Action": "*", "Resource": "*",
                "Condition": {"StringLike": {"oss:Delimiter": "/"}}}
        not_like = {"Effect": "Allow", "Action": "*", "Resource": "*",
                    "Condition": {"StringNotLike": {"oss:Delimiter": "/"}}}
        self.assertEqual(self.decide(like), "implicit")
        self.assertEqual(self.decide(not_like), "allow")

    def test_what_is_not_judged_grants_nothing_and_denies_everything_it_may(self):
        """Fail closed: an Allow with a part the evaluator cannot judge grants nothing; a Deny
        with such a part denies, unless a part it can judge does not match."""
        unjudged = [
            {"Condition": {"IpAddress": {"acs:SourceIp": "10.0.0.0/8"}}},
            {"Condition": {"StringLike": {"acs:SourceVpc": "vpc-*"}}},
            {"Condition": {"StringEquals": {"oss:x-oss-forbid-overwrite": "false"}}},
            {"NotAction": "oss:DeleteObject", "Action": None},
            {"NotResource": "acs:oss:*:*:other/*", "Resource": None},
            {"Principal": "*"},
        ]
        allow_all = {"Effect": "Allow", "Action": "*", "Resource": "*"}
        for parts in unjudged:
            with self.subTest(parts):
                allow = {k: v for k, v in {**allow_all, **parts}.items() if v is not None}
                self.assertEqual(self.decide(allow), "implicit")
                deny = {**allow, "Effect": "Deny"}
                self.assertEqual(policy.decide({"Statement": [allow_all, deny]}, "oss:PutObject", self.RESOURCE),
                                 "deny")
        # A part it can judge that does not match keeps the Deny from applying.
        deny = {"Effect": "Deny", "Action": "oss:DeleteObject", "NotResource": "acs:oss:*:*:other/*"}
        self.assertEqual(policy.decide({"Statement": [allow_all, deny]}, "oss:PutObject", self.RESOURCE), "allow")

    def test_secure_transport_is_false_on_the_stand_ins(self):
        for value in ("false", False, ["false"]):
            with self.subTest(value):
                deny = {"Effect": "Deny", "Action": "*", "Resource": "*",
                        "Condition": {"Bool": {"acs:SecureTransport": value}}}
                allow = {"Effect": "Allow", "Action": "*", "Resource": "*"}
                self.assertEqual(policy.decide({"Statement": [allow, deny]}, "oss:PutObject", self.RESOURCE), "deny")
        https_only = {"Effect": "Allow", "Action": "*", "Resource": "*",
                      "Condition": {"Bool": {"acs:SecureTransport": "true"}}}
        self.assertEqual(self.decide(https_only), "implicit")


class FailClosedTest(StandInTestCase):
    def test_a_deny_the_evaluator_cannot_judge_refuses(self):
        """A session policy's Deny with NotResource, an unknown condition key or Bool on
        acs:SecureTransport (false: the stand-in is plain HTTP) holds the key back."""
        allow = {"Effect": "Allow", "Action": "oss:*", "Resource": "*"}
        for deny in [
            {"Effect": "Deny", "Action": "oss:*", "NotResource": f"acs:oss:*:*:{BUCKET}/{ALICE}*"},
            {"Effect": "Deny", "Action": "oss:*", "Resource": "*", "Condition": {"Bool": {"acs:SecureTransport": "false"}}},
            {"Effect": "Deny", "Action": "oss:PutObject", "Resource": "*",
             "Condition": {"StringEquals": {"oss:x-oss-forbid-overwrite": "false"}}},
        ]:
            with self.subTest(deny):
                bucket = self.sts_bucket({"Version": "1", "Statement": [allow, deny]})
                self.assertRefused(lambda: bucket.put_object("uploads/bob/x", b"x"), 403, "AccessDenied", DENIED)


class UploadPermissionsTest(StandInTestCase):
    """An upload that tags its object needs oss:PutObjectTagging, and one that sets an ACL
    (other than `default`) oss:PutObjectAcl, besides oss:PutObject: headers and form fields."""

    def test_tagging_and_acl_headers_need_their_actions(self):
        bucket = self.sts_bucket(POLICY)
        for headers in ({"x-oss-tagging": "a=1"}, {"x-oss-object-acl": "private"}):
            with self.subTest(headers):
                self.assertRefused(lambda: bucket.put_object(f"{ALICE}t.txt", b"x", headers=headers),
                                   403, "AccessDenied", DENIED)
                self.assertRefused(lambda: bucket.init_multipart_upload(f"{ALICE}t.txt", headers=headers),
                                   403, "AccessDenied", DENIED)
        bucket.put_object(f"{ALICE}t.txt", b"x", headers={"x-oss-object-acl": "default"})
        wider = {"Version": "1", "Statement": POLICY["Statement"] + [
            {"Effect": "Allow", "Action": ["oss:PutObjectTagging", "oss:PutObjectAcl"],
             "Resource": f"acs:oss:*:*:{BUCKET}/{ALICE}*"}]}
        bucket = self.sts_bucket(wider)
        bucket.put_object(f"{ALICE}t.txt", b"x", headers={"x-oss-tagging": "a=1", "x-oss-object-acl": "private"})
        self.assertRefused(lambda: bucket.put_object(f"{ALICE}t.txt", b"x", headers={"x-oss-object-acl": "public-read"}),
                           400, "InvalidArgument", "not available in the local stand-in")

    def test_form_fields_need_them_too(self):
        _, answer = self.assume_role(POLICY)
        c = answer["Credentials"]
        for extra, status in (({"x-oss-tagging": "a=1"}, 403), ({"x-oss-object-acl": "private"}, 403),
                              ({"x-oss-object-acl": "default"}, 204)):
            with self.subTest(extra):
                fields = signed_form(f"{ALICE}f.txt", c["AccessKeyId"], c["AccessKeySecret"], token=c["SecurityToken"],
                                     fields=extra)
                self.assertEqual(post_form(self.endpoint, fields, "f.txt", b"form").status_code, status)
