"""An object uploaded while another process writes its file (files.growing_upload), on S3 in this process
(moto, no network): what arrives is exactly what was written, the disk is given back as it goes, and a write
into what was already sent fails the upload and leaves nothing behind."""

from __future__ import annotations

import os
import random
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest

from filegate.errors import ConversionFailed
from filegate.files import growing_upload
from filegate.files.growing_upload import GrowingUpload
from filegate.files.storage import Bucket

MB = 1024 * 1024
PART = 5 * MB
# A writer like a muxer: appends in bursts, then patches its header (and, told to, a byte far behind).
WRITER = textwrap.dedent(
    """
    import os, random, sys, time
    path, size, late = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    data = random.Random(7).randbytes(size)
    with open(path, "r+b") as out:
        for at in range(0, size, 256 * 1024):
            out.write(data[at : at + 256 * 1024])
            out.flush()
            time.sleep(0.004)
        time.sleep(0.3)
        out.seek(100)
        out.write(b"PATCHED HEADER")
        if late >= 0:
            out.seek(late)
            out.write(b"LATE")
    """
)


def expected(size: int, late: int = -1) -> bytes:
    data = bytearray(random.Random(7).randbytes(size))
    data[100:114] = b"PATCHED HEADER"
    if late >= 0:
        data[late : late + 4] = b"LATE"
    return bytes(data)


def run_writer(upload: GrowingUpload, size: int, *, keep: int, late: int = -1) -> int:
    """Run the writer on the upload's file, pumping as the join does; the most disk the file took meanwhile."""
    writer = subprocess.Popen([sys.executable, "-c", WRITER, str(upload.path), str(size), str(late)])
    most = 0
    while writer.poll() is None:
        upload.pump(keep)
        most = max(most, os.stat(upload.path).st_blocks * 512)
    assert writer.returncode == 0
    return most


def left(s3: Any) -> tuple[list[str], list[str]]:
    objects = [o["Key"] for o in s3.list_objects_v2(Bucket="files").get("Contents", [])]
    uploads = [u["Key"] for u in s3.list_multipart_uploads(Bucket="files").get("Uploads", [])]
    return objects, uploads


def test_what_arrives_is_what_was_written_and_the_disk_is_given_back(
    moto_bucket: tuple[Bucket, Any], tmp_path: Path
) -> None:
    files, s3 = moto_bucket
    size = 40 * MB + 12345
    with GrowingUpload(files, "out", tmp_path / "out", "video/mp4", part_bytes=PART) as upload:
        most = run_writer(upload, size, keep=MB)
        stored = upload.finish()
    assert stored == size
    assert s3.get_object(Bucket="files", Key="out")["Body"].read() == expected(size)
    assert upload.freed_bytes >= 25 * MB  # sent while the writer ran, and freed
    assert most < size // 2  # the file never took its whole size on disk
    assert not (tmp_path / "out").exists() and left(s3) == (["out"], [])


def test_the_caller_lays_out_the_object(moto_bucket: tuple[Bucket, Any], tmp_path: Path) -> None:
    """mp4: the index (written last) moved to the front: `front`, then the file from `cut` to `end`."""
    files, s3 = moto_bucket
    size = 30 * MB
    with GrowingUpload(files, "out", tmp_path / "out", "video/mp4", part_bytes=PART) as upload:
        run_writer(upload, size, keep=2 * MB)
        tail = upload.read(size - MB, MB)
        stored = upload.finish(b"INDEX" + tail, 8, size - MB)
    data = expected(size)
    assert tail == data[size - MB :]
    assert stored == 5 + MB + size - MB - 8
    assert s3.get_object(Bucket="files", Key="out")["Body"].read() == b"INDEX" + tail + data[8 : size - MB]


@pytest.mark.parametrize("punch", [True, False])
def test_a_write_into_a_sent_part_fails_the_upload_and_leaves_nothing(
    moto_bucket: tuple[Bucket, Any], tmp_path: Path, monkeypatch: pytest.MonkeyPatch, punch: bool
) -> None:
    """Whether the disk was freed (a hole: still a hole?) or not (its bytes: unchanged?)."""
    files, s3 = moto_bucket
    if not punch:
        monkeypatch.setattr(growing_upload, "punch_hole", lambda fd, offset, length: False)
    with GrowingUpload(files, "out", tmp_path / "out", "video/mp4", part_bytes=PART) as upload:
        run_writer(upload, 30 * MB, keep=MB, late=7 * MB)
        assert upload.freed_bytes == (upload.freed_bytes if punch else 0)
        with pytest.raises(ConversionFailed, match="written into a part already sent"):
            upload.finish()
    assert left(s3) == ([], [])


def test_a_layout_reaching_into_what_was_sent_is_refused(moto_bucket: tuple[Bucket, Any], tmp_path: Path) -> None:
    files, s3 = moto_bucket
    with GrowingUpload(files, "out", tmp_path / "out", "video/mp4", part_bytes=PART) as upload:
        run_writer(upload, 30 * MB, keep=MB)
        with pytest.raises(ConversionFailed):
            upload.read(6 * MB, 16)
        with pytest.raises(ConversionFailed, match="trailer was longer"):
            upload.finish(end=12 * MB)  # an "index" that starts in a part already sent
    assert left(s3) == ([], [])


def test_a_small_output_is_one_put(moto_bucket: tuple[Bucket, Any], tmp_path: Path) -> None:
    files, s3 = moto_bucket
    with GrowingUpload(files, "out", tmp_path / "out", "video/webm", part_bytes=PART) as upload:
        run_writer(upload, 3 * MB, keep=MB)
        assert upload.finish() == 3 * MB
    got = s3.get_object(Bucket="files", Key="out")
    assert got["Body"].read() == expected(3 * MB) and got["ContentType"] == "video/webm"
    assert "-" not in got["ETag"]  # not a multipart upload's
