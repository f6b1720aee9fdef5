"""Input format detection from the bytes (magic numbers), never from a name or a client content type alone:
only text (told apart from other text by its extension or `source_format`) and an OLE2 file whose directory
lies past the bytes given (docsniff) are named by the file name.

Pure Python, no imaging imports: the files function can sniff an upload without the imaging layer.
"""

from __future__ import annotations

import struct

from filegate.errors import UnsupportedMediaType
from filegate.formats import avsniff, docsniff

_AVIF_BRANDS = {b"avif", b"avis"}
_HEIC_BRANDS = {b"heic", b"heix", b"heim", b"heis", b"hevc", b"hevx", b"hevm", b"hevs"}
_HEIF_BRANDS = {b"mif1", b"msf1", b"mif2"}
_BMP_DIB_HEADER_SIZES = {12, 16, 40, 52, 56, 64, 108, 124}
# PDF readers accept junk before the header; so do we, within the first KiB.
_PDF_HEADER_WINDOW = 1024
_JP2_SIGNATURE = b"\x00\x00\x00\x0cjP  \r\n\x87\n"
_J2K_CODESTREAM = b"\xff\x4f\xff\x51"
_JXL_CONTAINER = b"\x00\x00\x00\x0cJXL \r\n\x87\n"
_JXL_CODESTREAM = b"\xff\x0a"
_DNG_VERSION_TAG = 50706
_SVG_WINDOW = 4096
_TGA_IMAGE_TYPES = {1, 2, 3, 9, 10, 11}
_TGA_DEPTHS = {8, 15, 16, 24, 32}
# Formats refused by design: their usual decoder (Ghostscript) has a long history of code execution.
_POSTSCRIPT = (b"%!PS", b"\xc5\xd0\xd3\xc6")


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


def _tiff_kind(data: bytes) -> str:
    """ "dng" for a TIFF whose first IFD carries DNGVersion (a camera RAW), else "tiff"."""
    order = "<" if data[:2] == b"II" else ">"
    if data[2:4] not in (b"*\x00", b"\x00*"):
        return "tiff"  # BigTIFF: never a DNG
    offset = struct.unpack(order + "I", data[4:8])[0]
    if offset + 2 > len(data):
        return "tiff"
    count = struct.unpack(order + "H", data[offset : offset + 2])[0]
    for index in range(min(count, 512)):
        entry = offset + 2 + 12 * index
        if entry + 2 > len(data):
            break
        if struct.unpack(order + "H", data[entry : entry + 2])[0] == _DNG_VERSION_TAG:
            return "dng"
    return "tiff"


def _is_svg(data: bytes) -> bool:
    """An XML (or bare) document whose root element is <svg>, in its first 4 KiB."""
    head = data[:_SVG_WINDOW].lstrip(b"\xef\xbb\xbf \t\r\n")
    if not head.startswith(b"<"):
        return False
    text = head.decode("utf-8", "replace")
    while text.startswith(("<?", "<!--", "<!")):  # XML declaration, comments, DOCTYPE
        if text.startswith("<!--"):
            end = text.find("-->") + 3
        elif text.startswith("<!DOCTYPE") and "[" in text[: text.find(">")]:
            end = text.find("]>") + 2  # past the internal subset (entity declarations: refused later)
        else:
            end = text.find(">") + 1
        if end <= 2:
            return False
        text = text[end:].lstrip()
    return text.startswith("<svg") and text[4:5] in (" ", ">", "/", "\t", "\r", "\n")


def _is_pcx(head: bytes) -> bool:
    return (
        len(head) >= 128 and head[0] == 0x0A and head[1] in (0, 2, 3, 4, 5) and head[2] == 1 and head[3] in (1, 2, 4, 8)
    )


def _is_sgi(head: bytes) -> bool:
    return head[:2] == b"\x01\xda" and head[2] in (0, 1) and head[3] in (1, 2)


def _is_pnm(head: bytes) -> bool:
    return len(head) > 3 and head[:1] == b"P" and head[1:2] in b"123456" and head[2:3] in b" \t\r\n#"


def _is_xbm(head: bytes) -> bool:
    return head.lstrip().startswith(b"#define") and b"_width" in head[:128]


def _is_tga(data: bytes) -> bool:
    """Targa has no magic number: a plausible header (or the v2 footer) is the best there is; checked last."""
    if data[-18:] == b"TRUEVISION-XFILE.\x00":
        return True
    if len(data) < 18:
        return False
    colour_map, image_type, depth = data[1], data[2], data[16]
    width, height = struct.unpack("<HH", data[12:16])
    map_ok = colour_map == 0 or (colour_map == 1 and data[7] in (15, 16, 24, 32))
    return map_ok and image_type in _TGA_IMAGE_TYPES and depth in _TGA_DEPTHS and width > 0 and height > 0


def sniff(data: bytes, filename: str | None = None, source_format: str | None = None) -> str:
    """The canonical format name (see formats.FORMATS) of `data` (a file's bytes, or its first KiBs), or
    UnsupportedMediaType. `filename` and `source_format` tell text formats apart (docs/api.md "Documents")."""
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
        return _tiff_kind(data)
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
    if head.startswith(_POSTSCRIPT):
        raise UnsupportedMediaType(
            "PostScript and EPS files are not supported by design: their usual interpreter (Ghostscript) has a "
            "long history of running code from the file. Export the artwork as PDF, SVG or PNG instead."
        )
    simple = {b"8BPS": "psd", b"DDS ": "dds", b"icns": "icns", b"qoif": "qoi"}
    if head[:4] in simple:
        return simple[head[:4]]
    if head.startswith(_JXL_CONTAINER) or head.startswith(_JXL_CODESTREAM):
        return "jxl"
    if head.startswith(_JP2_SIGNATURE) or head.startswith(_J2K_CODESTREAM):
        return "jp2"
    document = docsniff.sniff_container(data, filename)
    if document is not None:
        return document
    media = avsniff.sniff_media(data)
    if media is not None:
        return media
    if head.startswith(b"P7\n"):
        return "pam"
    if _is_pnm(head):
        return "pnm"
    if _is_sgi(head):
        return "sgi"
    if _is_pcx(data[:128]):
        return "pcx"
    if _is_xbm(data[:256]):
        return "xbm"
    if _is_svg(data):
        return "svg"
    if _is_tga(data):
        return "tga"
    if not data:
        raise UnsupportedMediaType("The file is empty.")
    # Text named as a document is one; unnamed, a playlist is refused before it could pass for text.
    if not docsniff.names_text(filename, source_format):
        avsniff.refuse_indirection(data)
    if docsniff.is_text(data):
        return docsniff.text_format(filename, source_format)
    raise UnsupportedMediaType(
        "The file's format is not supported (detected from its content): expected an image "
        "(jpg, png, webp, gif, tiff, heic, avif, psd, svg, …), a PDF, audio or video "
        "(mp4, mov, m4a, webm, mkv, avi, ts, flv, ogg, opus, wav, flac, mp3, aac), an office document "
        "(docx, doc, odt, rtf, xlsx, xls, ods, pptx, ppt, odp) or text (txt, csv, md, html): see GET /v1/formats."
    )
