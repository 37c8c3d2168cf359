"""The STS stand-in, driven as issue-token drives it (a POST form signed with the official
`get_rpcsignature`), through alibabacloud_credentials' RAM-role-ARN provider (the official
credentials client, pointed at the stand-in's http endpoint), and with requests STS refuses.
Credentials it issues must work with oss2's StsAuth against the OSS stand-in."""

import datetime
import urllib.parse

import oss2
import requests
from alibabacloud_credentials.provider import RamRoleArnCredentialsProvider

from support import KEY_ID, ROLE_ARN, SECRET, StandInTestCase, assume_role_params, post_sts

POLICY = {"Version": "1", "Statement": [
    {"Effect": "Allow", "Action": ["oss:PutObject"], "Resource": ["acs:oss:*:*:examplebucket/uploads/alice/*"]}]}


class AssumeRoleTest(StandInTestCase):
    def test_issues_credentials_as_sts_answers(self):
        status, answer = self.assume_role(POLICY, session="alice", DurationSeconds="900")
        self.assertEqual(status, 200, answer)
        c = answer["Credentials"]
        self.assertTrue(c["AccessKeyId"].startswith("STS."))
        self.assertTrue(c["SecurityToken"].startswith("CAIS"))
        expiration = datetime.datetime.strptime(c["Expiration"], "%Y-%m-%dT%H:%M:%SZ").replace(
            tzinfo=datetime.timezone.utc)
        left = (expiration - datetime.datetime.now(datetime.timezone.utc)).total_seconds()
        self.assertTrue(880 < left <= 900, left)
        self.assertEqual(answer["AssumedRoleUser"]["Arn"], f"{ROLE_ARN}/alice")
        self.assertTrue(answer["RequestId"])
        issued = self.sts.lookup(c["AccessKeyId"])
        self.assertEqual((issued.access_key_secret, issued.security_token, issued.policy, issued.session_name,
                          issued.role_arn, issued.expiration), (c["AccessKeySecret"], c["SecurityToken"], POLICY,
                                                               "alice", ROLE_ARN, expiration))
        self.assertEqual(len(self.sts.calls), 1)
        self.assertEqual(self.sts.calls[0]["RoleSessionName"], "alice")
        self.assertIsNone(self.sts.lookup("STS.never-issued"))

    def test_a_get_query_works_too(self):
        params = assume_role_params(KEY_ID, SECRET, method="GET")
        answer = requests.get(f"http://127.0.0.1:{self.sts_port}/?" + urllib.parse.urlencode(params), timeout=10)
        self.assertEqual(answer.status_code, 200, answer.text)

    def test_the_head_warm_up_gets_a_quick_answer(self):
        answer = requests.head(f"http://127.0.0.1:{self.sts_port}/", timeout=5)
        self.assertEqual((answer.status_code, answer.content), (400, b""))
        self.assertEqual(self.sts.calls, [])

    def test_official_credentials_provider_against_the_stand_in(self):
        provider = RamRoleArnCredentialsProvider(
            access_key_id=KEY_ID, access_key_secret=SECRET, role_arn=ROLE_ARN, role_session_name="sdk-session",
            duration_seconds=3600, sts_endpoint=f"http://127.0.0.1:{self.sts_port}")
        credentials = provider.get_credentials()
        self.assertTrue(credentials.get_access_key_id().startswith("STS."))
        self.assertEqual(self.sts.calls[0]["RoleSessionName"], "sdk-session")
        auth = oss2.StsAuth(credentials.get_access_key_id(), credentials.get_access_key_secret(),
                            credentials.get_security_token(), auth_version=oss2.AUTH_VERSION_4)
        self.bucket(auth).put_object("uploads/sdk.txt", b"from the provider's credentials")
        self.assertEqual(self.bucket().get_object("uploads/sdk.txt").read(), b"from the provider's credentials")

    def test_issued_credentials_work_with_oss2_sts_auth(self):
        for version in ("v1", "v4"):
            with self.subTest(version):
                bucket = self.sts_bucket(version=version)
                bucket.put_object(f"any/{version}.txt", b"no session policy: the role's rights")
                self.assertEqual(bucket.get_object(f"any/{version}.txt").read(), b"no session policy: the role's rights")

    def test_chained_assume_role_with_the_issued_token(self):
        _, first = self.assume_role()
        c = first["Credentials"]
        params = assume_role_params(c["AccessKeyId"], c["AccessKeySecret"], token=c["SecurityToken"], session="chained")
        status, answer = post_sts(self.sts_port, params)
        self.assertEqual(status, 200, answer)
        self.assertNotEqual(answer["Credentials"]["AccessKeyId"], c["AccessKeyId"])


