"""Real files of the read-only image formats, made at test time (no binary fixtures in the repository).

Pillow writes most of them; PSD, ICNS (one 64x64 PNG element), PAM, linear DNG and SVG are assembled here
byte by byte from their specifications. Used through media_samples.sample().
"""

from __future__ import annotations

import io
import struct

from PIL import Image

PILLOW_WRITTEN = {"tga": "TGA", "jp2": "JPEG2000", "dds": "DDS", "sgi": "SGI", "pcx": "PCX", "pnm": "PPM", "qoi": "QOI"}
FORMATS = (*PILLOW_WRITTEN, "jxl", "psd", "icns", "pam", "xbm", "dng", "svg")


def make(fmt: str, image: Image.Image) -> bytes:
    """`image` (RGB) as a file of `fmt`."""
    rgb = image.convert("RGB")
    if fmt in PILLOW_WRITTEN:
        buf = io.BytesIO()
        rgb.save(buf, format=PILLOW_WRITTEN[fmt])
        return buf.getvalue()
    return {"jxl": jxl, "psd": psd, "icns": icns, "pam": pam, "xbm": xbm, "dng": dng, "svg": svg}[fmt](rgb)


def jxl(image: Image.Image) -> bytes:
    import pillow_jxl  # noqa: F401 (registers the plugin)

    buf = io.BytesIO()
    image.save(buf, format="JXL", quality=95)
    return buf.getvalue()


def psd(image: Image.Image) -> bytes:
    """Photoshop, version 1, RGB 8-bit, no layers, raw (uncompressed) planar image data."""
    width, height = image.size
    header = b"8BPS" + struct.pack(">H6xHIIHH", 1, 3, height, width, 8, 3)
    sections = struct.pack(">III", 0, 0, 0)  # colour mode data, image resources, layer and mask info
    planes = b"".join(band.tobytes() for band in image.split())
    return header + sections + struct.pack(">H", 0) + planes


def icns(image: Image.Image) -> bytes:
    """Apple icon with one 64x64 element (icp6: PNG data)."""
    buf = io.BytesIO()
    image.resize((64, 64)).save(buf, format="PNG")
    element = b"icp6" + struct.pack(">I", 8 + len(buf.getvalue())) + buf.getvalue()
    return b"icns" + struct.pack(">I", 8 + len(element)) + element


def pam(image: Image.Image) -> bytes:
    width, height = image.size
    header = f"P7\nWIDTH {width}\nHEIGHT {height}\nDEPTH 3\nMAXVAL 255\nTUPLTYPE RGB\nENDHDR\n".encode()
    return header + image.tobytes()


def xbm(image: Image.Image) -> bytes:
    buf = io.BytesIO()
    image.convert("1").save(buf, format="XBM")
    return buf.getvalue()


def svg(image: Image.Image) -> bytes:
    """Shapes in the image's colours, at its size."""
    width, height = image.size
    r, g, b = image.getpixel((width // 2, height // 2))  # type: ignore[misc]
    return (
        f'<?xml version="1.0" encoding="UTF-8"?>\n'
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" viewBox="0 0 {width} {height}">'
        f'<rect width="{width}" height="{height}" fill="rgb({r},{g},{b})"/>'
        f'<circle cx="{width / 2}" cy="{height / 2}" r="{min(width, height) / 3}" fill="#1e64c8"/>'
        f"</svg>"
    ).encode()


def dng(image: Image.Image) -> bytes:
    """A linear (already demosaiced) DNG 1.4: a little-endian TIFF with 16-bit RGB samples and the DNG tags
    LibRaw needs (DNGVersion, UniqueCameraModel, ColorMatrix1 = identity-ish sRGB→XYZ, AsShotNeutral)."""
    width, height = image.size
    samples = b"".join(struct.pack("<HHH", r * 257, g * 257, b * 257) for r, g, b in image.getdata())  # type: ignore[misc]
    model = b"FileGate Test Camera\0"
    # sRGB (D65) → XYZ, as a DNG ColorMatrix1 is the inverse direction: XYZ → camera. Use the XYZ→sRGB matrix.
    xyz_to_srgb = (3.2406, -1.5372, -0.4986, -0.9689, 1.8758, 0.0415, 0.0557, -0.2040, 1.0570)
    entries: list[tuple[int, int, int, bytes]] = []  # tag, type, count, value bytes

    def short(tag: int, *values: int) -> None:
        entries.append((tag, 3, len(values), struct.pack(f"<{len(values)}H", *values)))

    def long(tag: int, *values: int) -> None:
        entries.append((tag, 4, len(values), struct.pack(f"<{len(values)}I", *values)))

    def srational(tag: int, *values: float) -> None:
        packed = b"".join(struct.pack("<ii", round(v * 10000), 10000) for v in values)
        entries.append((tag, 10, len(values), packed))

    def rational(tag: int, *values: float) -> None:
        packed = b"".join(struct.pack("<II", round(v * 10000), 10000) for v in values)
        entries.append((tag, 5, len(values), packed))

    long(254, 0)  # NewSubfileType: the main image
    long(256, width)
    long(257, height)
    short(258, 16, 16, 16)
    short(259, 1)  # no compression
    short(262, 34892)  # LinearRaw
    long(273, 0)  # StripOffsets: patched below
    short(277, 3)
    long(278, height)
    long(279, len(samples))
    short(284, 1)
    entries.append((50706, 1, 4, bytes([1, 4, 0, 0])))  # DNGVersion
    entries.append((50708, 2, len(model), model))  # UniqueCameraModel
    srational(50721, *xyz_to_srgb)  # ColorMatrix1
    rational(50728, 1.0, 1.0, 1.0)  # AsShotNeutral
    short(50778, 21)  # CalibrationIlluminant1: D65
    entries.sort()
    ifd_offset = 8
    ifd_size = 2 + 12 * len(entries) + 4
    data_offset = ifd_offset + ifd_size
    extra = b""
    packed_entries = []
    for tag, kind, count, value in entries:
        if len(value) <= 4:
            packed_entries.append(struct.pack("<HHI", tag, kind, count) + value.ljust(4, b"\0"))
        else:
            packed_entries.append(struct.pack("<HHI", tag, kind, count) + struct.pack("<I", data_offset + len(extra)))
            extra += value + (b"\0" if len(value) % 2 else b"")
    strip_offset = data_offset + len(extra)
    packed_entries = [
        e[:8] + struct.pack("<I", strip_offset) if struct.unpack("<H", e[:2])[0] == 273 else e for e in packed_entries
    ]
    ifd = struct.pack("<H", len(entries)) + b"".join(packed_entries) + struct.pack("<I", 0)
    return b"II*\0" + struct.pack("<I", ifd_offset) + ifd + extra + samples
