"""The files bucket: private, encrypted, objects under per-retention and per-account prefixes.

Object keys are ``<retention>/<account_id>/<file_id>``: the retention prefix lets S3 lifecycle rules
expire objects per tier (1 day free, 7 days pro), the account prefix keeps accounts apart.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import quote

from botocore.exceptions import ClientError

from filegate import aws
from filegate.tiers import Tier

DOWNLOAD_URL_SECONDS = 300  # GET /v1/files/{id}/content and the sync 303
UPLOAD_URL_SECONDS = 3600
MIN_PART_BYTES = 5 * 1024 * 1024  # S3's smallest multipart part (all but the last)
RANGE_CHUNK_BYTES = 256 * 1024


def retention_prefix(tier: Tier) -> str:
    return f"{max(1, tier.file_ttl_seconds // 86400)}d"


def object_key(tier: Tier, account_id: str, file_id: str) -> str:
    return f"{retention_prefix(tier)}/{account_id}/{file_id}"


@dataclass(frozen=True)
class ObjectInfo:
    size: int
    head: bytes  # the first bytes, for sniffing the real type


class Bucket:
    def __init__(self, name: str) -> None:
        self.name = name

    @property
    def _s3(self) -> Any:
        return aws.client("s3")

    def presigned_post(self, key: str, max_bytes: int, now: datetime) -> dict[str, Any]:
        """A browser-style upload whose policy pins the key and caps the size."""
        post = self._s3.generate_presigned_post(
            Bucket=self.name,
            Key=key,
            Fields={},
            Conditions=[{"key": key}, ["content-length-range", 1, max_bytes]],
            ExpiresIn=UPLOAD_URL_SECONDS,
        )
        expires = now + timedelta(seconds=UPLOAD_URL_SECONDS)
        return {"url": post["url"], "fields": post["fields"], "expires_at": expires}

    def inspect(self, key: str, head_bytes: int = 4096) -> ObjectInfo | None:
        """Size and first bytes of an object; None when there is no such object."""
        try:
            response = self._s3.get_object(Bucket=self.name, Key=key, Range=f"bytes=0-{head_bytes - 1}")
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in ("NoSuchKey", "404", "InvalidRange"):
                return None
            raise
        content_range = response.get("ContentRange", "")
        size = int(content_range.rsplit("/", 1)[1]) if "/" in content_range else int(response["ContentLength"])
        return ObjectInfo(size=size, head=response["Body"].read())

    def read(self, key: str) -> bytes:
        return bytes(self._s3.get_object(Bucket=self.name, Key=key)["Body"].read())

    def read_if_exists(self, key: str) -> bytes | None:
        try:
            return self.read(key)
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in ("NoSuchKey", "404"):
                return None
            raise

    def read_range(self, key: str, first: int, last: int) -> Iterator[bytes]:
        """Bytes `first`..`last` (inclusive) of an object, streamed in chunks (never whole in memory)."""
        body = self._s3.get_object(Bucket=self.name, Key=key, Range=f"bytes={first}-{last}")["Body"]
        try:
            yield from body.iter_chunks(RANGE_CHUNK_BYTES)
        finally:
            body.close()

    def delete_many(self, keys: Sequence[str]) -> None:
        """Delete objects (absent ones included), a thousand per request."""
        for at in range(0, len(keys), 1000):
            batch = [{"Key": key} for key in keys[at : at + 1000]]
            self._s3.delete_objects(Bucket=self.name, Delete={"Objects": batch, "Quiet": True})

    def download(self, key: str, path: Path) -> None:
        """Stream an object to a local file (media inputs are far larger than memory should hold)."""
        self._s3.download_file(self.name, key, str(path))

    def upload(self, key: str, path: Path, content_type: str) -> None:
        self._s3.upload_file(str(path), self.name, key, ExtraArgs={"ContentType": content_type})

    def put(self, key: str, data: bytes, content_type: str) -> None:
        self._s3.put_object(Bucket=self.name, Key=key, Body=data, ContentType=content_type)

    def write_stream(self, key: str, chunks: Iterable[bytes], content_type: str, part_bytes: int) -> int:
        """Stream ``chunks`` into an object without holding more than one part in memory: a multipart upload
        once there is more than one part (a single put otherwise). A failure mid-way aborts the upload, so no
        part is left behind. Returns the object's size."""
        part_bytes = max(part_bytes, MIN_PART_BYTES)
        buffer = bytearray()
        upload: MultipartUpload | None = None
        size = 0
        try:
            for chunk in chunks:
                buffer += chunk
                size += len(chunk)
                while len(buffer) >= part_bytes:
                    upload = upload or self.multipart(key, content_type)
                    body, buffer = bytes(buffer[:part_bytes]), buffer[part_bytes:]
                    upload.send(len(upload.parts) + 1, body)
            if upload is None:
                self.put(key, bytes(buffer), content_type)
                return size
            if buffer:
                upload.send(len(upload.parts) + 1, bytes(buffer))
            upload.complete()
            return size
        except BaseException:
            if upload is not None:
                upload.abort()
            raise

    def multipart(self, key: str, content_type: str) -> MultipartUpload:
        """A multipart upload begun: parts are sent by number, in any order, then completed (or aborted)."""
        created = self._s3.create_multipart_upload(Bucket=self.name, Key=key, ContentType=content_type)
        return MultipartUpload(self, key, str(created["UploadId"]))

    def delete(self, key: str) -> None:
        self._s3.delete_object(Bucket=self.name, Key=key)

    def download_url(self, key: str, filename: str, content_type: str | None) -> str:
        params: dict[str, Any] = {
            "Bucket": self.name,
            "Key": key,
            "ResponseContentDisposition": f"attachment; filename*=UTF-8''{quote(filename)}",
        }
        if content_type:
            params["ResponseContentType"] = content_type
        url: str = self._s3.generate_presigned_url("get_object", Params=params, ExpiresIn=DOWNLOAD_URL_SECONDS)
        return url


class MultipartUpload:
    """One S3 multipart upload. Every part but the last is at least MIN_PART_BYTES; the object is the parts
    in number order, whatever order they were sent in."""

    def __init__(self, bucket: Bucket, key: str, upload_id: str) -> None:
        self.bucket, self.key, self.upload_id = bucket, key, upload_id
        self.parts: dict[int, str] = {}  # part number → ETag

    def send(self, number: int, body: bytes) -> None:
        sent = self.bucket._s3.upload_part(
            Bucket=self.bucket.name, Key=self.key, UploadId=self.upload_id, PartNumber=number, Body=body
        )
        self.parts[number] = sent["ETag"]

    def complete(self) -> None:
        parts = [{"ETag": tag, "PartNumber": number} for number, tag in sorted(self.parts.items())]
        self.bucket._s3.complete_multipart_upload(
            Bucket=self.bucket.name, Key=self.key, UploadId=self.upload_id, MultipartUpload={"Parts": parts}
        )

    def abort(self) -> None:
        self.bucket._s3.abort_multipart_upload(Bucket=self.bucket.name, Key=self.key, UploadId=self.upload_id)
