"""Writes the hand-made seed inputs of every fuzz target into fuzz/seeds/<target>/ (committed;
rerun after changing this file), leaving the regression_* inputs there (inputs that once failed,
kept with their fix) as they are. scripts/fuzz starts each target from its seeds and its evolved
corpus (fuzz/corpus/<target>/, what the fuzzer kept, minimized; local, not in git), and cargo
test replays the seeds, and the corpus when there is one.

usage: python3 fuzz/seeds.py
"""
import json, pathlib, struct

here = pathlib.Path(__file__).parent
repo = here.parent
seeds = {t: [] for t in ["presign_query", "presign_json", "policy_render", "sts_json", "sts_xml", "jwt", "jwt_claims", "jwks"]}

asks = [
    {"key": "uploads/anonymous/photo 1.jpg", "method": "PUT", "contentType": "image/jpeg"},
    {"key": "uploads/anonymous/a.txt", "method": "GET", "responseContentType": "text/plain",
     "responseContentDisposition": "attachment; filename=\"a.txt\"", "process": "image/resize,w_100"},
    {"key": "uploads/anonymous/a.txt", "method": "HEAD", "expires": 60},
    {"key": "uploads/anonymous/a.txt", "method": "DELETE"},
    {"key": "uploads/anonymous/", "method": "POST", "startsWith": True, "contentType": "image/png"},
    {"key": "uploads/anonymous/f.bin", "method": "POST"},
    {"key": "uploads/anonymous/big.bin", "multipart": "initiate", "contentType": "video/mp4"},
    {"key": "uploads/anonymous/big.bin", "method": "PUT", "uploadId": "0004B9894A22E5B1888A1E29F823****", "partNumber": 2},
    {"key": "uploads/anonymous/big.bin", "multipart": "complete", "uploadId": "abc"},
    {"key": "uploads/anonymous/big.bin", "multipart": "list", "uploadId": "abc"},
    {"key": "uploads/anonymous/m.bin", "method": "PUT", "contentMd5": "1B2M2Y8AsgTpgAmY7PhCfg==", "contentLength": 0},
    {"key": "uploads/bob/x.txt", "method": "PUT"},
    {"key": "uploads/anonymous/../bob/x", "method": "GET"},
    {"key": "uploads/anonymous/a b?#%2F.txt", "via": "cdn", "expires": 120},
    {"key": "uploads/anonymous/a.txt", "via": "cdn", "process": "image/resize,w_100"},
    {"key": "uploads/anonymous/a.txt", "via": "bucket"},
    {"cookies": True, "expires": 60},
]
for ask in asks:
    seeds["presign_json"].append(json.dumps(ask).encode())
    from urllib.parse import urlencode
    seeds["presign_query"].append(urlencode({k: (str(v).lower() if isinstance(v, bool) else v) for k, v in ask.items()}).encode())
seeds["presign_json"] += [b"", b"[]", b'{"key":1}', b'{"expires":1e400}']
seeds["presign_query"] += [b"", b"key=a&key=b", b"expires=-1"]

for path in sorted((repo / "policies").rglob("*.json")):
    text = path.read_bytes()
    seeds["policy_render"] += [text, text + b"\0alice", text + b"\0*", text + b"\0a/../b"]
seeds["policy_render"].append(b'{"Statement":[{"Effect":"Allow","Action":"oss:PutObject","Resource":"acs:oss:*:*:$BUCKET_NAME/${claim.tenant}/${sub}/*"}],"Version":"1"}\0t1')

def status(code, body):
    return struct.pack(">H", (code - 100) % 65536) + body
ok = {"RequestId": "r", "Credentials": {"AccessKeyId": "STS.test-fuzz", "AccessKeySecret": "s",
      "SecurityToken": "CAIS" + "x" * 40, "Expiration": "2030-01-01T00:00:00Z"},
      "AssumedRoleUser": {"Arn": "acs:ram::1:role/r/s", "AssumedRoleId": "1:s"}}
seeds["sts_json"] += [
    status(200, json.dumps(ok).encode()),
    status(400, b'{"RequestId":"r","HostId":"sts.aliyuncs.com","Code":"SignatureDoesNotMatch","Message":"Specified signature is not matched with our calculation. server string to sign is:POST&%2F&AccessKeyId%3D"}'),
    status(429, b'{"Code":"Throttling.User","Message":"Request was denied due to user flow control."}'),
    status(500, b"<html>bad gateway</html>"),
    status(200, b'{"Credentials":{"Expiration":"2030-01-01T00:00:00.123Z"}}'),
]
xml_ok = (b'<AssumeRoleResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/"><AssumeRoleResult>'
          b"<Credentials><AccessKeyId>ASIA-test-fuzz</AccessKeyId><SecretAccessKey>s&amp;t</SecretAccessKey>"
          b"<SessionToken>tok&#47;en</SessionToken><Expiration>2030-01-01T00:00:00Z</Expiration></Credentials>"
          b"</AssumeRoleResult><ResponseMetadata><RequestId>r</RequestId></ResponseMetadata></AssumeRoleResponse>")
