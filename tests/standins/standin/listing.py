"""Bucket listings of the local OSS stand-in (a stand-in, NOT Alibaba Cloud OSS).

ListObjectsV2 (`GET /<bucket>/?list-type=2&prefix=&delimiter=&start-after=&continuation-token=
&max-keys=&encoding-type=url`) and ListObjects (v1: `marker` instead of `start-after` and the
token), answered with OSS's `ListBucketResult` XML: `Contents` (Key, LastModified as
`2026-11-22T08:53:10.000Z`, ETag in quotes, Type Normal/Multipart, Size, StorageClass
Standard), `CommonPrefixes` when a delimiter rolls keys up, `IsTruncated` and
`NextContinuationToken` (v2; an opaque token here, base64 of where the page stopped) or
`NextMarker` (v1), and v2's `KeyCount`. Keys are in byte order of their UTF-8; `max-keys` is 1
to 1000 (default 100). With `encoding-type=url`, keys, prefixes, markers and tokens are
percent-encoded and `EncodingType` says so.
"""

import base64
import binascii
import urllib.parse
import xml.etree.ElementTree as ET
from typing import Dict, List, Tuple

from .refusals import Refused

Entry = Tuple[str, object]  # ("key", metadata) or ("prefix", common prefix)


def max_keys(params: Dict[str, str]) -> int:
    text = params.get("max-keys") or "100"
    if not text.isdigit() or not 1 <= int(text) <= 1000:
        raise Refused(400, "InvalidArgument", "Argument max-keys must be an integer between 1 and 1000.")
    return int(text)


def page(objects: List[dict], prefix: str, delimiter: str, after: str, limit: int) -> Tuple[List[Entry], bool]:
    """The entries after `after` (a key, or a common prefix already returned), at most `limit`,
    and whether more follow."""
    skip_under = after if delimiter and after.endswith(delimiter) else None
    entries: List[Entry] = []
    for meta in objects:
        key = meta["key"]
        if not key.startswith(prefix) or key.encode() <= after.encode():
            continue
        if skip_under and key.startswith(skip_under):
            continue
        cut = key.find(delimiter, len(prefix)) if delimiter else -1
        if cut >= 0:
            common = key[:cut + len(delimiter)]
            if not entries or entries[-1] != ("prefix", common):
                entries.append(("prefix", common))
        else:
            entries.append(("key", meta))
        if len(entries) > limit:
            return entries[:limit], True
    return entries, False


def marker_of(entry: Entry) -> str:
    kind, value = entry
    return value["key"] if kind == "key" else value


def token_of(marker: str) -> str:
    return base64.urlsafe_b64encode(marker.encode()).decode()


def marker_from_token(token: str) -> str:
    try:
        return base64.urlsafe_b64decode(token.encode()).decode()
    except (binascii.Error, UnicodeDecodeError, ValueError):
        raise Refused(400, "InvalidArgument", "The continuation token provided is incorrect.") from None


def listing(bucket: str, objects: List[dict], params: Dict[str, str]) -> bytes:
    """The ListBucketResult for a v1 or v2 (`list-type=2`) listing."""
    v2 = params.get("list-type") == "2"
    prefix, delimiter = params.get("prefix", ""), params.get("delimiter", "")
    url = params.get("encoding-type") == "url"
    if params.get("encoding-type") not in (None, "", "url"):
        raise Refused(400, "InvalidArgument", "Argument encoding-type must be url.")
    if v2:
        token = params.get("continuation-token")
        after = marker_from_token(token) if token else params.get("start-after", "")
    else:
        after = params.get("marker", "")
    limit = max_keys(params)
    entries, truncated = page(objects, prefix, delimiter, after, limit)

    def enc(text: str) -> str:
        return urllib.parse.quote(text, safe="") if url else text

    root = ET.Element("ListBucketResult")
    fields = [("Name", bucket), ("Prefix", enc(prefix)), ("MaxKeys", str(limit)),
              ("Delimiter", enc(delimiter)), ("IsTruncated", "true" if truncated else "false")]
    if v2:
        fields += [("StartAfter", enc(params["start-after"]))] if params.get("start-after") else []
        fields += [("ContinuationToken", enc(params["continuation-token"]))] if params.get("continuation-token") else []
        fields += [("NextContinuationToken", enc(token_of(marker_of(entries[-1]))))] if truncated else []
        fields += [("KeyCount", str(len(entries)))]
    else:
        fields += [("Marker", enc(after))]
        fields += [("NextMarker", enc(marker_of(entries[-1])))] if truncated else []
    fields += [("EncodingType", "url")] if url else []
    for name, text in fields:
        ET.SubElement(root, name).text = text
    for kind, value in entries:
        if kind == "key":
            add_contents(root, value, enc)
        else:
            ET.SubElement(ET.SubElement(root, "CommonPrefixes"), "Prefix").text = enc(value)
    return ET.tostring(root, encoding="utf-8", xml_declaration=True)


def add_contents(root: ET.Element, meta: dict, enc) -> None:
    contents = ET.SubElement(root, "Contents")
    for name, text in (("Key", enc(meta["key"])), ("LastModified", meta["last_modified"]),
                       ("ETag", f'"{meta["etag"]}"'), ("Type", meta["type"]), ("Size", str(meta["size"])),
                       ("StorageClass", "Standard")):
        ET.SubElement(contents, name).text = text
