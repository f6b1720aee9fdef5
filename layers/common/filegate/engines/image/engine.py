"""The conversion engine: bytes in, bytes out, no AWS and no HTTP.

Pipeline for a raster input: sniff → open with only the sniffed decoder (decode: Pillow's plugin, or
libvips for plain PNGs, LibRaw for DNG, our PAM reader) → check the header's dimensions against the tier's
pixel limit (nothing decoded yet) → JPEG draft (DCT-domain downscale while decoding) → one resample (raster:
resize and cover-crop together) → EXIF orientation applied on the small image → colour (colour: ICC → sRGB
unless the profile is kept) → the target's pixel mode → encode with deliberate per-format settings.
A PDF page is rendered by pdfium (pdf) and an SVG by resvg (svg) straight at the needed scale, then join the
same pipeline. Compress (compression, png) re-encodes in the source's format and never returns more bytes.

Animation: GIF ↔ WebP (and GIF → GIF, WebP → WebP) keep every frame, their durations and the loop
count; every other target gets the first frame. Multi-page TIFF, MPO and APNG give their first image.
"""

from __future__ import annotations

import math
import threading
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TypeVar

from PIL import Image

from filegate.engines.image import readers, svg
from filegate.engines.image.compression import compress_image
from filegate.engines.image.decode import display_size, open_image, orientation_of
from filegate.engines.image.encode import ConversionResult

__all__ = ["ConversionResult", "compress", "convert", "probe"]
from filegate.engines.image.pdf import PDF_RENDER_DPI, convert_pdf, open_pdf
from filegate.engines.image.raster import convert_raster
from filegate.errors import ApiError, ConversionFailed, UnsupportedConversion
from filegate.formats.options import ConversionOptions, EngineLimits, parse_quality
from filegate.formats.sniff import sniff
from filegate.formats.table import FORMATS, resolve_target
from filegate.tiers import TIERS

# Pillow's decompression-bomb guard is a module global. We set it to the caller's limit for the duration of
# one call and restore it, under a lock, so one tier's limit never leaks into another call. Conversions in
# one process are therefore serialised: a Lambda container runs one invocation at a time anyway.
_GUARD_LOCK = threading.RLock()

T = TypeVar("T")


_DEFAULT_LIMITS = EngineLimits.for_tier(TIERS["free"])

# --------------------------------------------------------------------------- public API


def convert(
    data: bytes,
    target: str,
    options: ConversionOptions | None = None,
    limits: EngineLimits | None = None,
) -> ConversionResult:
    """Convert `data` (any readable format, sniffed from its bytes) to `target`.

    Raises UnsupportedMediaType (415), UnsupportedConversion / InvalidParameter / ConversionFailed (422);
    never anything else.
    """
    source = sniff(data)
    fmt = resolve_target(source, target)
    opts = options or ConversionOptions()
    lim = limits or _DEFAULT_LIMITS
    if FORMATS[source].document:
        return _guarded(lim, lambda: convert_pdf(data, fmt, opts, lim))
    return _guarded(lim, lambda: convert_raster(data, source, fmt, opts, lim))


def compress(data: bytes, quality: int | str | None = None, limits: EngineLimits | None = None) -> ConversionResult:
    """The same format at a smaller size, metadata stripped (orientation applied first); the input itself
    (`unchanged=True`) when re-encoding cannot make it smaller."""
    q = parse_quality(quality)
    source = sniff(data)
    if not FORMATS[source].compressible:
        raise UnsupportedConversion(f"Compressing {source} is not supported; convert it instead (see GET /v1/formats).")
    lim = limits or _DEFAULT_LIMITS
    return _guarded(lim, lambda: compress_image(data, source, q, lim))


def probe(data: bytes, limits: EngineLimits | None = None) -> tuple[str, int, int]:
    """(format, width, height) from the header only (PDF: the first page at the render DPI)."""
    source = sniff(data)
    lim = limits or _DEFAULT_LIMITS

    def run() -> tuple[str, int, int]:
        if FORMATS[source].document:
            with open_pdf(data, lim) as pdf:
                w, h = pdf[0].get_size()
                scale = PDF_RENDER_DPI / 72
                return source, max(1, round(w * scale)), max(1, round(h * scale))
        if source == "svg":
            w, h = svg.intrinsic_size(data)
            return source, max(1, math.ceil(w)), max(1, math.ceil(h))
        if source == "dng":
            return source, *readers.raw_size(data)
        with open_image(data, source, lim, header_only=True) as im:
            w, h = display_size(im.size, orientation_of(im))
            return source, w, h

    return _guarded(lim, run)


# --------------------------------------------------------------------------- boundary


@contextmanager
def _pixel_guard(max_pixels: int) -> Iterator[None]:
    with _GUARD_LOCK, warnings.catch_warnings():
        # Past MAX_IMAGE_PIXELS Pillow warns (past twice that it raises): make the warning an error.
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        previous = Image.MAX_IMAGE_PIXELS
        Image.MAX_IMAGE_PIXELS = max_pixels
        try:
            yield
        finally:
            Image.MAX_IMAGE_PIXELS = previous


def _guarded(limits: EngineLimits, work: Callable[[], T]) -> T:
    """Every failure inside the engine becomes an ApiError with a message that shows no internals."""
    try:
        with _pixel_guard(limits.max_pixels):
            return work()
    except ApiError:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise ConversionFailed(
            f"The image's dimensions exceed your plan's limit of {limits.max_pixels:,} pixels."
        ) from exc
    except MemoryError as exc:
        raise ConversionFailed("The file needs more memory to convert than is available.") from exc
    except Exception as exc:  # any decoder/encoder failure on hostile or corrupt input
        raise ConversionFailed("The file could not be decoded: it is corrupt, truncated or malformed.") from exc