seeds["sts_xml"] += [
    status(200, xml_ok),
    status(403, b'<ErrorResponse><Error><Type>Sender</Type><Code>AccessDenied</Code><Message>not authorized &lt;x&gt;</Message></Error><RequestId>4c</RequestId></ErrorResponse>'),
    status(400, b'<ErrorResponse><Error><Code>Throttling</Code><Message>Rate exceeded</Message></Error></ErrorResponse>'),
    status(200, b"<AssumeRoleResponse><![CDATA[x]]></AssumeRoleResponse>"),
]

# RFC 7515, Appendix A.3 (ES256) and A.1 (HS256): the published example tokens.
seeds["jwt"] += [
    b"eyJhbGciOiJFUzI1NiJ9.eyJpc3MiOiJqb2UiLA0KICJleHAiOjEzMDA4MTkzODAsDQogImh0dHA6Ly9leGFtcGxlLmNvbS9pc19yb290Ijp0cnVlfQ.DtEhU3ljbEg8L38VWAfUAqOyKAM6-Xx-F4GawxaepmXFCgfTjDxw5djxLa8ISlSApmWQxfKTUJqPP3-Kg6NU1Q",
    b"eyJ0eXAiOiJKV1QiLA0KICJhbGciOiJIUzI1NiJ9.eyJpc3MiOiJqb2UiLA0KICJleHAiOjEzMDA4MTkzODAsDQogImh0dHA6Ly9leGFtcGxlLmNvbS9pc19yb290Ijp0cnVlfQ.dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk",
    b"eyJhbGciOiJub25lIn0.eyJpc3MiOiJqb2UifQ.",
]
# Claims around the rules of src/identity/jwt.rs, at the fuzz clock (NOW = 1795337590).
now = 1795337590
for claims in [
    {"iss": "joe", "aud": "stsvend", "sub": "alice", "exp": now + 600},
    {"iss": "joe", "aud": ["other", "stsvend"], "sub": "bob", "exp": now - 60, "nbf": now + 60},
    {"iss": "joe", "aud": "stsvend", "sub": "carol", "exp": now - 61},
    {"iss": "joe", "aud": "stsvend", "sub": "dave", "exp": now + 600, "nbf": now + 61},
    {"iss": "joe", "aud": "stsvend", "sub": "", "exp": now + 600},
    {"iss": "joe", "aud": "stsvend", "sub": 7, "exp": "soon"},
    {"iss": "mallory", "aud": "stsvend", "sub": "eve", "exp": now + 600, "tenant": "acme"},
]:
    seeds["jwt_claims"].append(json.dumps(claims).encode())
seeds["jwt_claims"].append(b'{"iss":"joe","aud":"stsvend","sub":"a","exp":1.7953376e9,"exp":1e308}')

seeds["jwks"] += [
    b'{"keys":[{"kty":"EC","crv":"P-256","kid":"a3","x":"f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU","y":"x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0"}]}',
    # RFC 7517, Appendix A.1: the example RSA public key.
    b'{"keys":[{"kty":"RSA","n":"0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw","e":"AQAB","alg":"RS256","kid":"2011-04-29"}]}',
    b'{"keys":[{"kty":"oct","k":"AyM1SysPpbyDfgZld3umj1qzKObwVMkoqQ-EstJQLr_T-1qS0gZH75aKtMN3Yj0iPS4hcgUuTwjAzZr1Z9CAow"}]}',
    b'{"keys":[]}',
]

# The STS answers are the signing crate's to parse: its fuzz package holds their seeds.
SIGN_TARGETS = {"sts_json", "sts_xml"}

for target, items in seeds.items():
    package = repo / "crates/sign/fuzz" if target in SIGN_TARGETS else here
    folder = package / "seeds" / target
    folder.mkdir(parents=True, exist_ok=True)
    for old in folder.iterdir():
        if not old.name.startswith("regression_"):
            old.unlink()
    for i, data in enumerate(items):
        (folder / f"{i:02}").write_bytes(data)
    print(f"{target}: {len(items)} seeds")
