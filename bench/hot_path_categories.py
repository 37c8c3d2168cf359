#!/usr/bin/env python3
"""Groups a presign-url profile's samples by where in the request path they were spent.

Reads `perf script --inline -F comm,tid,period,ip,sym,srcline` of a `perf record
--call-graph dwarf` of presign-url (bench/hot_path_profile.sh makes one) on stdin, and prints
each category's share of the samples, how much of it is allocation (malloc, free, realloc and
vector growth) and copying (memmove), and, with --per-request US, the µs per request that
share is of US µs. A sample goes to the deepest frame that names a category (a malloc under
the percent-encoder is the encoder's); kernel and libc frames name none, so a syscall goes to
the code that made it, or, under hyper and tokio, to its own kernel category.
"""

import argparse
import re
import sys
from collections import Counter, defaultdict

# (category, own, libraries): a frame whose symbol contains one of `own` (stsvend's code, or
# the place a library is called from) names the category, the deepest such frame winning;
# `libraries` (code several steps call, such as serde_json) only when no frame names one.
CATEGORIES = [
    ("HTTP/1.1 and connection machinery (hyper, tokio)", [
        "stsvend::host::http::watch_connection", "stsvend::host::http::spawn_connection",
        "listener::Watched", "listener::Tracked",
    ], ["tokio::", "hyper::", "hyper_util::", "bytes::", "std::sys::", "start_thread"]),
    ("HTTP request head parsing (hyper, httparse)", [
        "hyper::proto::h1::role::", "httparse::", "Conn<I,B,T>::poll_read_head",
    ], ["http::header::map", "http::uri::"]),
    ("HTTP response head (hyper)", ["Conn<I,B,T>::write_head", "role::Server>::encode"], []),
    ("hyper -> lambda_http request (body, QueryMap, Host check, CORS)", [
        "stsvend::host::http::answer_http", "query_map::", "loopback_only", "misdirected",
        "is_loopback_host", "stsvend::host::serve::start", "host::cors::",
    ], ["http_body_util::", "lambda_http::", "form_urlencoded::"]),
    ("handler glue (presign, Job, url(), headers vectors)", ["presign_url::handler::"], []),
    ("query and key parsing", [
        "presign_url::request::", "handler::parse", "encode::percent_decode", "query_decode",
    ], []),
    ("identity, prefix, credential", [
        "stsvend::identity::", "prefix::ObjectPrefix", "PrefixTemplate", "prefix::render",
        "stsvend::keyless::", "AppState>::credential", "SystemClock",
    ], []),
    ("rule checks (key rules, methods, content type, upload rules, expiry)", [
        "presign_url::checks::", "presign_url::upload::check", "stsvend::vend::prefix::check_key",
        "is_invisible", "is_blank_looking", "hides_characters", "presign_url::process::",
        "is_variation_selector",
    ], []),
    ("stamped metadata (render)", ["presign_url::upload::", "stsvend::vend::stamp::"], []),
    ("URL and canonical query assembly (percent-encoding)", [
        "Presigner::url", "aliyun::oss::", "stsvend_sign::encode::", "stsvend_sign::endpoint::",
        "v4::encoded_sorted", "v4::canonical", "v4::Flavor>::scope", "time::format_date",
        "time::format_compact",
    ], ["percent_encoding::"]),
    ("signing (string to sign, SHA-256, HMAC, hex)", [
        "v4::Stages::sign", "v4::Flavor>::string_to_sign", "v4::signature", "signing_key::",
        "encode::hex_lower",
    ], ["ring::digest", "ring::hmac", "ring_core_"]),
    ("JSON answer (serde_json, Response)", [
        "stsvend::host::response::json", "presign_url::answer::", "time::format_iso8601",
    ], ["serde_json::"]),
    ("logging (the info line, its fields, stdout)", [
        "stsvend::host::log::", "stsvend::host::response::finish", "role_session_name",
    ], ["tracing_core::", "tracing_subscriber::", "tracing::"]),
]

ALLOC = re.compile(
    r"^(malloc|_int_malloc|_int_free|_int_realloc|realloc|cfree|free|malloc_consolidate|"
    r"unlink_chunk|__libc_malloc|__libc_free|__libc_realloc|tcache_|__rustc::__rust_|"
    r"__rust_alloc|__rust_dealloc|__rust_realloc|<alloc::raw_vec::|alloc::raw_vec::|"
    r"alloc::alloc::|sysmalloc)"
)
COPY = re.compile(r"^__(memmove|memcpy|memset)")


def kernel_category(frames):
    """The kernel category of a sample in hyper or tokio (leaf first), if it is in the kernel."""
    names = " ".join(frames)
    if "finish_task_switch" in names or "__schedule" in names:
        return "kernel: context switches (preempted around a syscall)"
    if "writev" in names or "sendmsg" in names or "sock_write_iter" in names:
        return "kernel: socket write (hyper's writev)"
    if "recv" in names or "sock_read" in names or "tcp_recvmsg" in names:
        return "kernel: socket read"
    if "epoll" in names:
        return "kernel: epoll"
    if "futex" in names:
        return "kernel: futex (tokio's park and wake)"
    return None


def samples(lines):
    """Each sample's frames (symbols, leaf first)."""
    frames = None
    for line in lines:
        if not line.strip():
            if frames:
                yield frames
            frames = None
        elif not line.startswith((" ", "\t")):
            frames = []
        elif frames is not None and line.startswith("\t"):
            parts = line.strip().split(" ", 1)
            frames.append(parts[1] if len(parts) > 1 else "[unknown]")
    if frames:
        yield frames


def categorize(frames):
    category = library = None
    for frame in reversed(frames):  # root first
        for name, own, libraries in CATEGORIES:
            if any(p in frame for p in own):
                category = name
            elif any(p in frame for p in libraries):
                library = name
    category = category or library
    kernel = any(f.startswith(("[k]", "entry_SYSCALL")) or "do_syscall_64" in f for f in frames)
    if category is None or category.startswith("HTTP/1.1 and connection"):
        if kernel or category is None:
            category = kernel_category(frames) or category or "other (kernel, libc, unknown)"
    leaf = frames[0] if frames else ""
    kind = "alloc" if ALLOC.match(leaf) else "copy" if COPY.match(leaf) else "work"
    return category, kind


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--per-request", type=float, help="µs of CPU per request to share out")
    parser.add_argument("--top", type=int, default=0, help="also list the top leaf symbols")
    args = parser.parse_args()
    total = 0
    shares = defaultdict(Counter)
    leaves = Counter()
    for frames in samples(sys.stdin):
        category, kind = categorize(frames)
        shares[category][kind] += 1
        leaves[frames[0]] += 1
        total += 1
    print(f"{total} samples")
    us = args.per_request
    header = f"{'share':>6}  {'µs/req':>6}  {'alloc':>5}  {'copy':>5}  category"
    print(header)
    for category, kinds in sorted(shares.items(), key=lambda kv: -sum(kv[1].values())):
        n = sum(kinds.values())
        share = n / total
        per = f"{share * us:6.2f}" if us else "     -"
        print(f"{share:6.1%}  {per}  {kinds['alloc'] / total:5.1%}  {kinds['copy'] / total:5.1%}"
              f"  {category}")
    alloc = sum(k["alloc"] for k in shares.values()) / total
    copy = sum(k["copy"] for k in shares.values()) / total
    print(f"all allocation {alloc:.1%}, all copying {copy:.1%}")
    for leaf, n in leaves.most_common(args.top):
        print(f"{n / total:6.1%}  {leaf}")


if __name__ == "__main__":
    main()
