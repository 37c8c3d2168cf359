"""An independent check of Alibaba Cloud CDN signed URLs, written from the documentation alone
(not from stsvend's code): what a CDN node does with a URL before it serves a file.

Type A (https://help.aliyun.com/document_detail/85113.html):
    http://DomainName/Filename?auth_key=timestamp-rand-uid-md5hash
    sstring = "URI-Timestamp-rand-uid-PrivateKey"  (URI: the path, without parameters)
Type B (https://help.aliyun.com/en/cdn/user-guide/type-b-signing):
    http://DomainName/timestamp/md5hash/FileName   timestamp YYYYMMDDHHMM in UTC+8
    sstring = PrivateKey + timestamp + Path
Type C (https://alibabacloud.com/help/en/doc-detail/119860.html):
    http://DomainName/md5hash/timestamp/FileName   timestamp: Unix seconds in hexadecimal
    sstring = PrivateKey + FileName + timestamp
Every type: the node refuses (403) when timestamp + the validity period configured on the CDN
is earlier than now, or when the md5hash differs; with a backup key configured, it accepts a
URL signed with either key. The node hashes the path as it receives it (the documentation's
examples encode a URL before signing it), and fetches from the origin the path decoded.

Reads one JSON object per line on stdin:
    {"case", "type": "A"|"B"|"C", "url", "keys": [primary, backup...], "ttl", "now",
     "object_key", "expect": "served"|"refused"}
and prints one JSON verdict per line: {"case", "verdict", "why", "object_key"}. Exits 1 when a
verdict is not the expected one. Standard library only.
"""

import datetime
import hashlib
import json
import re
import sys
import urllib.parse

UTC8 = datetime.timezone(datetime.timedelta(hours=8))


def md5(text):
    return hashlib.md5(text.encode("utf-8")).hexdigest()


def origin_path(path):
    """The object key the node asks the origin for: the path without its leading '/',
    percent-decoded (bytes, then UTF-8)."""
    return urllib.parse.unquote_to_bytes(path[1:]).decode("utf-8")


def check_a(url, keys):
    parts = urllib.parse.urlsplit(url)
    query = parts.query
    if not query.startswith("auth_key=") or "&" in query:
        return None, "no single auth_key parameter"
    fields = query[len("auth_key="):].split("-")
    if len(fields) != 4:
        return None, "auth_key is not timestamp-rand-uid-md5hash"
    timestamp, rand, uid, md5hash = fields
    if not re.fullmatch(r"[0-9]{10}", timestamp):
        return None, "timestamp is not 10 decimal digits"
    if any(md5(f"{parts.path}-{timestamp}-{rand}-{uid}-{key}") == md5hash for key in keys):
        return (int(timestamp), parts.path), "ok"
    return None, "md5hash differs"


def check_b(url, keys):
    parts = urllib.parse.urlsplit(url)
    match = re.fullmatch(r"/([0-9]{12})/([0-9a-f]{32})(/.*)", parts.path)
    if parts.query or not match:
        return None, "path is not /YYYYMMDDHHMM/md5hash/FileName"
    written, md5hash, path = match.groups()
    when = datetime.datetime.strptime(written, "%Y%m%d%H%M").replace(tzinfo=UTC8)
    if any(md5(key + written + path) == md5hash for key in keys):
        return (int(when.timestamp()), path), "ok"
    return None, "md5hash differs"


def check_c(url, keys):
    parts = urllib.parse.urlsplit(url)
    match = re.fullmatch(r"/([0-9a-f]{32})/([0-9A-Fa-f]{1,16})(/.*)", parts.path)
    if parts.query or not match:
        return None, "path is not /md5hash/timestamp/FileName"
    md5hash, written, path = match.groups()
    if any(md5(key + path + written) == md5hash for key in keys):
        return (int(written, 16), path), "ok"
    return None, "md5hash differs"


CHECKS = {"A": check_a, "B": check_b, "C": check_c}


def verdict(record):
    found, why = CHECKS[record["type"]](record["url"], record["keys"])
    if found is None:
        return "refused", why, None
    timestamp, path = found
    if timestamp + record["ttl"] < record["now"]:
        return "refused", "expired", None
    return "served", "ok", origin_path(path)


def main():
    failures = 0
    count = 0
    for line in sys.stdin:
        if not line.strip():
            continue
        record = json.loads(line)
        count += 1
        seen, why, key = verdict(record)
        ok = seen == record["expect"] and (seen != "served" or key == record["object_key"])
        if not ok:
            failures += 1
            print(f"MISMATCH {record['case']}: {seen} ({why}), origin key {key!r}, "
                  f"expected {record['expect']} of {record['object_key']!r}", file=sys.stderr)
        print(json.dumps({"case": record["case"], "verdict": seen, "why": why, "object_key": key}))
    print(f"{count} URLs checked, {failures} mismatches", file=sys.stderr)
    return 1 if failures or count == 0 else 0


if __name__ == "__main__":
    sys.exit(main())
