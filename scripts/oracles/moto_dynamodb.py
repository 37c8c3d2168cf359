"""A real DynamoDB for the quota store's tests: moto's server on 127.0.0.1, signature checking on.

Starts moto on a free port, creates through its IAM a user allowed dynamodb:* with an access
key, creates the quota table exactly as the documented `aws dynamodb create-table` command does
(string pk and sk, on-demand, TTL on expires_at), switches authentication on (from then on every
request must be SigV4-signed by a known key), prints one JSON line {"endpoint", "table",
"region", "access_key_id", "secret_access_key"}, and serves until its standard input closes.

moto answers each request on a thread of its own and does not serialize the writes to one item
(two conditional writes can both pass their check), where DynamoDB makes each conditional write
atomic. The server here hands moto one request at a time, so a condition holds as it does on
DynamoDB; the connections are still accepted concurrently.

usage: moto_dynamodb.py   (run by crates/quota/tests/stores/servers.rs)
"""

import json
import os
import socket
import sys
import threading
import urllib.request

os.environ.setdefault("INITIAL_NO_AUTH_ACTION_COUNT", "inf")
os.environ.setdefault("MOTO_CALL_RESET_API", "false")

import boto3  # noqa: E402
from moto.moto_server.werkzeug_app import (  # noqa: E402
    DomainDispatcherApplication,
    MotoRequestHandler,
    create_backend_app,
)
from werkzeug.serving import make_server  # noqa: E402

TABLE = "stsvend-quota"
REGION = "us-east-1"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def one_at_a_time(app):
    """`app`, handling one request at a time (the answer's body read inside the lock)."""
    lock = threading.Lock()

    def serialized(environ, start_response):
        with lock:
            return list(app(environ, start_response))

    return serialized


def main() -> int:
    port = free_port()
    app = one_at_a_time(DomainDispatcherApplication(create_backend_app))
    server = make_server("127.0.0.1", port, app, threaded=True, request_handler=MotoRequestHandler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    endpoint = f"http://127.0.0.1:{port}"
    setup = {"endpoint_url": endpoint, "region_name": REGION,
             "aws_access_key_id": "setup", "aws_secret_access_key": "setup"}
    iam = boto3.client("iam", **setup)
    iam.create_user(UserName="stsvend-function")
    key = iam.create_access_key(UserName="stsvend-function")["AccessKey"]
    iam.put_user_policy(UserName="stsvend-function", PolicyName="quota",
                        PolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": [
                            {"Effect": "Allow", "Action": "dynamodb:*", "Resource": "*"}]}))
    dynamodb = boto3.client("dynamodb", **setup)
    dynamodb.create_table(
        TableName=TABLE,
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"},
                              {"AttributeName": "sk", "AttributeType": "S"}],
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"},
                   {"AttributeName": "sk", "KeyType": "RANGE"}],
        BillingMode="PAY_PER_REQUEST",
    )
    dynamodb.update_time_to_live(TableName=TABLE, TimeToLiveSpecification={
        "Enabled": True, "AttributeName": "expires_at"})
    urllib.request.urlopen(urllib.request.Request(f"{endpoint}/moto-api/reset-auth", data=b"0", method="POST",
                                                  headers={"Content-Type": "text/plain"}))
    print(json.dumps({"endpoint": endpoint, "table": TABLE, "region": REGION,
                      "access_key_id": key["AccessKeyId"],
                      "secret_access_key": key["SecretAccessKey"]}), flush=True)
    sys.stdin.read()
    server.shutdown()
    return 0


if __name__ == "__main__":
    sys.exit(main())
