"""The XML of multipart uploads in the local OSS stand-in (a stand-in, NOT Alibaba Cloud OSS):
`InitiateMultipartUploadResult`, `ListPartsResult` (paged by `max-parts`, 1 to 1000, default
1000, and `part-number-marker`), the `CompleteMultipartUpload` request body and
`CompleteMultipartUploadResult`, in OSS's shapes. The rules a completion must meet are in
store.py (`check_completion`, `multipart_etag`).
"""

import xml.etree.ElementTree as ET
from typing import Dict, List

from .refusals import Refused

def malformed() -> Refused:
    return Refused(400, "MalformedXML", "The XML you provided was not well-formed or did not validate"
                   " against our published schema.")


def document(tag: str, fields: List[tuple]) -> ET.Element:
    root = ET.Element(tag)
    for name, text in fields:
        ET.SubElement(root, name).text = text
    return root


def to_bytes(root: ET.Element) -> bytes:
    return ET.tostring(root, encoding="utf-8", xml_declaration=True)


def initiate_result(bucket: str, key: str, upload_id: str) -> bytes:
    return to_bytes(document("InitiateMultipartUploadResult",
                             [("Bucket", bucket), ("Key", key), ("UploadId", upload_id)]))


def number_param(params: Dict[str, str], name: str, default: int, low: int, high: int) -> int:
    text = params.get(name) or str(default)
    if not text.isdigit() or not low <= int(text) <= high:
        raise Refused(400, "InvalidArgument", f"Argument {name} must be an integer between {low} and {high}.")
    return int(text)


def parts_result(bucket: str, key: str, upload_id: str, parts: List[dict], params: Dict[str, str]) -> bytes:
    limit = number_param(params, "max-parts", 1000, 1, 1000)
    marker = number_param(params, "part-number-marker", 0, 0, 10000)
    after = [p for p in parts if p["number"] > marker]
    shown, truncated = after[:limit], len(after) > limit
    root = document("ListPartsResult", [
        ("Bucket", bucket), ("Key", key), ("UploadId", upload_id), ("PartNumberMarker", str(marker)),
        ("NextPartNumberMarker", str(shown[-1]["number"] if shown else marker)), ("MaxParts", str(limit)),
        ("IsTruncated", "true" if truncated else "false")])
    for part in shown:
        element = ET.SubElement(root, "Part")
        for name, text in (("PartNumber", str(part["number"])), ("LastModified", part["last_modified"]),
                           ("ETag", f'"{part["etag"]}"'), ("HashCrc64ecma", part["crc64"]),
                           ("Size", str(part["size"]))):
            ET.SubElement(element, name).text = text
    return to_bytes(root)


def parse_complete(body: bytes) -> List[dict]:
    """The parts a CompleteMultipartUpload body names, in the order given."""
    try:
        root = ET.fromstring(body)
    except ET.ParseError:
        raise malformed() from None
    if root.tag != "CompleteMultipartUpload":
        raise malformed()
    parts = []
    for part in root.findall("Part"):
        number, etag = part.findtext("PartNumber", ""), part.findtext("ETag")
        if not number.strip().isdigit() or etag is None:
            raise malformed()
        parts.append({"number": int(number), "etag": etag.strip()})
    return parts


def complete_result(bucket: str, key: str, etag: str, location: str) -> bytes:
    return to_bytes(document("CompleteMultipartUploadResult", [
        ("Location", location), ("Bucket", bucket), ("Key", key), ("ETag", f'"{etag}"')]))
