"""Writes HS256 bearer JWTs for distinct callers, one a line, for wrk runs with
bench/wrk_requests.lua against issue-token in AUTH_MODE=jwt.

The tokens are the ones bench/callers.py makes (its secret; iss = aud = "bench"; exp in an
hour), for the subjects PREFIX + an 8-digit number, FIRST to FIRST + COUNT - 1: u00000001,
u00000002, ... Each subject is its own caller: with the default OBJECT_PREFIX
(uploads/${sub}/) it gets its own session policy, so its own AssumeRole. The server needs
JWT_HS256_SECRET=<SECRET below>, JWT_ISSUER=bench, JWT_AUDIENCE=bench.

usage: python3 bench/jwt_tokens.py COUNT FILE [--first 1] [--prefix u]
"""

import argparse
import hashlib
import hmac
import json
import pathlib
import sys
import time

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
from callers import SECRET, b64, token  # noqa: E402  (one definition of the tokens)


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("count", type=int)
    parser.add_argument("file")
    parser.add_argument("--first", type=int, default=1)
    parser.add_argument("--prefix", default="u")
    args = parser.parse_args()
    if args.count < 1 or args.first < 0 or args.first + args.count > 100_000_000:
        parser.error("COUNT >= 1, FIRST >= 0, and the subjects must fit 8 digits")
    # The same header and claims as callers.token(), built once: only "sub" changes from line
    # to line (json.dumps puts it between aud and exp, as in callers.token()).
    exp = int(time.time()) + 3600
    head = b64(json.dumps({"alg": "HS256"}).encode())
    before, after = json.dumps({"iss": "bench", "aud": "bench", "sub": "\0", "exp": exp}).split('"\\u0000"')
    keyed = hmac.new(SECRET.encode(), digestmod=hashlib.sha256)
    lines = []
    for n in range(args.first, args.first + args.count):
        sub = f"{args.prefix}{n:08d}"
        body = b64(f'{before}"{sub}"{after}'.encode())
        mac = keyed.copy()
        mac.update(f"{head}.{body}".encode())
        lines.append(f"{head}.{body}.{b64(mac.digest())}")
    # One check that nothing here drifted from callers.token() (exp may differ by a second).
    probe = token(f"{args.prefix}{args.first:08d}")
    if probe.split(".")[0] != lines[0].split(".")[0] or len(probe) != len(lines[0]):
        sys.exit("jwt_tokens.py: the tokens differ from bench/callers.py's")
    pathlib.Path(args.file).write_text("\n".join(lines) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
