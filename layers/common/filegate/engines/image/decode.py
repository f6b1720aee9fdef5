"""Decoding: open bytes with only the sniffed decoder, within the pixel limit; orientation and metadata."""

from __future__ import annotations

import io
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from PIL import Image

from filegate.engines.image import readers, svg, vips
from filegate.engines.image.limits import EngineLimits
from filegate.errors import ConversionFailed
from filegate.formats.options import ImageOptions

# Pillow's name for each raster format it reads for us.
PIL_FORMAT: dict[str, str] = {
    "jpg": "JPEG",
    "png": "PNG",
    "webp": "WEBP",
    "gif": "GIF",
    "bmp": "BMP",
    "tiff": "TIFF",
    "avif": "AVIF",
    "ico": "ICO",
    "heic": "HEIF",
    "heif": "HEIF",
    "jxl": "JXL",
    "psd": "PSD",
    "tga": "TGA",
    "jp2": "JPEG2000",
    "dds": "DDS",
    "sgi": "SGI",
    "pcx": "PCX",
    "icns": "ICNS",
    "pnm": "PPM",
    "xbm": "XBM",
    "qoi": "QOI",
}
# Decoded outside Pillow's plugins: PAM (a small reader here), camera RAW (LibRaw), SVG (resvg).
NON_PIL_READERS = frozenset({"pam", "dng", "svg"})

# pillow-heif and pypdfium2 are loaded on first use: most calls need neither, and each costs start-up
# time and resident memory (libheif, libpdfium) in a fresh Lambda.
_heif_registered = False


def register_heif() -> None:
    global _heif_registered
    if not _heif_registered:
        import pillow_heif

        pillow_heif.register_heif_opener(thumbnails=False)  # decoding only; we never write HEIF
        _heif_registered = True


_ORIENTATION_TAG = 0x0112
TRANSPOSE = {
    2: Image.Transpose.FLIP_LEFT_RIGHT,
    3: Image.Transpose.ROTATE_180,
    4: Image.Transpose.FLIP_TOP_BOTTOM,
    5: Image.Transpose.TRANSPOSE,
    6: Image.Transpose.ROTATE_270,
    7: Image.Transpose.TRANSVERSE,
    8: Image.Transpose.ROTATE_90,
}


@dataclass(frozen=True)
class Meta:
    exif: bytes | None
    icc: bytes | None
    xmp: bytes | None
    exif_flat: bytes | None = None  # without sub-IFD pointers, for TIFF (Pillow cannot write those there)


NO_META = Meta(None, None, None)
# TIFF structure tags describe the source's pixel layout: meaningless (or harmful) on a new image.
_STRUCTURE_TAGS = frozenset(
    {254, 255, 256, 257, 258, 259, 262, 263, 266, 273, 277, 278, 279, 280, 281, 284, 317, 320, 322, 323}
    | {324, 325, 338, 339, 340, 341, 513, 514, 530, 531, 532}
)
_SUB_IFD_TAGS = frozenset({0x8769, 0x8825, 0xA005})


_jxl_registered = False


def register_jxl() -> None:
    global _jxl_registered
    if not _jxl_registered:
        import pillow_jxl  # noqa: F401 (registers Pillow's JXL plugin: libjxl, reads and writes)

        _jxl_registered = True


@contextmanager
def open_image(data: bytes, source: str, limits: EngineLimits, *, header_only: bool = False) -> Iterator[Image.Image]:
    """The image of `data`, its size checked against the limit. `header_only`: the caller reads the size and
    metadata but no pixels, so nothing is decoded ahead of time (the libvips PNG path decodes eagerly)."""
    if source in ("heic", "heif"):
        register_heif()
    elif source == "jxl":
        register_jxl()
    if source == "pam":
        im: Image.Image = readers.read_pam(data, limits)
    elif source == "dng":
        im = readers.read_raw(data, limits)
    elif source == "png" and not header_only and (mode := vips.plain_png_mode(data)) and vips.available():
        im = vips.decode_png(data, mode, limits)
    elif source == "svg":
        im = Image.open(io.BytesIO(svg.rasterise(data, ImageOptions(), limits)), formats=["PNG"])
    else:
        # Only the decoder for the sniffed format may parse the bytes: no plugin probing on hostile input.
        im = Image.open(io.BytesIO(data), formats=[PIL_FORMAT[source]])
    try:
        width, height = im.size
        if width <= 0 or height <= 0:
            raise ConversionFailed("The image has no pixels.")
        if width * height > limits.max_pixels:
            raise ConversionFailed(
                f"The image is {width}x{height} pixels; your plan allows at most {limits.max_pixels:,}."
            )
        yield im
    finally:
        im.close()


def icc_of(im: Image.Image) -> bytes | None:
    icc = im.info.get("icc_profile")
    return icc if isinstance(icc, bytes) and icc else None


def orientation_of(im: Image.Image) -> int:
    try:
        value = im.getexif().get(_ORIENTATION_TAG, 1)
    except Exception:  # a broken EXIF block is no reason to refuse the pixels
        return 1
    return value if isinstance(value, int) and value in TRANSPOSE else 1


def metadata(im: Image.Image, keep: bool) -> Meta:
    if not keep:
        return NO_META
    exif_bytes: bytes | None = None
    flat_bytes: bytes | None = None
    try:
        exif = im.getexif()
        for tag in _STRUCTURE_TAGS & set(exif):
            del exif[tag]
        if _ORIENTATION_TAG in exif:
            exif[_ORIENTATION_TAG] = 1  # the pixels are already upright
        if len(exif):
            exif_bytes = exif.tobytes()
            flat = Image.Exif()
            for tag, value in exif.items():
                if tag not in _SUB_IFD_TAGS:
                    flat[tag] = value
            flat_bytes = flat.tobytes() if len(flat) else None
    except Exception:  # unreadable EXIF is dropped rather than failing the conversion
        exif_bytes = flat_bytes = None
    icc = im.info.get("icc_profile")
    xmp = im.info.get("xmp") or im.info.get("XML:com.adobe.xmp")
    if isinstance(xmp, str):
        xmp = xmp.encode()
    return Meta(
        exif_bytes,
        icc if isinstance(icc, bytes) and icc else None,
        xmp if isinstance(xmp, bytes) else None,
        flat_bytes,
    )
