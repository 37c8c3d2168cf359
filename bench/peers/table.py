"""Turns the raw output of bench/peers/run (a folder of wrk outputs and servers.tsv) into the
markdown table it prints. Medians are taken per figure over the measured runs; errors and
non-2xx are added up over them.

For the token workload there are two stsvend rows: "stsvend" (one caller: answered from the
credential cache after the first STS call) and "stsvend-newcaller" (a new caller, so a new
session policy and an STS call, on every request, driven by bench/wrk_requests.lua). A peer's
ratios are printed against both: "<against stsvend> / <against stsvend-newcaller>".
A run whose token file ran out (wrk_requests.lua prints "EXHAUSTED") flags its row, and the
script exits with status 3 after printing the table.

usage: python3 bench/peers/table.py RESULTS_DIR RUNS
"""
import re
import statistics
import sys
from pathlib import Path

UNITS_MS = {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60000.0, "h": 3600000.0}
SERVERS = ["stsvend", "stsvend-newcaller", "flask", "node"]
BASES = {"presign": ["stsvend"], "token": ["stsvend", "stsvend-newcaller"]}
WORKLOADS = ["presign", "token"]
LABELS = {
    "stsvend": "stsvend",
    "stsvend-newcaller": "stsvend, a new caller every request (no cache hit)",
    "flask": "Flask peer (gunicorn -w 2, sync)",
    "node": "Node peer (node:cluster, 2 workers)",
}
WORKLOAD_LABELS = {"presign": "presign (V4 PUT URL)", "token": "token (AssumeRole)"}


def ms(text):
    m = re.fullmatch(r"([0-9.]+)(us|ms|s|m|h)", text)
    if not m:
        raise ValueError(f"latency {text!r}")
    return float(m.group(1)) * UNITS_MS[m.group(2)]


def parse_wrk(path):
    text = path.read_text()
    figures = {"errors": 0, "non2xx": 0}
    for line in text.splitlines():
        line = line.strip()
        if m := re.match(r"(\d+) requests in", line):
            figures["requests"] = int(m.group(1))
        elif m := re.match(r"Requests/sec:\s+([0-9.]+)", line):
            figures["rps"] = float(m.group(1))
        elif m := re.match(r"50%\s+(\S+)", line):
            figures["p50"] = ms(m.group(1))
        elif m := re.match(r"99%\s+(\S+)", line):
            figures["p99"] = ms(m.group(1))
        elif m := re.match(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", line):
            figures["errors"] = sum(int(g) for g in m.groups())
        elif m := re.match(r"Non-2xx or 3xx responses: (\d+)", line):
            figures["non2xx"] = int(m.group(1))
        elif m := re.match(r"lua: sent (\d+)", line):
            figures["sent"] = int(m.group(1))  # bench/wrk_requests.lua: requests written
        elif line.startswith("tokens:") and "EXHAUSTED" in line:
            figures["exhausted"] = True
    missing = {"requests", "rps", "p50", "p99"} - figures.keys()
    if missing:
        sys.exit(f"could not read {sorted(missing)} from {path}:\n{text}")
    return figures


def fmt_ms(value):
    return f"{value:.3f}" if value < 1 else f"{value:.2f}" if value < 100 else f"{value:.0f}"


def main():
    out, runs = Path(sys.argv[1]), int(sys.argv[2])
    servers = {}
    for line in (out / "servers.tsv").read_text().splitlines():
        name, workload, hwm_kib, procs, sts_calls = line.split("\t")
        servers[name, workload] = (int(hwm_kib), int(procs), int(sts_calls))

    rows = {}
    for (name, workload), (hwm_kib, procs, sts_calls) in servers.items():
        measured = [parse_wrk(out / f"{name}-{workload}-run{r}.txt") for r in range(1, runs + 1)]
        warmup = parse_wrk(out / f"{name}-{workload}-warmup.txt")
        files = measured + [warmup]
        rows[name, workload] = {
            "rps": statistics.median(f["rps"] for f in measured),
            "p50": statistics.median(f["p50"] for f in measured),
            "p99": statistics.median(f["p99"] for f in measured),
            "errors": sum(f["errors"] for f in measured),
            "non2xx": sum(f["non2xx"] for f in measured),
            # + the check. With wrk_requests.lua, the requests it wrote (each may reach STS,
            # including the ones still in flight when wrk stopped); otherwise wrk's answered ones.
            "served": 1 + sum(f.get("sent", f["requests"]) for f in files),
            "exhausted": any(f.get("exhausted") for f in files),
            "rss_mib": hwm_kib / 1024,
            "procs": procs,
            "sts": sts_calls,
        }

    print("| workload | server | requests/s | p50 ms | p99 ms | errors / non-2xx "
          "| peak RSS MiB (processes) | STS calls / requests "
          "| req/s stsvend ÷ peer | p50 peer ÷ stsvend | p99 peer ÷ stsvend |")
    print("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    flagged = []
    for workload in WORKLOADS:
        bases = [rows[b, workload] for b in BASES[workload] if (b, workload) in rows]
        for name in SERVERS:
            row = rows.get((name, workload))
            if row is None:
                continue
            if name.startswith("stsvend") or not bases:
                ratios = ["—", "—", "—"]
            else:
                ratios = [
                    " / ".join(f"{ratio(b['rps'], row['rps'])}×" for b in bases),
                    " / ".join(f"{ratio(row['p50'], b['p50'])}×" for b in bases),
                    " / ".join(f"{ratio(row['p99'], b['p99'])}×" for b in bases),
                ]
            label = LABELS[name]
            if row["exhausted"]:
                label += " ⚠ TOKENS RAN OUT"
                flagged.append(f"{name} {workload}")
            print(
                f"| {WORKLOAD_LABELS[workload]} | {label} | {row['rps']:,.0f} "
                f"| {fmt_ms(row['p50'])} | {fmt_ms(row['p99'])} "
                f"| {row['errors']} / {row['non2xx']} "
                f"| {row['rss_mib']:.1f} ({row['procs']}) "
                f"| {row['sts']:,} / {row['served']:,} | " + " | ".join(ratios) + " |"
            )
    if any(("stsvend-newcaller", w) in rows for w in WORKLOADS):
        print()
        print("Ratios in the token rows: against stsvend (cached) / against stsvend with a new "
              "caller every request.")
    if flagged:
        print()
        print(f"**Flagged**: {', '.join(flagged)}: a run used up its token file, and "
              "bench/wrk_requests.lua ended it early rather than send a token twice. Its figures "
              "do not stand for a full run.")
        sys.exit(3)


def ratio(a, b):
    value = a / b
    return f"{value:.2f}" if value < 0.995 else f"{value:.1f}"


if __name__ == "__main__":
    main()
