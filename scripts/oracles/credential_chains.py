"""The official default credential chains as oracles: for each environment of the table that
tests/it/credential_chains.rs wrote (variables, files under HOME, whether an instance metadata
service answers), botocore's default resolver (PROVIDER=aws) or alibabacloud_credentials'
DefaultCredentialsProvider (PROVIDER=aliyun) chooses a source, and it must be the one stsvend
chose.

Each environment runs in a fresh interpreter (alibabacloud_credentials reads the environment
when imported). The official code decides which providers are in the chain, in which order, and
reads the variables and profile files itself; only the network is stubbed: the instance metadata
answers when the row says it does, a container endpoint, a credentials URI and STS always do.

usage: credential_chains.py target/tmp/credential-chains.jsonl
"""

import json
import os
import subprocess
import sys

ALIYUN = """
import json, sys
from alibabacloud_credentials.provider import default, ecs_ram_role, uri, oidc
from alibabacloud_credentials.provider.refreshable import Credentials
metadata = sys.argv[1] == "true"
def fake(name):
    def get(self):
        return Credentials(access_key_id="id", access_key_secret="s", security_token="t", provider_name=name)
    return get
def ecs(self):
    if not metadata:
        raise Exception("no metadata service")
    return fake("ecs_ram_role")(self)
ecs_ram_role.EcsRamRoleCredentialsProvider.get_credentials = ecs
uri.URLCredentialsProvider.get_credentials = fake("credential_uri")
oidc.OIDCRoleArnCredentialsProvider.get_credentials = fake("oidc_role_arn")
chain = default.DefaultCredentialsProvider()
try:
    name = chain.get_credentials().get_provider_name()
except Exception:
    name = "none"
print(name)
"""

ALIYUN_KINDS = [
    ("default/env", "environment"),
    ("default/oidc_role_arn", "oidc"),
    ("default/cli_profile/ecs_ram_role", "instance_metadata"),
    ("default/cli_profile", "cli_profile"),
    ("default/profile", "profile_file"),
    ("default/ecs_ram_role", "instance_metadata"),
    ("default/credential_uri", "credentials_uri"),
    ("none", "none"),
]

AWS = """
import sys
import botocore.session
from botocore import credentials, utils
metadata = sys.argv[1] == "true"
creds = {"access_key": "id", "secret_key": "s", "token": "t", "expiry_time": "2099-01-01T00:00:00Z"}
# botocore's own switch (AWS_EC2_METADATA_DISABLED) is kept: only the answer is stubbed.
utils.InstanceMetadataFetcher.retrieve_iam_role_credentials = (
    lambda self: dict(creds, role_name="r") if metadata and not self._disabled else {})
utils.ContainerMetadataFetcher.retrieve_full_uri = lambda self, uri, headers=None: {
    "AccessKeyId": "id", "SecretAccessKey": "s", "Token": "t", "Expiration": "2099-01-01T00:00:00Z"}
session = botocore.session.Session()
found = session.get_component("credential_provider").load_credentials()
print(found.method if found else "none")
"""

AWS_KINDS = {
    "env": "environment",
    "assume-role-with-web-identity": "web_identity",
    "shared-credentials-file": "shared_credentials_file",
    "config-file": "config_file",
    "container-role": "container",
    "iam-role": "instance_metadata",
    "none": "none",
}


def official(row: dict) -> str:
    env = {"PATH": os.environ.get("PATH", ""), **row["env"]}
    script = ALIYUN if row["provider"] == "aliyun" else AWS
    metadata = "true" if row["metadata"] else "false"
    done = subprocess.run([sys.executable, "-c", script, metadata], env=env, capture_output=True, text=True)
    name = done.stdout.strip().splitlines()[-1] if done.stdout.strip() else f"crashed: {done.stderr[-300:]}"
    if row["provider"] == "aws":
        return AWS_KINDS.get(name, name)
    return next((kind for prefix, kind in ALIYUN_KINDS if name.startswith(prefix)), name)


def main(path: str) -> int:
    with open(path, encoding="utf-8") as f:
        rows = [json.loads(line) for line in f if line.strip()]
    passed = failed = 0
    for i, row in enumerate(rows):
        theirs = official(row)
        variables = sorted(k for k in row["env"] if k != "HOME")
        files = sorted(
            os.path.relpath(os.path.join(d, f), row["env"]["HOME"])
            for d, _, fs in os.walk(row["env"]["HOME"]) for f in fs
        )
        where = f"{row['provider']} {variables} files {files} metadata={row['metadata']}"
        if theirs == row["stsvend"]:
            passed += 1
            print(f"ok   {where}: {theirs}")
        else:
            failed += 1
            print(f"FAIL {where}: official chain {theirs!r}, stsvend {row['stsvend']!r}")
    print("credential sources chosen by stsvend, checked with botocore and alibabacloud_credentials")
    print(f"credential-chains: {passed} passed, {failed} failed")
    return 1 if failed or not passed else 0


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    sys.exit(main(sys.argv[1]))
