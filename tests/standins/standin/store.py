"""The local OSS stand-in's object store on disk (a stand-in, NOT Alibaba Cloud OSS).

Layout under `root`:

* `root/<bucket>/<key>`: each object's bytes. A key's `/`-separated segments become path
  segments; a segment that is empty, `.` or `..`, or starts with `%`, is written as `%` followed
  by the segment, so every key has its own file and none leaves the bucket's folder. A key and
  a longer key under it as a folder (`a` and `a/b`) cannot both be stored: the second is
  refused (400 `InvalidObjectName`, naming the stand-in) where OSS would store it.
* `root/.meta/<bucket>/<sha256 of key>.json`: the object's metadata (key, size, ETag,
  Content-Type, Content-Disposition, x-oss-meta-*, Last-Modified, CRC-64, Type). Listings are
  read from these, so they return keys exactly as written.
* `root/.uploads/<upload id>/`: a multipart upload (`upload.json`) and its parts (`<n>` and
  `<n>.json`), until it is completed or aborted.
* `root/.tmp/`: files being written, moved into place once whole.

Bucket names must be OSS bucket names (3 to 63 lower-case letters, digits and `-`), so they
never collide with the dot folders. One lock serialises writes, so a create-only write checks
and stores at once.
"""

import base64
import datetime
import hashlib
import json
import os
import re
import secrets
import shutil
import tempfile
import threading
from typing import Dict, Iterator, List, Optional

import crcmod

from .refusals import Refused

BUCKET_NAME = re.compile(r"^[a-z0-9][a-z0-9-]{1,61}[a-z0-9]$")
MAX_KEY_BYTES = 1023
MIN_PART_SIZE = 100 * 1024
MAX_PART_NUMBER = 10000
# CRC-64/XZ (ECMA-182 polynomial, reflected), the x-oss-hash-crc64ecma OSS returns.
crc64 = crcmod.mkCrcFun(0x142F0E1EBA9EA3693, initCrc=0, rev=True, xorOut=0xFFFFFFFFFFFFFFFF)


def now_utc() -> datetime.datetime:
    return datetime.datetime.now(datetime.timezone.utc)


def iso_ms(moment: datetime.datetime) -> str:
    """OSS's XML time, to the second: 2026-11-22T08:53:10.000Z."""
    return moment.strftime("%Y-%m-%dT%H:%M:%S.000Z")


def md5_hex(data: bytes) -> str:
    return hashlib.md5(data).hexdigest().upper()


def no_such_key() -> Refused:
    return Refused(404, "NoSuchKey", "The specified key does not exist.")


def no_such_upload() -> Refused:
    return Refused(404, "NoSuchUpload", "The specified upload does not exist. The upload ID may be"
                   " invalid, or the upload may have been aborted or completed.")


def check_bucket(bucket: str) -> None:
    if not BUCKET_NAME.match(bucket):
        raise Refused(400, "InvalidBucketName", "The specified bucket is not valid.")


def check_key(key: str) -> None:
    if not key or len(key.encode()) > MAX_KEY_BYTES or key.startswith(("/", "\\")):
        raise Refused(400, "InvalidObjectName", "The Length of Object name must be less than"
                      " 1024 bytes, and it must not be empty or start with / or \\.")


def segment_on_disk(segment: str) -> str:
    special = segment in ("", ".", "..") or segment.startswith("%")
    return "%" + segment if special else segment