class RefusalsTest(StandInTestCase):
    def assertStsRefused(self, status_and_answer, status: int, code: str):
        got_status, answer = status_and_answer
        self.assertEqual((got_status, answer.get("Code")), (status, code), answer)
        self.assertEqual(set(answer), {"RequestId", "HostId", "Code", "Message"})

    def test_a_wrong_signature(self):
        params = assume_role_params(KEY_ID, SECRET)
        params["Signature"] = "A" + params["Signature"][1:] if params["Signature"][0] != "A" else "B" + params["Signature"][1:]
        self.assertStsRefused(post_sts(self.sts_port, params), 400, "SignatureDoesNotMatch")
        params = assume_role_params(KEY_ID, "not the secret")
        self.assertStsRefused(post_sts(self.sts_port, params), 400, "SignatureDoesNotMatch")

    def test_a_changed_parameter_breaks_the_signature(self):
        params = assume_role_params(KEY_ID, SECRET, policy=POLICY)
        params["Policy"] = params["Policy"].replace("alice", "*")
        self.assertStsRefused(post_sts(self.sts_port, params), 400, "SignatureDoesNotMatch")

    def test_a_reused_nonce(self):
        params = assume_role_params(KEY_ID, SECRET, SignatureNonce="nonce-1")
        self.assertEqual(post_sts(self.sts_port, params)[0], 200)
        self.assertStsRefused(post_sts(self.sts_port, params), 400, "SignatureNonceUsed")

    def test_a_stale_or_malformed_timestamp(self):
        stale = datetime.datetime.now(datetime.timezone.utc) - datetime.timedelta(minutes=20)
        self.assertStsRefused(post_sts(self.sts_port, assume_role_params(KEY_ID, SECRET, timestamp=stale)),
                              400, "InvalidTimeStamp.Expired")
        self.assertStsRefused(post_sts(self.sts_port, assume_role_params(KEY_ID, SECRET, Timestamp="yesterday")),
                              400, "InvalidTimeStamp.Format")

    def test_unknown_key(self):
        self.assertStsRefused(post_sts(self.sts_port, assume_role_params("LTAI-nobody", SECRET)),
                              404, "InvalidAccessKeyId.NotFound")

    def test_parameters(self):
        cases = [
            ({"RoleArn": None}, 400, "MissingRoleArn"),
            ({"RoleSessionName": None}, 400, "MissingRoleSessionName"),
            ({"SignatureNonce": None}, 400, "MissingSignatureNonce"),
            ({"RoleArn": "arn:aws:iam::1:role/x"}, 400, "InvalidParameter.RoleArn"),
            ({"RoleSessionName": "a"}, 400, "InvalidParameter.RoleSessionName"),
            ({"RoleSessionName": "bad name!"}, 400, "InvalidParameter.RoleSessionName"),
            ({"DurationSeconds": "899"}, 400, "InvalidParameter.DurationSeconds"),
            ({"DurationSeconds": "3601"}, 400, "InvalidParameter.DurationSeconds"),
            ({"Policy": "{not json"}, 400, "InvalidParameter.PolicyGrammar"),
            ({"Policy": '{"Version":"1","Statement":[]}'}, 400, "InvalidParameter.PolicyGrammar"),
            ({"Version": "2011-06-15"}, 400, "InvalidVersion"),
            ({"Action": "AssumeRoleWithSAML"}, 404, "InvalidAction.NotFound"),
        ]
        for overrides, status, code in cases:
            with self.subTest(overrides):
                self.assertStsRefused(post_sts(self.sts_port, assume_role_params(KEY_ID, SECRET, **overrides)),
                                      status, code)
        self.assertEqual(self.sts.calls, [])

    def test_chained_calls_need_their_token(self):
        _, first = self.assume_role()
        c = first["Credentials"]
        key, secret = c["AccessKeyId"], c["AccessKeySecret"]
        self.assertStsRefused(post_sts(self.sts_port, assume_role_params(key, secret)), 400, "MissingSecurityToken")
        self.assertStsRefused(post_sts(self.sts_port, assume_role_params(key, secret, token="CAIS-other")),
                              400, "InvalidSecurityToken.MismatchWithAccessKey")
        self.sts.lookup(key).expiration = datetime.datetime.now(datetime.timezone.utc) - datetime.timedelta(seconds=1)
        self.assertStsRefused(post_sts(self.sts_port, assume_role_params(key, secret, token=c["SecurityToken"])),
                              400, "InvalidSecurityToken.Expired")

    def test_garbage_is_an_error_answer(self):
        for body in (b"", b"\xff\xfe%%%", b"Action=AssumeRole&Action=AssumeRole"):
            with self.subTest(body):
                answer = requests.post(f"http://127.0.0.1:{self.sts_port}/", data=body, timeout=10)
                self.assertEqual(answer.status_code, 400)
                self.assertIn("Code", answer.json())
