"""Input format detection from the bytes alone (magic numbers), never from a name or a client content type.

Pure Python, no imaging imports: the files function can sniff an upload without the imaging layer.
"""

from __future__ import annotations

import struct

from filegate.errors import UnsupportedMediaType
from filegate.media import avsniff

_AVIF_BRANDS = {b"avif", b"avis"}
_HEIC_BRANDS = {b"heic", b"heix", b"heim", b"heis", b"hevc", b"hevx", b"hevm", b"hevs"}
_HEIF_BRANDS = {b"mif1", b"msf1", b"mif2"}
_BMP_DIB_HEADER_SIZES = {12, 16, 40, 52, 56, 64, 108, 124}
# PDF readers accept junk before the header; so do we, within the first KiB.
_PDF_HEADER_WINDOW = 1024


def _isobmff_brands(data: bytes) -> set[bytes]:
    """Major and compatible brands of an ISO-BMFF `ftyp` box (HEIF/AVIF), or an empty set."""
    if len(data) < 16 or data[4:8] != b"ftyp":
        return set()
    box_size = struct.unpack(">I", data[:4])[0]
    if box_size < 16 or box_size > 4096:
        return set()
    box = data[: min(box_size, len(data))]
    brands = {box[8:12]}
    brands.update(box[i : i + 4] for i in range(16, len(box) - 3, 4))
    return brands


def _is_ico(data: bytes) -> bool:
    if len(data) < 22 or data[:4] != b"\x00\x00\x01\x00":
        return False
    count = struct.unpack("<H", data[4:6])[0]
    # Each 16-byte directory entry has a zero reserved byte; a count of 0 is no icon at all.
    return 0 < count <= 256 and data[9] == 0


def _is_bmp(data: bytes) -> bool:
    if len(data) < 26 or data[:2] != b"BM":
        return False
    return struct.unpack("<I", data[14:18])[0] in _BMP_DIB_HEADER_SIZES


def sniff(data: bytes) -> str:
    """The canonical format name (see formats.FORMATS) of `data`, or UnsupportedMediaType."""
    head = data[:32]
    if head.startswith(b"\xff\xd8\xff"):
        return "jpg"
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "png"
    if head[:6] in (b"GIF87a", b"GIF89a"):
        return "gif"
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "webp"
    if head[:4] in (b"II*\x00", b"MM\x00*", b"II+\x00", b"MM\x00+"):
        return "tiff"
    if _is_bmp(data):
        return "bmp"
    if _is_ico(data):
        return "ico"
    brands = _isobmff_brands(data)
    if brands & _AVIF_BRANDS:
        return "avif"
    if brands & _HEIC_BRANDS:
        return "heic"
    if brands & _HEIF_BRANDS:
        return "heif"
    if b"%PDF-" in data[:_PDF_HEADER_WINDOW]:
        return "pdf"
    media = avsniff.sniff_media(data)
    if media is not None:
        return media
    if not data:
        raise UnsupportedMediaType("The file is empty.")
    avsniff.refuse_indirection(data)
    raise UnsupportedMediaType(
        "The file's format is not supported (detected from its content): expected an image "
        "(jpg, png, webp, gif, bmp, tiff, heic, avif, ico), a PDF, audio or video "
        "(mp4, mov, m4a, webm, mkv, avi, ts, flv, ogg, opus, wav, flac, mp3, aac)."
    )
