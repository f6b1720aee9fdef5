"""A multipart/form-data body for the presigned S3 POST, streamed from a file or bytes with progress.

Streaming (rather than httpx's ``files=``) keeps a multi-gigabyte upload out of memory and lets the caller
watch the bytes go out; the length is known up front, so S3 gets a Content-Length, never chunked encoding.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path

CHUNK_BYTES = 256 * 1024
Progress = Callable[[int], None]  # called with the number of bytes just sent


class MultipartUpload:
    def __init__(
        self, fields: Mapping[str, str], source: Path | bytes, filename: str, content_type: str | None
    ) -> None:
        self.boundary = "filegate-" + secrets.token_hex(16)
        self.source = source
        self.size = source.stat().st_size if isinstance(source, Path) else len(source)
        head = b"".join(self._field(name, value) for name, value in fields.items())
        quoted = filename.replace('"', "%22").replace("\r", "").replace("\n", "")
        head += (
            f"--{self.boundary}\r\n"
            f'Content-Disposition: form-data; name="file"; filename="{quoted}"\r\n'
            f"Content-Type: {content_type or 'application/octet-stream'}\r\n\r\n"
        ).encode()
        self.head = head
        self.tail = f"\r\n--{self.boundary}--\r\n".encode()

    def _field(self, name: str, value: str) -> bytes:
        return f'--{self.boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n'.encode()

    @property
    def content_type(self) -> str:
        return f"multipart/form-data; boundary={self.boundary}"

    @property
    def content_length(self) -> int:
        return len(self.head) + self.size + len(self.tail)

    def stream(self, progress: Progress | None = None) -> Iterator[bytes]:
        yield self.head
        for chunk in self._chunks():
            yield chunk
            if progress is not None:
                progress(len(chunk))
        yield self.tail

    def _chunks(self) -> Iterator[bytes]:
        if isinstance(self.source, bytes):
            for start in range(0, len(self.source), CHUNK_BYTES):
                yield self.source[start : start + CHUNK_BYTES]
            return
        with self.source.open("rb") as handle:
            while chunk := handle.read(CHUNK_BYTES):
                yield chunk