class Store:
    """Objects, their metadata and multipart uploads, on disk under `root`."""

    def __init__(self, root: str):
        self.root = root
        self.lock = threading.RLock()

    # -- paths ----------------------------------------------------------------------------

    def object_path(self, bucket: str, key: str) -> str:
        check_bucket(bucket)
        check_key(key)
        return os.path.join(self.root, bucket, *map(segment_on_disk, key.split("/")))

    def meta_path(self, bucket: str, key: str) -> str:
        name = hashlib.sha256(key.encode()).hexdigest() + ".json"
        return os.path.join(self.root, ".meta", bucket, name)

    def upload_dir(self, upload_id: str) -> str:
        if not re.fullmatch(r"[0-9A-F]{32}", upload_id or ""):
            raise no_such_upload()
        return os.path.join(self.root, ".uploads", upload_id)

    # -- objects --------------------------------------------------------------------------

    def head(self, bucket: str, key: str) -> dict:
        """The object's metadata, or 404 NoSuchKey."""
        if not self.exists(bucket, key):
            raise no_such_key()
        with open(self.meta_path(bucket, key), encoding="utf-8") as f:
            return json.load(f)

    def exists(self, bucket: str, key: str) -> bool:
        return os.path.isfile(self.object_path(bucket, key)) and os.path.isfile(self.meta_path(bucket, key))

    def read(self, bucket: str, key: str) -> bytes:
        self.head(bucket, key)
        with open(self.object_path(bucket, key), "rb") as f:
            return f.read()

    def put(self, bucket: str, key: str, data: bytes, attributes: dict, forbid_overwrite: bool,
            etag: Optional[str] = None, kind: str = "Normal") -> dict:
        """Stores the object and its metadata; 409 FileAlreadyExists when one exists and
        `forbid_overwrite`. `attributes`: content_type, content_disposition, meta."""
        path = self.object_path(bucket, key)
        with self.lock:
            if forbid_overwrite and self.exists(bucket, key):
                raise Refused(409, "FileAlreadyExists",
                              "The object you specified already exists and can not be overwritten.")
            self.write_file(path, data)
            meta = {
                "key": key, "size": len(data), "etag": etag or md5_hex(data),
                "crc64": str(crc64(data)), "last_modified": iso_ms(now_utc()), "type": kind,
                "content_md5": base64.b64encode(hashlib.md5(data).digest()).decode(),
                "content_type": attributes.get("content_type") or "application/octet-stream",
                "content_disposition": attributes.get("content_disposition"),
                "meta": attributes.get("meta") or {},
            }
            self.write_file(self.meta_path(bucket, key), json.dumps(meta).encode())
        return meta

    def write_file(self, path: str, data: bytes) -> None:
        """Writes through a temporary file in `root/.tmp`, so a reader never sees half a file."""
        temporary = None
        try:
            os.makedirs(os.path.dirname(path), exist_ok=True)
            if os.path.isdir(path):
                raise IsADirectoryError(21, "a folder of that name exists", path)
            os.makedirs(os.path.join(self.root, ".tmp"), exist_ok=True)
            handle, temporary = tempfile.mkstemp(dir=os.path.join(self.root, ".tmp"))
            with os.fdopen(handle, "wb") as f:
                f.write(data)
            os.replace(temporary, path)
        except OSError as e:
            if temporary and os.path.exists(temporary):
                os.remove(temporary)
            raise Refused(400, "InvalidObjectName", "the local stand-in cannot store this key on"
                          f" disk ({e.strerror or type(e).__name__}: a file and a folder of the"
                          " same name, or a segment too long); OSS would") from None

    def delete(self, bucket: str, key: str) -> None:
        """Deletes the object; deleting a missing object succeeds, as on OSS."""
        path = self.object_path(bucket, key)
        with self.lock:
            for name in (path, self.meta_path(bucket, key)):
                if os.path.isfile(name):
                    os.remove(name)

    def keys(self, bucket: str) -> List[dict]:
        """Every object's metadata, sorted by key (byte order of UTF-8, as OSS lists)."""
        check_bucket(bucket)
        folder = os.path.join(self.root, ".meta", bucket)
        found = []
        for name in os.listdir(folder) if os.path.isdir(folder) else []:
            if name.endswith(".json"):
                with open(os.path.join(folder, name), encoding="utf-8") as f:
                    found.append(json.load(f))
        return sorted(found, key=lambda m: m["key"].encode())

    # -- multipart uploads ----------------------------------------------------------------

    def initiate(self, bucket: str, key: str, attributes: dict) -> str:
        self.object_path(bucket, key)  # checks the names
        upload_id = secrets.token_hex(16).upper()
        record = {"bucket": bucket, "key": key, "initiated": iso_ms(now_utc()), **attributes}
        self.write_file(os.path.join(self.upload_dir(upload_id), "upload.json"), json.dumps(record).encode())
        return upload_id

    def upload(self, upload_id: str, bucket: str, key: str) -> dict:
        """The upload's record; 404 NoSuchUpload unless it is this bucket's and key's."""
        path = os.path.join(self.upload_dir(upload_id), "upload.json")
        if not os.path.isfile(path):
            raise no_such_upload()
        with open(path, encoding="utf-8") as f:
            record = json.load(f)
        if (record["bucket"], record["key"]) != (bucket, key):
            raise no_such_upload()
        return record

    def put_part(self, upload_id: str, bucket: str, key: str, number: int, data: bytes) -> dict:
        self.upload(upload_id, bucket, key)
        part = {"number": number, "etag": md5_hex(data), "size": len(data),
                "crc64": str(crc64(data)), "last_modified": iso_ms(now_utc())}
        folder = self.upload_dir(upload_id)
        with self.lock:
            self.write_file(os.path.join(folder, str(number)), data)
            self.write_file(os.path.join(folder, f"{number}.json"), json.dumps(part).encode())
        return part

    def parts(self, upload_id: str, bucket: str, key: str) -> List[dict]:
        self.upload(upload_id, bucket, key)
        folder = self.upload_dir(upload_id)
        found = []
        for name in os.listdir(folder):
            if re.fullmatch(r"\d+\.json", name):
                with open(os.path.join(folder, name), encoding="utf-8") as f:
                    found.append(json.load(f))
        return sorted(found, key=lambda p: p["number"])

    def part_data(self, upload_id: str, numbers: List[int]) -> Iterator[bytes]:
        for number in numbers:
            with open(os.path.join(self.upload_dir(upload_id), str(number)), "rb") as f:
                yield f.read()

    def abort(self, upload_id: str, bucket: str, key: str) -> None:
        self.upload(upload_id, bucket, key)
        shutil.rmtree(self.upload_dir(upload_id), ignore_errors=True)


def check_completion(listed: List[Dict[str, object]], stored: Dict[int, dict]) -> None:
    """CompleteMultipartUpload's rules: parts named in ascending order, each uploaded with the
    ETag given, every one but the last at least 100 KiB."""
    numbers = [p["number"] for p in listed]
    if not listed:
        raise Refused(400, "MalformedXML", "The XML you provided was not well-formed or did not"
                      " validate against our published schema.")
    if any(b <= a for a, b in zip(numbers, numbers[1:])):
        raise Refused(400, "InvalidPartOrder", "The list of parts was not in ascending order."
                      " Parts list must specified in order by part number.")
    for part in listed:
        known = stored.get(part["number"])
        if known is None or part["etag"].strip('"').upper() != known["etag"]:
            raise Refused(400, "InvalidPart", "One or more of the specified parts could not be found"
                          " or the specified entity tag might not have matched the part's entity tag.")
    if any(stored[n]["size"] < MIN_PART_SIZE for n in numbers[:-1]):
        raise Refused(400, "EntityTooSmall", "Your proposed upload is smaller than the minimum"
                      " allowed size.")


def multipart_etag(parts: List[dict]) -> str:
    """OSS's ETag of a completed upload: MD5 of the parts' binary MD5s, upper hex, `-<count>`."""
    digests = b"".join(bytes.fromhex(p["etag"]) for p in parts)
    return f"{md5_hex(digests)}-{len(parts)}"
