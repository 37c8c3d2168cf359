"""`cargo lambda watch` and `cargo lambda invoke`, offline, with the committed events.

Starts moto's STS (scripts/oracles/moto_sts.py), then `cargo lambda watch` on 127.0.0.1 with
both functions configured for PROVIDER=aws, invokes each with the API Gateway v2 events in
events/ through `cargo lambda invoke --data-file`, checks every answer, and stops both.

usage: .venv-tools/bin/python scripts/cargo_lambda_check.py   (cargo-lambda on PATH, .venv with moto)
"""

import json
import os
import pathlib
import signal
import socket
import subprocess
import sys
import time

ROOT = pathlib.Path(__file__).resolve().parents[1]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for(port: int, seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.1)
    raise TimeoutError(f"nothing listens on {port}")


def invoke(port: int, function: str, event: str) -> dict:
    out = subprocess.run(
        ["cargo", "lambda", "invoke", function, "--invoke-address", "127.0.0.1", "--invoke-port", str(port),
         "--data-file", str(ROOT / "events" / event), "--output-format", "json"],
        cwd=ROOT, capture_output=True, text=True, timeout=300,
    )
    if out.returncode != 0:
        raise RuntimeError(f"invoke {function} {event}: {out.stderr.strip()[-500:]}")
    return json.loads(out.stdout)


def main() -> int:
    python = os.environ.get("STSVEND_PYTHON", str(ROOT / ".venv" / "bin" / "python"))
    moto = subprocess.Popen([python, str(ROOT / "scripts" / "oracles" / "moto_sts.py")],
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    sts = json.loads(moto.stdout.readline())
    port = free_port()
    env = {
        "PROVIDER": "aws", "AWS_ACCESS_KEY_ID": sts["access_key_id"], "AWS_SECRET_ACCESS_KEY": sts["secret_access_key"],
        "AWS_REGION": "us-east-1", "STS_ENDPOINT": sts["endpoint"], "ROLE_ARN": sts["role_arn"],
        "BUCKET": "examplebucket", "BUCKET_REGION": "us-east-1", "AUTH_MODE": "gateway", "RUST_LOG": "info",
    }
    watch = subprocess.Popen(
        ["cargo", "lambda", "watch", "-A", "127.0.0.1", "-P", str(port), "--ignore-changes"]
        + [arg for name, value in env.items() for arg in ("--env-var", f"{name}={value}")],
        cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
    )
    checks = []
    try:
        wait_for(port)
        token = invoke(port, "issue-token", "apigw-v2-jwt.json")
        body = json.loads(token["body"])
        checks.append(("issue-token with JWT claims: 200", token["statusCode"] == 200))
        checks.append(("issue-token: temporary AWS keys", body.get("AccessKeyId", "").startswith("ASIA") and body.get("Version") == 1))
        refused = invoke(port, "issue-token", "apigw-v2-no-authorizer.json")
        checks.append(("issue-token without claims: 401 MissingIdentity",
                       refused["statusCode"] == 401 and json.loads(refused["body"])["ErrorCode"] == "MissingIdentity"))
        presigned = invoke(port, "presign-url", "apigw-v2-presign.json")
        answer = json.loads(presigned["body"])
        checks.append(("presign-url: 200 and a PUT URL under the caller's prefix",
                       presigned["statusCode"] == 200 and answer["Method"] == "PUT"
                       and answer["URL"].startswith("https://examplebucket.s3.us-east-1.amazonaws.com/uploads/user-42/holiday%20photo%2B1.jpg?")))
        checks.append(("presign-url: the signed Content-Type and the stamped uploader are named",
                       answer.get("Headers") == {"Content-Type": "image/jpeg", "x-amz-meta-uploader": "user-42"}))
    except Exception as error:  # report, then fail below
        checks.append((f"cargo lambda: {error}", False))
    finally:
        os.killpg(watch.pid, signal.SIGTERM)
        watch.wait(timeout=30)
        moto.stdin.close()
        moto.wait(timeout=30)
    for what, ok in checks:
        print(("ok   " if ok else "FAIL ") + what)
    failed = sum(1 for _, ok in checks if not ok)
    print(f"cargo-lambda: {len(checks) - failed} passed, {failed} failed")
    return 1 if failed or not checks else 0


if __name__ == "__main__":
    sys.exit(main())
