"""The playground's figures: how long `scripts/playground.py` takes to be ready (both
providers, debug binaries already built), and what the stand-in OSS moves through oss2 (PUT,
GET and a multipart upload of 64 MiB, each signature regenerated with oss2 on arrival), with
this process's peak RSS (the stand-in runs in it).

usage: .venv/bin/python bench/playground_figures.py   (after `cargo build --workspace --bins`)
"""

import os
import pathlib
import resource
import signal
import subprocess
import sys
import tempfile
import time

import oss2

ROOT = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests" / "standins"))
from standin import oss as standin_oss  # noqa: E402

SIZE = 64 * 1024 * 1024
PART = 8 * 1024 * 1024


def playground_ready(runs: int = 3) -> list:
    times = []
    with tempfile.TemporaryDirectory() as data:
        for _ in range(runs):
            started = time.monotonic()
            child = subprocess.Popen([sys.executable, str(ROOT / "scripts" / "playground.py"), "--port", "18399",
                                      "--data", data], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
            for line in child.stdout:
                if "playground: open" in line:
                    break
            times.append(time.monotonic() - started)
            child.send_signal(signal.SIGTERM)
            child.wait(timeout=30)
    return times


def throughput(name: str, action) -> str:
    started = time.monotonic()
    action()
    seconds = time.monotonic() - started
    return f"{name}: {SIZE / seconds / 1e6:.0f} MB/s ({seconds:.2f} s for 64 MiB)"


def stand_in_figures() -> list:
    data = os.urandom(SIZE)
    with tempfile.TemporaryDirectory() as root:
        oss = standin_oss.StandInOss(root, "cn-hangzhou", {"LTAI-bench": "bench-secret"})
        port = oss.start()
        auth = oss2.ProviderAuthV4(oss2.credentials.StaticCredentialsProvider("LTAI-bench", "bench-secret"))
        bucket = oss2.Bucket(auth, f"http://127.0.0.1:{port}", "bench", region="cn-hangzhou")
        lines = [throughput("PUT (V4 header)", lambda: bucket.put_object("big.bin", data)),
                 throughput("GET", lambda: bucket.get_object("big.bin").read())]

        def multipart():
            upload = bucket.init_multipart_upload("parts.bin").upload_id
            parts = [oss2.models.PartInfo(n + 1, bucket.upload_part("parts.bin", upload, n + 1,
                                                                     data[n * PART:(n + 1) * PART]).etag)
                     for n in range(SIZE // PART)]
            bucket.complete_multipart_upload("parts.bin", upload, parts)
        lines.append(throughput("multipart, 8 MiB parts", multipart))
        oss.stop()
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return lines + [f"peak RSS of this process (the stand-in, oss2 and the 64 MiB test data): {peak:.0f} MiB"]


def main() -> int:
    times = playground_ready()
    print("playground ready (both providers): " + ", ".join(f"{t:.2f} s" for t in times))
    for line in stand_in_figures():
        print("stand-in OSS " + line)
    return 0


if __name__ == "__main__":
    sys.exit(main())
