"""The STS stand-in, driven as issue-token drives it (a POST form signed with the official
`get_rpcsignature`), through alibabacloud_credentials' RAM-role-ARN provider (the official
credentials client, pointed at the stand-in's http endpoint), and with requests STS refuses.
Credentials it issues must work with oss2's StsAuth against the OSS stand-in."""

import datetime
import json
import os
import socket
import urllib.parse

import oss2
import requests
from alibabacloud_credentials.provider import RamRoleArnCredentialsProvider

from support import BUCKET, KEY_ID, ROOT, ROLE_ARN, SECRET, StandInTestCase, assume_role_params, post_sts, write_policy

from standin import sts as sts_standin  # noqa: E402  (tests/standins/standin)

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
        self.assertEqual((issued.access_key_secret, issued.security_token, issued.policies, issued.session_name,
                          issued.role_arn, issued.expiration), (c["AccessKeySecret"], c["SecurityToken"], (POLICY,),
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


class ChainedSessionTest(StandInTestCase):
    """A key with a session policy may AssumeRole again only if that policy allows
    sts:AssumeRole on the role, and the new key stays held to it: chaining never widens."""

    def chain(self, c, policy=None):
        params = assume_role_params(c["AccessKeyId"], c["AccessKeySecret"], token=c["SecurityToken"],
                                    policy=policy, session="chained")
        return post_sts(self.sts_port, params)

    def test_a_session_policy_without_sts_assume_role_cannot_chain(self):
        _, first = self.assume_role(POLICY)
        status, answer = self.chain(first["Credentials"])
        self.assertEqual((status, answer.get("Code")), (403, "NoPermission"), answer)
        self.assertIn("You are not authorized to do this action", answer["Message"])
        self.assertEqual(len(self.sts.calls), 1)

    def test_a_chained_key_is_held_to_its_parents_policy(self):
        parent = {"Version": "1", "Statement": POLICY["Statement"] + [
            {"Effect": "Allow", "Action": "sts:AssumeRole", "Resource": "acs:ram:*:1234567890123:role/uploader"}]}
        _, first = self.assume_role(parent)
        everything = {"Version": "1", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}
        status, answer = self.chain(first["Credentials"], everything)
        self.assertEqual(status, 200, answer)
        c = answer["Credentials"]
        self.assertEqual(self.sts.lookup(c["AccessKeyId"]).policies, (parent, everything))
        bucket = self.bucket(oss2.StsAuth(c["AccessKeyId"], c["AccessKeySecret"], c["SecurityToken"],
                                          auth_version=oss2.AUTH_VERSION_4))
        bucket.put_object("uploads/alice/chained.txt", b"within the parent's policy")
        self.assertRefused(lambda: bucket.put_object("uploads/bob/escape.txt", b"x"), 403, "AccessDenied")
        self.assertRefused(lambda: bucket.get_object("uploads/alice/chained.txt"), 403, "AccessDenied")
        # The chained key's own policy lacks nothing, but its parent's lacks sts:AssumeRole on
        # another role: a further link is refused.
        other = assume_role_params(c["AccessKeyId"], c["AccessKeySecret"], token=c["SecurityToken"],
                                   RoleArn="acs:ram::1234567890123:role/admin")
        self.assertEqual(post_sts(self.sts_port, other)[1].get("Code"), "NoPermission")


class PolicyChecksTest(StandInTestCase):
    def assertRefusedPolicy(self, policy, code):
        status, answer = self.assume_role(policy=None, Policy=policy if isinstance(policy, str) else json.dumps(policy))
        self.assertEqual((status, answer.get("Code")), (400, code), answer)

    def test_a_policy_over_2048_characters(self):
        document = {"Version": "1", "Statement": [{"Effect": "Allow", "Action": ["oss:PutObject"], "Resource": [
            f"acs:oss:*:*:{BUCKET}/uploads/user-{i:04d}/*" for i in range(60)]}]}
        self.assertGreater(len(json.dumps(document)), 2048)
        self.assertRefusedPolicy(document, "InvalidParameter.PolicySize")
        self.assertEqual(self.sts.calls, [])

    def test_the_policy_grammar(self):
        statement = {"Effect": "Allow", "Action": "oss:PutObject", "Resource": "*"}
        for document in [
            {"Statement": [statement]},
            {"Version": "2", "Statement": [statement]},
            {"Version": 1, "Statement": [statement]},
            {"Version": "1", "Statement": [{k: v for k, v in statement.items() if k != "Resource"}]},
            {"Version": "1", "Statement": [{k: v for k, v in statement.items() if k != "Effect"}]},
            {"Version": "1", "Statement": [{k: v for k, v in statement.items() if k != "Action"}]},
            {"Version": "1", "Statement": [{**statement, "Effect": "allow"}]},
            {"Version": "1", "Statement": [{**statement, "Resource": []}]},
            {"Version": "1", "Statement": [{**statement, "Action": ["oss:GetObject", 7]}]},
            [statement],
        ]:
            with self.subTest(document):
                self.assertRefusedPolicy(document, "InvalidParameter.PolicyGrammar")
        self.assertEqual(self.sts.calls, [])

    def test_the_repository_templates_pass_rendered_for_a_long_caller(self):
        """stsvend's own policies, rendered for a 63-character bucket and a long prefix, stay
        well within the checks."""
        bucket, prefix = "b" * 63, "uploads/" + "u" * 64 + "/"
        for template in sorted(os.listdir(os.path.join(ROOT, "policies"))):
            if not template.endswith(".json"):
                continue
            with self.subTest(template):
                document = write_policy(bucket, prefix, template)
                text = json.dumps(document, indent=2).replace("$IMM_PROJECT", "p" * 64)
                self.assertLess(len(text), 1024)
                self.assertEqual(sts_standin.parse_policy(text), json.loads(text))
                self.assertEqual(self.assume_role(json.loads(text))[0], 200)


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

    def test_a_body_over_64_kib_is_a_json_error_not_a_crash(self):
        for length in ("1000000000000000", str(64 * 1024 + 1), "-5", "lots"):
            with self.subTest(length):
                with socket.create_connection(("127.0.0.1", self.sts_port), timeout=10) as s:
                    s.sendall(f"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: {length}\r\n\r\n".encode())
                    head, _, body = read_all(s).partition(b"\r\n\r\n")
                self.assertTrue(head.startswith(b"HTTP/1.0 400"), head)
                self.assertEqual(json.loads(body)["Code"], "InvalidParameter")
        self.assertEqual(post_sts(self.sts_port, assume_role_params(KEY_ID, SECRET))[0], 200)


def read_all(s: socket.socket) -> bytes:
    out = b""
    while chunk := s.recv(65536):
        out += chunk
    return out
