"""The conversion matrix: the one source of truth for what the engine reads, writes and accepts.

No imaging imports here, so `GET /v1/formats` and the files function (content types, extensions) can use it
without carrying the imaging layer. tests/unit/conversion converts a real file for every pair it lists.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from filegate.errors import UnsupportedConversion
from filegate.formats import avformats


@dataclass(frozen=True)
class FormatInfo:
    name: str
    content_type: str
    extensions: tuple[str, ...]  # the first is the one used for output file names
    readable: bool
    writable: bool
    document: bool = False  # a paged document (PDF) rather than a raster image
    compressible: bool = False  # POST /v1/compress can re-encode it in the same format
    animated: bool = False  # animation is kept when both source and target are animated formats
    media: bool = False  # audio/video, converted by FFmpeg (see avformats.py)

    @property
    def extension(self) -> str:
        return self.extensions[0]


FORMATS: dict[str, FormatInfo] = {
    f.name: f
    for f in (
        FormatInfo("jpg", "image/jpeg", ("jpg", "jpeg", "jpe", "jfif"), True, True, compressible=True),
        FormatInfo("png", "image/png", ("png",), True, True, compressible=True),
        FormatInfo("webp", "image/webp", ("webp",), True, True, compressible=True, animated=True),
        FormatInfo("gif", "image/gif", ("gif",), True, True, compressible=True, animated=True),
        FormatInfo("bmp", "image/bmp", ("bmp", "dib"), True, True, compressible=True),
        FormatInfo("tiff", "image/tiff", ("tiff", "tif"), True, True, compressible=True),
        FormatInfo("avif", "image/avif", ("avif",), True, True, compressible=True),
        FormatInfo("ico", "image/vnd.microsoft.icon", ("ico",), True, True),
        # HEIC/HEIF are input-only: libheif's HEVC encoder is far too slow for a request path.
        FormatInfo("heic", "image/heic", ("heic",), True, False),
        FormatInfo("heif", "image/heif", ("heif", "hif"), True, False),
        FormatInfo("pdf", "application/pdf", ("pdf",), True, True, document=True),
        # Read-only image formats people send (a designer's PSD, a game texture, a camera's DNG, a logo's SVG),
        # each through a maintained decoder that never runs code from the file (EPS/PS are refused: sniff).
        FormatInfo("jxl", "image/jxl", ("jxl",), True, True),
        FormatInfo("psd", "image/vnd.adobe.photoshop", ("psd",), True, False),
        FormatInfo("tga", "image/x-tga", ("tga", "icb", "vda", "vst"), True, False),
        FormatInfo("jp2", "image/jp2", ("jp2", "j2k", "j2c", "jpf", "jpx"), True, False),
        FormatInfo("dds", "image/vnd-ms.dds", ("dds",), True, False),
        FormatInfo("sgi", "image/sgi", ("sgi", "rgb", "rgba", "bw"), True, False),
        FormatInfo("pcx", "image/vnd.zbrush.pcx", ("pcx",), True, False),
        FormatInfo("icns", "image/icns", ("icns",), True, False),
        FormatInfo("pnm", "image/x-portable-anymap", ("pnm", "pbm", "pgm", "ppm"), True, False),
        FormatInfo("pam", "image/x-portable-arbitrarymap", ("pam",), True, False),
        FormatInfo("xbm", "image/x-xbitmap", ("xbm",), True, False),
        FormatInfo("qoi", "image/qoi", ("qoi",), True, False),
        FormatInfo("dng", "image/x-adobe-dng", ("dng",), True, False),
        FormatInfo("svg", "image/svg+xml", ("svg",), True, False),
        *(
            FormatInfo(m.name, m.content_type, m.extensions, True, m.writable, media=True)
            for m in avformats.MEDIA_FORMATS.values()
        ),
    )
}

IMAGE_OPTIONS = ("quality", "width", "height", "fit", "strip_metadata")
PDF_OPTIONS = (*IMAGE_OPTIONS, "page")
# A PDF page is rendered to a raster; these are the raster targets offered for it.
PDF_RASTER_TARGETS = ("png", "jpg")

_ALIASES = {"jpeg": "jpg", "jpe": "jpg", "jfif": "jpg", "tif": "tiff", "dib": "bmp", "hif": "heif", "jpegxl": "jxl"}
_ALIASES.update({ext: m.name for m in avformats.MEDIA_FORMATS.values() for ext in m.extensions[1:]})


# Pillow's name for each raster format (strings only: this module imports no imaging library).
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


def normalize(name: str) -> str | None:
    """The canonical format name for a client-supplied target (`JPEG`, `tif`…), or None if unknown."""
    key = name.strip().lower().lstrip(".")
    key = _ALIASES.get(key, key)
    return key if key in FORMATS else None


def targets_for(source: str) -> tuple[str, ...]:
    """What `source` converts to, in a stable order."""
    info = FORMATS[source]
    if not info.readable:
        return ()
    if info.document:
        return PDF_RASTER_TARGETS
    if info.media:
        return avformats.media_targets(source)
    images = tuple(f.name for f in FORMATS.values() if f.writable and not f.media)
    return images + avformats.extra_image_targets(source)


# Multi-page raster inputs: `page` picks the page, as for a PDF.
PAGED_RASTERS = frozenset({"tiff"})


def options_for(source: str) -> tuple[str, ...]:
    if FORMATS[source].media:
        return avformats.media_options(source)
    base = PDF_OPTIONS if FORMATS[source].document or source in PAGED_RASTERS else IMAGE_OPTIONS
    if avformats.extra_image_targets(source):  # an animation made into a video takes the video options too
        return tuple(dict.fromkeys((*base, *avformats.TARGET_OPTIONS["video"])))
    return base


def resolve_target(source: str, target: str) -> str:
    """The canonical target for a source, or UnsupportedConversion naming what is possible."""
    canonical = normalize(target)
    allowed = targets_for(source)
    if canonical is None or canonical not in allowed:
        shown = target.strip()[:20] or "(empty)"
        raise UnsupportedConversion(
            f"Converting {source} to {shown} is not supported; {source} converts to: {', '.join(allowed)}."
        )
    return canonical


def kind(fmt: str | None) -> str:
    """What a format holds, for metrics: ``document`` (paged), ``image``, ``audio``, ``video``, or ``unknown``."""
    info = FORMATS.get(normalize(fmt or "") or "")
    if info is None:
        return "unknown"
    if info.media:
        return avformats.MEDIA_FORMATS[info.name].kind
    return "document" if info.document else "image"


def content_type(fmt: str) -> str:
    return FORMATS[fmt].content_type


def extension(fmt: str) -> str:
    return FORMATS[fmt].extension


def formats_document() -> dict[str, Any]:
    """The body of `GET /v1/formats`."""
    return {
        "formats": {
            f.name: {
                "to": list(targets_for(f.name)),
                "options": list(options_for(f.name)),
                "content_type": f.content_type,
                "extensions": list(f.extensions),
                "compress": f.compressible,
            }
            for f in FORMATS.values()
            if f.readable
        }
    }
