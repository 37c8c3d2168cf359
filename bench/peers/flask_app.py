"""The Flask peer of the stsvend comparison: the seed's application server (its /get_sts_token,
written with alibabacloud_sts20150401 as the seed writes it) plus a /presign route with oss2,
with the STS client and the bucket built once per worker at import, as a sensible user would.

Served by bench/peers/run with gunicorn (2 sync workers). Configuration, all from the
environment, the same variables stsvend reads:
  ALIBABA_CLOUD_ACCESS_KEY_ID / ALIBABA_CLOUD_ACCESS_KEY_SECRET  the function's key (the
      default credential chain of alibabacloud_credentials, as in the seed)
  ALIBABA_CLOUD_SECURITY_TOKEN  the STS token /presign signs with (when set; the default
      credential chain also sends it to STS, so the run script sets it for presign only, as
      bench/load.sh does for stsvend)
  STS_ENDPOINT   e.g. http://127.0.0.1:9450 (host:port and protocol go to the SDK's Config)
  ROLE_ARN, BUCKET, BUCKET_REGION
"""
import datetime
import os
from urllib.parse import urlsplit

import oss2
from alibabacloud_credentials.client import Client as CredentialClient
from alibabacloud_sts20150401 import models as sts_20150401_models
from alibabacloud_sts20150401.client import Client as Sts20150401Client
from alibabacloud_tea_openapi.models import Config
from flask import Flask, jsonify, request

app = Flask(__name__)
app.json.sort_keys = False  # keep the answer's fields in stsvend's order

role_arn_for_oss_upload = os.environ.get("ROLE_ARN")
region_id = os.environ.get("BUCKET_REGION", "cn-hangzhou")
bucket_name = os.environ.get("BUCKET", "examplebucket")
prefix = "uploads/anonymous/"

# The session policy issue-token renders for an anonymous caller (policies/bucket_write_policy.json
# with $BUCKET_NAME=examplebucket and $OBJECT_PREFIX=uploads/anonymous/), byte for byte as it
# sends it, so that the stand-in STS sees the same AssumeRole from every server.
session_policy = (
    '{"Statement":[{"Action":["oss:PutObject","oss:AbortMultipartUpload","oss:ListParts"],'
    '"Effect":"Allow","Resource":["acs:oss:*:*:%s/%s*"]}],"Version":"1"}' % (bucket_name, prefix)
)

# Once per worker: the STS client (pointed at the stand-in over http) ...
_sts = urlsplit(os.environ.get("STS_ENDPOINT", "https://sts.aliyuncs.com"))
config = Config(
    region_id=region_id,
    credential=CredentialClient(),
    endpoint=_sts.netloc,
    protocol=_sts.scheme,
)
sts_client = Sts20150401Client(config=config)

# ... and the bucket, signing V4 with the function's key and its STS token when it has one.
_key_id = os.environ["ALIBABA_CLOUD_ACCESS_KEY_ID"]
_key_secret = os.environ["ALIBABA_CLOUD_ACCESS_KEY_SECRET"]
_security_token = os.environ.get("ALIBABA_CLOUD_SECURITY_TOKEN")
if _security_token:
    auth = oss2.StsAuth(_key_id, _key_secret, _security_token, auth_version=oss2.AUTH_VERSION_4)
else:
    auth = oss2.AuthV4(_key_id, _key_secret)
bucket = oss2.Bucket(auth, "https://oss-%s.aliyuncs.com" % region_id, bucket_name, region=region_id)


def refuse(status, code, message):
    answer = jsonify(StatusCode=status, ErrorCode=code, ErrorMessage=message)
    answer.status_code = status
    return answer


@app.route("/get_sts_token", methods=["GET"])
def get_sts_token():
    assume_role_request = sts_20150401_models.AssumeRoleRequest(
        role_arn=role_arn_for_oss_upload,
        role_session_name="anonymous",
        duration_seconds=3600,
        policy=session_policy,
    )
    response = sts_client.assume_role(assume_role_request)
    credentials = response.body.credentials
    answer = jsonify(
        StatusCode=200,
        AccessKeyId=credentials.access_key_id,
        AccessKeySecret=credentials.access_key_secret,
        SecurityToken=credentials.security_token,
        Expiration=credentials.expiration,
    )
    answer.headers["Cache-Control"] = "no-store"
    return answer


@app.route("/presign", methods=["GET"])
def presign():
    key = request.args.get("key", "")
    method = request.args.get("method", "PUT").upper()
    content_type = request.args.get("contentType", "")
    if method != "PUT":
        return refuse(400, "InvalidArgument", "method must be PUT")
    if not key.startswith(prefix) or ".." in key.split("/"):
        return refuse(403, "AccessDenied", "key must start with " + prefix)
    headers = {"Content-Type": content_type} if content_type else {}
    expires = 900
    url = bucket.sign_url(method, key, expires, headers=headers, slash_safe=True)
    expiration = datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(seconds=expires)
    answer = jsonify(
        StatusCode=200,
        Method=method,
        URL=url,
        Headers=headers,
        Expiration=expiration.strftime("%Y-%m-%dT%H:%M:%SZ"),
        ExpiresIn=expires,
    )
    answer.headers["Cache-Control"] = "no-store"
    return answer


if __name__ == "__main__":
    app.run(host="127.0.0.1", port=int(os.environ.get("PORT", "9453")))
