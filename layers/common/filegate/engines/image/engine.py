"""The image engine: bytes in, bytes out, no AWS and no HTTP (filegate.engines.Engine for images and PDFs).

A photo (JPEG, HEIC, or an 8-bit RGB/RGBA PNG; a wide-gamut ICC profile converted to sRGB there too) made
into a JPEG, WebP or AVIF with its metadata stripped goes through libvips end to end (fast: shrink-on-load,
resize, colour, encode; a HEIC is decoded by libheif first). Pipeline for every other
raster input: sniff → open with only the sniffed decoder (decode: Pillow's plugin, or
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

import io
import math
import threading
import warnings
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, TypeVar

from filegate.engines.image import budget, fast
from filegate.engines.image.limits import EngineLimits
from filegate.engines.image.output import ConversionResult
from filegate.engines.interface import EngineName, Options, Output, Plan, Source, Workspace
from filegate.errors import ApiError, ConversionFailed, UnsupportedConversion
from filegate.formats.options import ImageOptions, parse_quality
from filegate.formats.sniff import sniff
from filegate.formats.table import FORMATS, compress_target, resolve_target
from filegate.tiers import TIERS, Tier

# Pillow's decompression-bomb guard is a module global. We set it to the caller's limit for the duration of
# one call and restore it, under a lock, so one tier's limit never leaks into another call. Pillow's
# conversions in one process are therefore serialised (a Lambda container runs one invocation at a time
# anyway); libvips' (fast) check the header against the limit themselves and take no lock.
_GUARD_LOCK = threading.RLock()

T = TypeVar("T")

# Cold start: what a photo's conversion needs (libvips, fast) is imported with the engine; Pillow and the modules
# of the other paths (raster, compression, pdf, svg, decode, readers) where they are used, so a fresh process
# whose first conversion is a photo loads none of them (tests/bench/bench_cold_start.py, "image engine").


_DEFAULT_LIMITS = EngineLimits.for_tier(TIERS["free"])

# --------------------------------------------------------------------------- public API


def convert(
    data: bytes,
    target: str,
    options: ImageOptions | None = None,
    limits: EngineLimits | None = None,
) -> ConversionResult:
    """Convert `data` (any readable format, sniffed from its bytes) to `target`.

    Raises UnsupportedMediaType (415), UnsupportedConversion / InvalidParameter / ConversionFailed (422);
    never anything else.
    """
    source = sniff(data)
    fmt = resolve_target(source, target)
    opts = options or ImageOptions()
    lim = limits or _DEFAULT_LIMITS
    if FORMATS[source].document:
        from filegate.engines.image.pdf import convert_pdf

        return _guarded(lim, lambda: convert_pdf(data, fmt, opts, lim))
    # Common photos go through libvips end to end (fast); everything else through Pillow (raster).
    quick = _guarded(lim, lambda: fast.convert(data, source, fmt, opts, lim), pillow=False)
    if quick is not None:
        return quick
    from filegate.engines.image.raster import convert_raster

    return _guarded(lim, lambda: convert_raster(data, source, fmt, opts, lim))


def compress(data: bytes, quality: int | str | None = None, limits: EngineLimits | None = None) -> ConversionResult:
    """The same format at a smaller size, metadata stripped (orientation applied first); the input itself
    (`unchanged=True`) when re-encoding cannot make it smaller."""
    q = parse_quality(quality)
    source = compress_target(sniff(data))
    if FORMATS[source].document:
        raise UnsupportedConversion("PDFs are compressed by the PDF tools (filegate.engines.pdf), not as images.")
    lim = limits or _DEFAULT_LIMITS
    from filegate.engines.image.compression import compress_image

    return _guarded(lim, lambda: compress_image(data, source, q, lim))


def probe(data: bytes, limits: EngineLimits | None = None) -> tuple[str, int, int]:
    """(format, width, height) from the header only (PDF: the first page at the render DPI)."""
    source = sniff(data)
    lim = limits or _DEFAULT_LIMITS

    def run() -> tuple[str, int, int]:
        from filegate.engines.image import readers, svg
        from filegate.engines.image.decode import open_image, orientation_of
        from filegate.engines.image.geometry import display_size
        from filegate.engines.image.pdf import PDF_RENDER_DPI, open_pdf

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


# --------------------------------------------------------------------------- file metadata


def image_metadata(data: bytes, fmt: str) -> dict[str, Any]:
    """Width and height as the engine reads them (every image format it takes, SVG and RAW included, from
    the header only), and the page/frame count where Pillow reads the format."""
    try:
        _, width, height = probe(data)
    except ApiError as exc:
        raise ConversionFailed("The image's header could not be read.") from exc
    meta: dict[str, Any] = {"kind": "image", "format": fmt, "width": width, "height": height}
    from filegate.engines.image.decode import PIL_FORMAT

    if fmt in PIL_FORMAT:
        from PIL import Image

        try:
            with Image.open(io.BytesIO(data), formats=[PIL_FORMAT[fmt]]) as image:
                frames = int(getattr(image, "n_frames", 1))
        except Exception:  # the engine read it; a frame count is a detail
            frames = 1
        if frames > 1:
            meta["pages"] = frames
    return meta


def document_metadata(data: bytes) -> dict[str, Any]:
    import pypdfium2

    try:
        document = pypdfium2.PdfDocument(data)
    except pypdfium2.PdfiumError as exc:
        raise ConversionFailed("The PDF could not be read.") from exc
    try:
        return {"kind": "document", "format": "pdf", "pages": len(document)}
    finally:
        document.close()


# --------------------------------------------------------------------------- boundary


@contextmanager
def _pixel_guard(max_pixels: int) -> Iterator[None]:
    from PIL import Image

    with _GUARD_LOCK, warnings.catch_warnings():
        # Past MAX_IMAGE_PIXELS Pillow warns (past twice that it raises): make the warning an error.
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        previous = Image.MAX_IMAGE_PIXELS
        Image.MAX_IMAGE_PIXELS = max_pixels
        try:
            yield
        finally:
            Image.MAX_IMAGE_PIXELS = previous


def _guarded(limits: EngineLimits, work: Callable[[], T], *, pillow: bool = True) -> T:
    """Every failure inside the engine becomes an ApiError with a message that shows no internals. `pillow`:
    the work may decode with Pillow, so its pixel guard is set (libvips checks the header itself: fast)."""
    try:
        if not pillow:
            return work()
        with _pixel_guard(limits.max_pixels):
            return work()
    except ApiError:
        raise
    except MemoryError as exc:
        raise ConversionFailed("The file needs more memory to convert than is available.") from exc
    except Exception as exc:  # any decoder/encoder failure on hostile or corrupt input
        if _is_pillow_bomb(exc):
            raise ConversionFailed(
                f"The image's dimensions exceed your plan's limit of {limits.max_pixels:,} pixels."
            ) from exc
        raise ConversionFailed("The file could not be decoded: it is corrupt, truncated or malformed.") from exc


def _is_pillow_bomb(exc: Exception) -> bool:
    from PIL import Image

    return isinstance(exc, (Image.DecompressionBombError, Image.DecompressionBombWarning))


# --------------------------------------------------------------------------- the engine interface


@dataclass(frozen=True)
class CompressOptions:
    """POST /v1/compress: only a quality (None: the format's default)."""

    quality: int | None = None

    def to_json(self) -> dict[str, object]:
        return {"quality": self.quality}


class ImageEngine:
    """Images and PDFs (filegate.engines.Engine): bytes in memory, run in the request when they fit the
    budget (in a forked child that is killed at the deadline), else by the image worker."""

    name: EngineName = "image"
    reads_memory = True

    def parse_options(
        self, raw: Mapping[str, Any] | None, *, source: str, target: str | None, form: bool = False, field: str = ""
    ) -> ImageOptions | CompressOptions:
        if target is None:
            return CompressOptions(parse_quality((raw or {}).get("quality")))
        if form:
            return ImageOptions.from_form(raw or {})
        return ImageOptions.from_json(raw, prefix=field or "options.")

    def probe(self, source: Source, tier: Tier, workspace: Workspace | None) -> tuple[str, int, int]:
        """(format, width, height) from the header; nothing decoded."""
        return probe(source.read(), EngineLimits.for_tier(tier))

    def plan(self, source_format: str, target: str | None, options: Options, tier: Tier, probe: Any = None) -> Plan:
        output = compress_target(source_format) if target is None else resolve_target(source_format, target)
        seconds = None
        if probe is not None:
            _, width, height = probe
            seconds = budget.estimated_seconds(source_format, width * height, None if target is None else output)
        return Plan(source_format, output, units=1, estimated_seconds=seconds, in_request=True, probe=probe)

    def run(
        self, source: Source, plan: Plan, options: Options, tier: Tier, workspace: Workspace, *, seconds: float | None
    ) -> Output:
        data, limits = source.read(), EngineLimits.for_tier(tier)

        def work() -> ConversionResult:
            if isinstance(options, CompressOptions):
                return compress(data, options.quality, limits)
            assert isinstance(options, ImageOptions)
            return convert(data, plan.target, options, limits)

        result = work() if seconds is None else budget.run_within(work, seconds)
        return Output(result.format, result.content_type, data=result.data)

    def metadata(self, source: Source, workspace: Workspace, probe: Any = None) -> dict[str, Any]:
        if FORMATS[source.format].document:
            return document_metadata(source.read())
        return image_metadata(source.read(), source.format)


ENGINE = ImageEngine()
