"""The mp4 index (``moov``) moved in front of the media (``+faststart``, docs/api.md "Media") after the fact.

FFmpeg's own ``+faststart`` re-reads and shifts the whole file once it is written, which a join streamed to
S3 cannot do (its media has left the disk, files.growing_upload). FFmpeg writes ``ftyp``, the media
(``mdat``) and then ``moov``; the same file with ``moov`` right after ``ftyp`` needs only ``moov`` rewritten:
every chunk offset (``stco``, or ``co64`` past 4 GiB) grows by ``moov``'s own length, and a 32-bit table
whose offsets no longer fit becomes a 64-bit one (which makes ``moov`` longer, so the shift is settled again).
Nothing else in the file moves or changes.
"""

from __future__ import annotations

import struct
from collections.abc import Callable
from dataclasses import dataclass

from filegate.errors import ConversionFailed

# The boxes on the path from moov to the chunk offset tables; every other box is copied as it is.
_CONTAINERS = {b"moov", b"trak", b"mdia", b"minf", b"stbl"}
_U32 = 0xFFFFFFFF


@dataclass(frozen=True)
class Box:
    kind: bytes
    offset: int
    size: int
    header: int  # 8, or 16 with a 64-bit size


def top_level(read: Callable[[int, int], bytes], size: int) -> list[Box]:
    """The file's top-level boxes, read header by header."""
    boxes, offset = [], 0
    while offset + 8 <= size:
        head = read(offset, 16 if offset + 16 <= size else 8)
        length, kind = struct.unpack(">I4s", head[:8])
        header = 8
        if length == 1:
            (length,), header = struct.unpack(">Q", head[8:16]), 16
        elif length == 0:
            length = size - offset
        if length < header or offset + length > size:
            raise ConversionFailed("The joined mp4 is malformed.")
        boxes.append(Box(kind, offset, length, header))
        offset += length
    return boxes


def faststart(read: Callable[[int, int], bytes], size: int) -> tuple[bytes, int, int]:
    """How the file (of `size` bytes, read by `read(offset, length)`) is laid out with its index first:
    ``(front, cut, end)``, the object being `front` followed by the file's bytes [cut, end)."""
    boxes = top_level(read, size)
    kinds = [box.kind for box in boxes]
    if kinds.count(b"moov") != 1 or b"mdat" not in kinds or kinds[0] != b"ftyp":
        raise ConversionFailed("The joined mp4 has no index or no media.")
    ftyp, moov = boxes[0], boxes[kinds.index(b"moov")]
    if kinds.index(b"moov") < kinds.index(b"mdat"):
        return b"", 0, size  # already in front
    if moov.offset + moov.size != size:
        raise ConversionFailed("The joined mp4 has boxes after its index.")
    index = read(moov.offset, moov.size)
    # Offsets before the index grow by the new index's length; its length may grow with 64-bit tables.
    shift = len(index)
    moved = _shifted(index, shift)
    while len(moved) != shift:
        shift = len(moved)
        moved = _shifted(index, shift)
    return read(0, ftyp.size) + moved, ftyp.size, moov.offset


def _shifted(box: bytes, shift: int) -> bytes:
    """`box` (one whole box) with every chunk offset below it grown by `shift`."""
    length, kind = struct.unpack(">I4s", box[:8])
    if length == 1:
        raise ConversionFailed("The joined mp4's index is too large.")
    if kind in _CONTAINERS:
        children, at = [], 8
        while at < len(box):
            (child,) = struct.unpack(">I", box[at : at + 4])
            if child < 8 or at + child > len(box):
                raise ConversionFailed("The joined mp4's index is malformed.")
            children.append(_shifted(box[at : at + child], shift))
            at += child
        return _box(kind, b"".join(children))
    if kind == b"stco":
        offsets = _entries(box, ">I", 4)
        moved = [offset + shift for offset in offsets]
        if max(moved, default=0) > _U32:
            return _box(b"co64", box[8:12] + struct.pack(f">I{len(moved)}Q", len(moved), *moved))
        return _box(b"stco", box[8:12] + struct.pack(f">I{len(moved)}I", len(moved), *moved))
    if kind == b"co64":
        moved = [offset + shift for offset in _entries(box, ">Q", 8)]
        return _box(b"co64", box[8:12] + struct.pack(f">I{len(moved)}Q", len(moved), *moved))
    return box


def _entries(box: bytes, unit: str, width: int) -> list[int]:
    (count,) = struct.unpack(">I", box[12:16])
    if 16 + count * width > len(box):
        raise ConversionFailed("The joined mp4's chunk offsets are malformed.")
    return list(struct.unpack(f">{count}{unit[1]}", box[16 : 16 + count * width]))


def _box(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I4s", 8 + len(body), kind) + body
