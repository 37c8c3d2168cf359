"""A real STS for tests: moto's server on 127.0.0.1 with signature checking switched on.

Starts moto on a free port, creates through its IAM an user with an access key and a role that
user may assume, switches authentication on (from then on every request must be SigV4-signed by
a known key), prints one JSON line {"endpoint", "access_key_id", "secret_access_key",
"role_arn", "session"} (session: a role session's temporary key, as an instance profile or a
task role gives one), and serves until its standard input closes.

With --no-auth, authentication stays off: moto 5.2.5 answers an unsigned request (the
AssumeRoleWithWebIdentity every SDK sends) with a 500 once it is on.

usage: moto_sts.py [--no-auth]   (run by functions/issue-token/tests/it/aws_sts.rs)
"""

import json
import os
import socket
import sys
import urllib.request

os.environ.setdefault("INITIAL_NO_AUTH_ACTION_COUNT", "inf")
os.environ.setdefault("MOTO_CALL_RESET_API", "false")

import boto3  # noqa: E402
from moto.server import ThreadedMotoServer  # noqa: E402


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def main() -> int:
    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    endpoint = f"http://127.0.0.1:{port}"
    iam = boto3.client("iam", endpoint_url=endpoint, region_name="us-east-1",
                       aws_access_key_id="setup", aws_secret_access_key="setup")
    user = iam.create_user(UserName="stsvend-function")["User"]
    key = iam.create_access_key(UserName="stsvend-function")["AccessKey"]
    iam.put_user_policy(UserName="stsvend-function", PolicyName="assume",
                        PolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": [
                            {"Effect": "Allow", "Action": "sts:AssumeRole", "Resource": "*"}]}))
    role = iam.create_role(RoleName="uploader", AssumeRolePolicyDocument=json.dumps({
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Principal": {"AWS": user["Arn"]}, "Action": "sts:AssumeRole"}],
    }))["Role"]
    chain = iam.create_policy(PolicyName="chain", PolicyDocument=json.dumps({
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole", "Resource": "*"}]}))["Policy"]
    instance = iam.create_role(RoleName="instance", AssumeRolePolicyDocument=json.dumps({
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Principal": {"AWS": user["Arn"]}, "Action": "sts:AssumeRole"}],
    }))["Role"]
    iam.attach_role_policy(RoleName="instance", PolicyArn=chain["Arn"])
    sts = boto3.client("sts", endpoint_url=endpoint, region_name="us-east-1",
                       aws_access_key_id=key["AccessKeyId"], aws_secret_access_key=key["SecretAccessKey"])
    # A role session, as an instance profile, a task role or IRSA would hand the function.
    session = sts.assume_role(RoleArn=instance["Arn"], RoleSessionName="instance")["Credentials"]
    if "--no-auth" not in sys.argv:
        urllib.request.urlopen(urllib.request.Request(f"{endpoint}/moto-api/reset-auth", data=b"0", method="POST",
                                                      headers={"Content-Type": "text/plain"}))
    print(json.dumps({"endpoint": endpoint, "access_key_id": key["AccessKeyId"],
                      "secret_access_key": key["SecretAccessKey"], "role_arn": role["Arn"],
                      "session": {"access_key_id": session["AccessKeyId"],
                                  "secret_access_key": session["SecretAccessKey"],
                                  "session_token": session["SessionToken"],
                                  "expiration": session["Expiration"].strftime("%Y-%m-%dT%H:%M:%SZ")}}), flush=True)
    sys.stdin.read()
    server.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
