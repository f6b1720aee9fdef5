"""Encoding: pixels to bytes with deliberate per-format settings, and the result the engine returns."""

from __future__ import annotations

import io
from typing import Any

from PIL import Image

from filegate.engines.image.decode import PIL_FORMAT, Meta, register_jxl
from filegate.engines.image.output import (
    AVIF_SPEED,
    COMPRESS_DEFAULT_QUALITY,
    DEFAULT_QUALITY,
    JXL_EFFORT,
    PDF_MAX_PAGE_POINTS,
    WEBP_COMPRESS_SLOW_METHOD_MAX_PIXELS,
    WEBP_METHOD_COMPRESS,
    WEBP_METHOD_CONVERT,
    ConversionResult,
    result,
)
from filegate.formats.table import FORMATS

# Re-exported: callers of the encoder (the PDF tools too) import the result and the settings from here.
__all__ = [
    "COMPRESS_DEFAULT_QUALITY",
    "DEFAULT_QUALITY",
    "WEBP_METHOD_COMPRESS",
    "ConversionResult",
    "encode",
    "result",
]


def encode(
    im: Image.Image,
    target: str,
    quality: int | None,
    meta: Meta,
    *,
    frames: list[Image.Image] | None = None,
    durations: list[int] | None = None,
    loop: int = 0,
    for_compress: bool = False,
) -> bytes:
    # Metadata goes only through explicit keyword arguments: the working image's `info` is cleared so no
    # plugin falls back to the source's EXIF/ICC/XMP/text chunks.
    for image in (im, *(frames or ())):
        image.info = {k: image.info[k] for k in ("transparency",) if k in image.info}
    kw: dict[str, Any] = {}
    q = quality or (COMPRESS_DEFAULT_QUALITY if for_compress else DEFAULT_QUALITY).get(target, 85)
    if target == "jpg":
        kw.update(quality=q, optimize=True, progressive=for_compress)
        _put(kw, exif=meta.exif, icc_profile=meta.icc, xmp=meta.xmp)
    elif target == "png":
        kw.update(compress_level=6)  # compress optimises PNG with oxipng instead (png.py)
        _put(kw, exif=meta.exif, icc_profile=meta.icc)
    elif target == "webp":
        slow_ok = for_compress and im.width * im.height <= WEBP_COMPRESS_SLOW_METHOD_MAX_PIXELS
        kw.update(quality=q, method=WEBP_METHOD_COMPRESS if slow_ok else WEBP_METHOD_CONVERT)
        _put(kw, exif=meta.exif, icc_profile=meta.icc, xmp=meta.xmp)
    elif target == "jxl":
        register_jxl()
        # exif=b"" explicitly: the plugin falls back to the source image's own EXIF when none is given.
        kw.update(quality=q, effort=JXL_EFFORT, exif=meta.exif or b"", xmp=meta.xmp)
    elif target == "avif":
        kw.update(quality=q, speed=AVIF_SPEED)
        _put(kw, exif=meta.exif, icc_profile=meta.icc, xmp=meta.xmp)
    elif target == "tiff":
        kw.update(compression="tiff_adobe_deflate")
        _put(kw, exif=meta.exif_flat, icc_profile=meta.icc)
    elif target == "gif":
        kw.update(optimize=for_compress)
    elif target == "ico":
        kw.update(sizes=[im.size])
    elif target == "pdf":
        # Pixels become points at 72 dpi, raised so the page stays within the PDF spec's 200-inch limit.
        dpi = max(72.0, max(im.size) * 72 / PDF_MAX_PAGE_POINTS)
        kw.update(resolution=dpi)
        if im.mode != "1":  # bilevel pages are written with CCITT G4, which takes no quality
            kw.update(quality=q)
    if frames:
        kw.update(save_all=True, append_images=frames, duration=durations, loop=loop)
        if target == "gif":
            kw.update(disposal=2)  # frames are fully composited: clear, then draw the next
    buf = io.BytesIO()
    im.save(buf, format=PIL_SAVE[target], **kw)
    return buf.getvalue()


PIL_SAVE = {
    name: "PDF" if name == "pdf" else PIL_FORMAT[name]
    for name, f in FORMATS.items()
    if f.writable and not f.media and not f.office
}


def _put(kw: dict[str, Any], **values: bytes | None) -> None:
    kw.update({k: v for k, v in values.items() if v})
