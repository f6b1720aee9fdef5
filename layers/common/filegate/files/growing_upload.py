"""An object uploaded while a child process is still writing its file: the long-media join, whose output may
be larger than the worker's disk (docs/api.md "Long media"; issue 17).

The writer (FFmpeg's muxer) appends, and seeks back only to patch its headers once it is done: mp4's mdat
size, Matroska's segment size, seek head and durations, all within the first kilobytes. So:
- the head (the first part) stays on disk until the writer has ended, and is sent last as part 1,
  as the caller lays it out (mp4: its index moved to the front, ``finish``);
- each further ``part_bytes`` is sent as the next part once the file has grown ``keep_bytes`` past it (the
  writer's trailer, written last in one go, is never longer than that), and its disk is freed: a hole is
  punched, so the file keeps its length and offsets and the writer never notices; a writer that runs ahead
  of S3 is held still while the parts it got ahead by are sent, so the disk used is bounded whatever the
  speeds;
- the rest is sent when the writer has ended.
A byte the writer put into a part already sent would be lost, so ``finish`` checks that none did (the range
is still a hole, or, where the file system cannot punch holes, its bytes are unchanged) and fails otherwise:
an output is never silently wrong. S3 takes the parts in number order whatever order they arrive in.
"""

from __future__ import annotations

import ctypes
import errno
import hashlib
import os
from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext
from pathlib import Path

from filegate.errors import ConversionFailed
from filegate.files.storage import MIN_PART_BYTES, Bucket, MultipartUpload

UNSTORED = "The joined output could not be stored: "
AHEAD_PARTS = 2  # whole parts a writer may get ahead of the upload before it is held still
_FALLOC_FL_KEEP_SIZE = 0x01
_FALLOC_FL_PUNCH_HOLE = 0x02
_LIBC = ctypes.CDLL(None, use_errno=True)


def punch_hole(fd: int, offset: int, length: int) -> bool:
    """Free a range's disk blocks (it then reads as zeros); False where the file system cannot."""
    fallocate = getattr(_LIBC, "fallocate", None)
    if fallocate is None:
        return False
    fallocate.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_longlong, ctypes.c_longlong]
    if fallocate(fd, _FALLOC_FL_PUNCH_HOLE | _FALLOC_FL_KEEP_SIZE, offset, length) == 0:
        return True
    code = ctypes.get_errno()
    if code in (errno.EOPNOTSUPP, errno.ENOSYS, errno.EINVAL):
        return False
    raise OSError(code, os.strerror(code))


def is_hole(fd: int, offset: int, length: int) -> bool:
    """Whether no data lies in [offset, offset + length) (SEEK_DATA: the next data at or after offset)."""
    try:
        return os.lseek(fd, offset, os.SEEK_DATA) >= offset + length
    except OSError as exc:
        if exc.errno == errno.ENXIO:  # no data after offset at all
            return True
        raise


class GrowingUpload:
    """The file at `path`, being written by another process, uploaded to `key` as it grows."""

    def __init__(self, bucket: Bucket, key: str, path: Path, content_type: str, *, part_bytes: int) -> None:
        if part_bytes < MIN_PART_BYTES:
            raise ValueError("S3 parts (all but the last) are at least 5 MiB")
        self.bucket, self.key, self.path, self.content_type = bucket, key, path, content_type
        self.part_bytes = part_bytes
        self._fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_TRUNC, 0o600)
        self._upload: MultipartUpload | None = None
        self._sent_end = part_bytes  # [part_bytes, _sent_end) has gone, in whole parts: the head is the first
        self._sent: list[tuple[int, int, bytes | None]] = []  # (offset, length, digest where no hole was punched)
        self.freed_bytes = 0  # disk given back while the writer ran (what the bench and tests read)

    def __enter__(self) -> GrowingUpload:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def size(self) -> int:
        return os.fstat(self._fd).st_size

    def read(self, offset: int, length: int) -> bytes:
        """Bytes of the file not sent yet (the head and the tail): what the caller lays out in ``finish``."""
        if self._sent and offset < self._sent_end and offset + length > self.part_bytes:
            raise ConversionFailed(UNSTORED + "its layout reaches into a part already sent.")
        return os.pread(self._fd, length, offset)

    def pump(self, keep_bytes: int, paused: Callable[[], AbstractContextManager[None]] = nullcontext) -> None:
        """Send every whole part that lies more than `keep_bytes` behind the end of the file (called while the
        writer runs). A writer more than AHEAD_PARTS parts ahead (it writes faster than S3 takes) is held still
        (`paused`) until they have gone: the disk never holds more than the head, those parts and the trailer."""
        ready = (self.size() - keep_bytes - self._sent_end) // self.part_bytes
        with paused() if ready >= AHEAD_PARTS else nullcontext():
            while self._sent_end + self.part_bytes + keep_bytes <= self.size():
                self._send(self._sent_end, self.part_bytes)

    def _send(self, offset: int, length: int) -> None:
        body = os.pread(self._fd, length, offset)
        if self._upload is None:
            self._upload = self.bucket.multipart(self.key, self.content_type)
        self._upload.send(self._next_number(), body)
        freed = punch_hole(self._fd, offset, length) and is_hole(self._fd, offset, length)
        self._sent.append((offset, length, None if freed else hashlib.sha256(body).digest()))
        self.freed_bytes += length if freed else 0
        self._sent_end = offset + length

    def _next_number(self) -> int:
        assert self._upload is not None
        return max(self._upload.parts, default=1) + 1  # part 1 is the head's, sent last

    def finish(self, front: bytes = b"", cut: int = 0, end: int | None = None) -> int:
        """Complete the object once the writer has ended: `front`, then the file's bytes [cut, end) (the whole
        file by default; ``cut`` within the head). The object's size."""
        size = self.size()
        end = size if end is None else end
        if not 0 <= cut <= min(self.part_bytes, end) or end > size:
            raise ValueError("the object's layout lies outside the file")
        self._check_sent(end)
        if self._upload is None and end <= 2 * self.part_bytes:
            self.bucket.put(self.key, front + os.pread(self._fd, end - cut, cut), self.content_type)
            return len(front) + end - cut
        head = front + os.pread(self._fd, min(self.part_bytes, end) - cut, cut)
        if len(head) < MIN_PART_BYTES:
            raise ConversionFailed(UNSTORED + "its head is shorter than an upload part.")
        while self._sent_end < end:  # the tail, in parts of at most part_bytes
            self._send(self._sent_end, min(self.part_bytes, end - self._sent_end))
        assert self._upload is not None
        self._upload.send(1, head)
        self._upload.complete()
        self._upload = None
        return len(head) + self._sent_end - self.part_bytes

    def _check_sent(self, end: int) -> None:
        """What was sent while the writer ran is what the file holds now: nothing was written there since."""
        if self._sent and self._sent_end > end:
            raise ConversionFailed(UNSTORED + "its trailer was longer than what was kept back from sending.")
        for offset, length, digest in self._sent:
            unchanged = (
                is_hole(self._fd, offset, length)
                if digest is None
                else hashlib.sha256(os.pread(self._fd, length, offset)).digest() == digest
            )
            if not unchanged:
                raise ConversionFailed(UNSTORED + "it was written into a part already sent.")

    def close(self) -> None:
        """Abort what was not completed (no part is left behind) and delete the local file."""
        try:
            if self._upload is not None:
                self._upload.abort()
                self._upload = None
        finally:
            os.close(self._fd)
            self.path.unlink(missing_ok=True)
