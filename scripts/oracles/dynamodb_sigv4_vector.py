"""Prints botocore's SigV4 headers for one DynamoDB JSON request, with and without a session
token, at a fixed instant: the expected values of crates/sign/src/aws/dynamodb.rs's tests
(botocore 1.44.5, scripts/oracles/requirements.txt). Run by hand when the test changes:

    .venv/bin/python scripts/oracles/dynamodb_sigv4_vector.py
"""

import datetime
import json
from unittest import mock

from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

BODY = b'{"TableName":"stsvend-quota","Key":{"pk":{"S":"quota#x"},"sk":{"S":"usage"}},"ConsistentRead":true}'
AT = datetime.datetime(2015, 8, 30, 12, 36, 0)

for token in [None, "FQoGZXIvYXdzEXAMPLETOKEN"]:
    request = AWSRequest(method="POST", url="https://dynamodb.us-east-1.amazonaws.com/", data=BODY,
                         headers={"Content-Type": "application/x-amz-json-1.0",
                                  "X-Amz-Target": "DynamoDB_20120810.GetItem"})
    credentials = Credentials("AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", token)
    with mock.patch("botocore.auth.get_current_datetime", return_value=AT):
        SigV4Auth(credentials, "dynamodb", "us-east-1").add_auth(request)
    print(json.dumps(dict(request.headers.items())))
