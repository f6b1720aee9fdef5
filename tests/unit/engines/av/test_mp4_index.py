"""mp4's index moved to the front after the fact (engines/av/mp4_index): what FFmpeg's own +faststart makes,
byte for byte, from a file whose media has already gone (only the head and the index are read)."""

from __future__ import annotations

import struct
import tempfile
from pathlib import Path

import pytest

from filegate.engines.av import mp4_index
from filegate.errors import ConversionFailed
from tests.helpers.av_samples import ffmpeg


def _reader(data: bytes, readable: list[tuple[int, int]] | None = None):  # type: ignore[no-untyped-def]
    """Reads `data`, and only the [start, end) ranges of `readable` when given (the rest has been sent)."""

    def read(offset: int, length: int) -> bytes:
        if readable is not None:
            assert any(start <= offset and offset + length <= end for start, end in readable), (offset, length)
        return data[offset : offset + length]

    return read


def _box(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I4s", 8 + len(body), kind) + body


def test_the_same_bytes_as_ffmpeg_faststart_reading_only_the_head_and_the_index() -> None:
    with tempfile.TemporaryDirectory() as work:
        folder = Path(work)
        lavfi = ["-f", "lavfi", "-i", "testsrc2=size=160x120:rate=25", "-f", "lavfi", "-i", "sine=frequency=440"]
        ffmpeg(*lavfi, "-t", "8", "-c:v", "libx264", "-preset", "ultrafast", "-c:a", "aac", str(folder / "in.mp4"))
        copy = ["-i", str(folder / "in.mp4"), "-c", "copy", "-map_metadata", "-1", "-f", "mp4"]
        ffmpeg(*copy, str(folder / "plain.mp4"))
        ffmpeg(*copy, "-movflags", "+faststart", str(folder / "fast.mp4"))
        plain, fast = (folder / "plain.mp4").read_bytes(), (folder / "fast.mp4").read_bytes()
    boxes = mp4_index.top_level(_reader(plain), len(plain))
    assert [box.kind for box in boxes] == [b"ftyp", b"free", b"mdat", b"moov"]
    mdat, moov = boxes[2], boxes[3]
    # The media itself is never read: only the boxes' headers and the index.
    readable = [(0, mdat.offset + 16), (moov.offset, len(plain))]
    front, cut, end = mp4_index.faststart(_reader(plain, readable), len(plain))
    assert front + plain[cut:end] == fast
    assert (cut, end) == (boxes[0].size, moov.offset)
    # Already in front: nothing to do.
    assert mp4_index.faststart(_reader(fast), len(fast)) == (b"", 0, len(fast))


def test_offsets_pushed_past_4_gib_widen_the_table_to_64_bits() -> None:
    near = 0xFFFFFFFF - 100  # a chunk near the 32-bit limit: the index moved in front pushes it past
    stco = _box(b"stco", struct.pack(">4xI3I", 3, 48, 1_000_000, near))
    moov = _box(b"moov", _box(b"mvhd", bytes(100)) + _box(b"trak", _box(b"mdia", _box(b"minf", _box(b"stbl", stco)))))
    ftyp = _box(b"ftyp", b"isom\0\0\2\0isomiso2")
    # A 64-bit mdat (as FFmpeg writes past 4 GiB), its payload not spelled out: it is never read.
    mdat_size = 16 + near + 200
    head = ftyp + struct.pack(">I4sQ", 1, b"mdat", mdat_size)
    size = len(head) - 16 + mdat_size + len(moov)

    def read(offset: int, length: int) -> bytes:
        if offset < len(head):
            return head[offset : offset + length]
        start = len(ftyp) + mdat_size
        assert start <= offset, "the media was read"
        return moov[offset - start : offset - start + length]

    front, cut, end = mp4_index.faststart(read, size)
    assert front[: len(ftyp)] == ftyp and (cut, end) == (len(ftyp), len(ftyp) + mdat_size)
    moved = front[len(ftyp) :]
    shift = len(moved)
    at = moved.index(b"co64") - 4
    assert b"stco" not in moved
    (length,) = struct.unpack(">I", moved[at : at + 4])
    assert length == 8 + 4 + 4 + 3 * 8
    assert struct.unpack(">3Q", moved[at + 16 : at + 40]) == (48 + shift, 1_000_000 + shift, near + shift)
    assert struct.unpack(">I", moved[:4])[0] == len(moved)  # moov's own size follows its grown table


@pytest.mark.parametrize(
    "data",
    [
        _box(b"ftyp", b"isom") + _box(b"mdat", b"x" * 20),  # no index
        _box(b"ftyp", b"isom") + _box(b"moov", b"") + _box(b"mdat", b"") + _box(b"moov", b""),  # two
        _box(b"ftyp", b"isom") + struct.pack(">I4s", 4, b"mdat"),  # a box shorter than its header
        _box(b"ftyp", b"isom") + struct.pack(">I4s", 99, b"mdat") + b"short",  # past the end of the file
        _box(b"ftyp", b"isom") + _box(b"mdat", b"") + _box(b"moov", struct.pack(">I4s", 99, b"trak")),
    ],
)
def test_a_malformed_file_is_a_conversion_failure(data: bytes) -> None:
    with pytest.raises(ConversionFailed):
        mp4_index.faststart(_reader(data), len(data))
