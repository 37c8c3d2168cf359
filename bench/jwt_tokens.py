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
import pathlib
import sys
import time

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
from callers import tokens_until  # noqa: E402  (one definition of the tokens)


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("count", type=int)
    parser.add_argument("file")
    parser.add_argument("--first", type=int, default=1)
    parser.add_argument("--prefix", default="u")
    args = parser.parse_args()
    if args.count < 1 or args.first < 0 or args.first + args.count > 100_000_000:
        parser.error("COUNT >= 1, FIRST >= 0, and the subjects must fit 8 digits")
    token_for = tokens_until(int(time.time()) + 3600)
    lines = [token_for(f"{args.prefix}{n:08d}") for n in range(args.first, args.first + args.count)]
    pathlib.Path(args.file).write_text("\n".join(lines) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
