#!/usr/bin/env python3
"""presign-url's cold start: process spawn until its first 200 is read, median of --starts runs.

Runs the given presign-url binaries (release builds; several, alternated run by run) as
bench/hot_path.py runs presign-url (AUTH_MODE=none, the function's own key with a 600-byte STS
token, OSS V4, HTTP mode on 127.0.0.1), retrying the first GET every 1 ms until it answers.
Prints each binary's median and its size in bytes.

    python3 bench/presign_cold_start.py BINARY [BINARY ...] [--starts 30]
"""

import argparse
import os
import statistics
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from hot_path import QUERY, TOKEN, free_port  # noqa: E402


def first_answer_ms(binary):
    port = free_port()
    env = {k: v for k, v in os.environ.items() if k in ("PATH", "HOME")}
    env.update(
        AUTH_MODE="none", PORT=str(port), BUCKET="examplebucket", BUCKET_REGION="cn-hangzhou",
        ALIBABA_CLOUD_ACCESS_KEY_ID="LTAI-test-bench-key",
        ALIBABA_CLOUD_ACCESS_KEY_SECRET="bench-secret", ALIBABA_CLOUD_SECURITY_TOKEN=TOKEN,
    )
    started = time.perf_counter()
    proc = subprocess.Popen([binary], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        while time.perf_counter() - started < 15:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}{QUERY}", timeout=1) as answer:
                    if answer.status == 200:
                        answer.read()
                        return (time.perf_counter() - started) * 1000
            except (urllib.error.URLError, ConnectionError):
                time.sleep(0.001)
        sys.exit(f"{binary} did not answer within 15 s")
    finally:
        proc.terminate()
        proc.wait()


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("binaries", nargs="+")
    parser.add_argument("--starts", type=int, default=30)
    args = parser.parse_args()
    runs = {b: [] for b in args.binaries}
    for _ in range(args.starts):
        for binary in args.binaries:
            runs[binary].append(first_answer_ms(binary))
    for binary, times in runs.items():
        print(f"{binary}: start to first answer {statistics.median(times):.1f} ms median "
              f"(min {min(times):.1f}, max {max(times):.1f}), {os.path.getsize(binary):,} bytes")


if __name__ == "__main__":
    main()
