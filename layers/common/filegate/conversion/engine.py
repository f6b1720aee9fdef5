"""The conversion engine: bytes in, bytes out, no AWS and no HTTP.

Pipeline for a raster input: sniff → open with only the sniffed decoder → check the header's dimensions
against the tier's pixel limit (nothing decoded yet) → JPEG draft (DCT-domain downscale while decoding) →
one resample (resize and cover-crop together) → EXIF orientation applied on the small image → colour
(ICC → sRGB when stripping) → the target's pixel mode → encode with deliberate per-format settings.
A PDF page is rendered by pdfium straight at the needed scale, then joins the same pipeline.

Animation: GIF ↔ WebP (and GIF → GIF, WebP → WebP) keep every frame, their durations and the loop
count; every other target gets the first frame. Multi-page TIFF, MPO and APNG give their first image.
"""

from __future__ import annotations

import io
import math
import threading
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any, TypeVar

from PIL import Image, ImageFile, ImageSequence

from filegate.conversion.colour import to_srgb
from filegate.conversion.options import ConversionOptions, EngineLimits, parse_quality
from filegate.errors import ApiError, ConversionFailed, InvalidParameter, UnsupportedConversion
from filegate.media.formats import FORMATS, PIL_FORMAT, content_type, extension, resolve_target
from filegate.media.sniff import sniff
from filegate.tiers import TIERS

if TYPE_CHECKING:
    import pypdfium2 as pdfium

# pillow-heif and pypdfium2 are loaded on first use: most calls need neither, and each costs start-up
# time and resident memory (libheif, libpdfium) in a fresh Lambda.
_heif_registered = False


def _register_heif() -> None:
    global _heif_registered
    if not _heif_registered:
        import pillow_heif

        pillow_heif.register_heif_opener(thumbnails=False)  # decoding only; we never write HEIF
        _heif_registered = True


_ANIMATED = {name for name, f in FORMATS.items() if f.animated}

DEFAULT_QUALITY = {"jpg": 85, "webp": 80, "avif": 60, "pdf": 85}
COMPRESS_DEFAULT_QUALITY = {"jpg": 80, "webp": 75, "avif": 55}
# libwebp `method` 0..6 (tests/bench/bench_engine.py, 12 MP, q80): 4 took 1.1 s vs 3.6 s for 6 with 0-4%
# larger files; 2 took 0.5 s but ~12% larger on smooth content. Convert is latency-bound: 4. Compress is
# size-bound: 6.
WEBP_METHOD_CONVERT = 4
WEBP_METHOD_COMPRESS = 6
# libavif speed 0..10: at 1600x1200, 6 took 0.2-0.3 s and 8 took 0.08-0.09 s for ~6% more bytes.
AVIF_SPEED = 8
PDF_RENDER_DPI = 150
PDF_MAX_RENDER_SIDE = 30_000  # a 200-inch page (the spec's maximum) at 150 dpi
ICO_MAX_SIDE = 256
PDF_MAX_PAGE_POINTS = 14_400  # the PDF spec's page size limit (200 in) for images we wrap in a PDF
_MAX_SIDE = {"jpg": 65_500, "webp": 16_383, "gif": 65_535, "avif": 65_536, "ico": ICO_MAX_SIDE}
_ORIENTATION_TAG = 0x0112
_TRANSPOSE = {
    2: Image.Transpose.FLIP_LEFT_RIGHT,
    3: Image.Transpose.ROTATE_180,
    4: Image.Transpose.FLIP_TOP_BOTTOM,
    5: Image.Transpose.TRANSPOSE,
    6: Image.Transpose.ROTATE_270,
    7: Image.Transpose.TRANSVERSE,
    8: Image.Transpose.ROTATE_90,
}
_WHITE = (255, 255, 255)

# Pillow's decompression-bomb guard is a module global. We set it to the caller's limit for the duration of
# one call and restore it, under a lock, so one tier's limit never leaks into another call. Conversions in
# one process are therefore serialised: a Lambda container runs one invocation at a time anyway.
_GUARD_LOCK = threading.RLock()

T = TypeVar("T")


@dataclass(frozen=True)
class ConversionResult:
    data: bytes
    format: str
    content_type: str
    extension: str
    width: int
    height: int
    unchanged: bool = False  # compress: the input could not get smaller and is returned as it was


@dataclass(frozen=True)
class _Meta:
    exif: bytes | None
    icc: bytes | None
    xmp: bytes | None
    exif_flat: bytes | None = None  # without sub-IFD pointers, for TIFF (Pillow cannot write those there)


_NO_META = _Meta(None, None, None)
# TIFF structure tags describe the source's pixel layout: meaningless (or harmful) on a new image.
_STRUCTURE_TAGS = frozenset(
    {254, 255, 256, 257, 258, 259, 262, 263, 266, 273, 277, 278, 279, 280, 281, 284, 317, 320, 322, 323}
    | {324, 325, 338, 339, 340, 341, 513, 514, 530, 531, 532}
)
_SUB_IFD_TAGS = frozenset({0x8769, 0x8825, 0xA005})


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
        return _guarded(lim, lambda: _convert_pdf(data, fmt, opts, lim))
    return _guarded(lim, lambda: _convert_raster(data, source, fmt, opts, lim))


def compress(data: bytes, quality: int | str | None = None, limits: EngineLimits | None = None) -> ConversionResult:
    """The same format at a smaller size, metadata stripped (orientation applied first); the input itself
    (`unchanged=True`) when re-encoding cannot make it smaller."""
    q = parse_quality(quality)
    source = sniff(data)
    if not FORMATS[source].compressible:
        raise UnsupportedConversion(f"Compressing {source} is not supported; convert it instead (see GET /v1/formats).")
    lim = limits or _DEFAULT_LIMITS
    return _guarded(lim, lambda: _compress(data, source, q, lim))


def probe(data: bytes, limits: EngineLimits | None = None) -> tuple[str, int, int]:
    """(format, width, height) from the header only (PDF: the first page at the render DPI)."""
    source = sniff(data)
    lim = limits or _DEFAULT_LIMITS

    def run() -> tuple[str, int, int]:
        if FORMATS[source].document:
            with _open_pdf(data, lim) as pdf:
                w, h = pdf[0].get_size()
                scale = PDF_RENDER_DPI / 72
                return source, max(1, round(w * scale)), max(1, round(h * scale))
        with _open_image(data, source, lim) as im:
            w, h = _display_size(im.size, _orientation(im))
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


# --------------------------------------------------------------------------- decoding


@contextmanager
def _open_image(data: bytes, source: str, limits: EngineLimits) -> Iterator[ImageFile.ImageFile]:
    if source in ("heic", "heif"):
        _register_heif()
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


def _icc(im: Image.Image) -> bytes | None:
    icc = im.info.get("icc_profile")
    return icc if isinstance(icc, bytes) and icc else None


def _orientation(im: Image.Image) -> int:
    try:
        value = im.getexif().get(_ORIENTATION_TAG, 1)
    except Exception:  # a broken EXIF block is no reason to refuse the pixels
        return 1
    return value if isinstance(value, int) and value in _TRANSPOSE else 1


def _display_size(size: tuple[int, int], orientation: int) -> tuple[int, int]:
    return (size[1], size[0]) if orientation in (5, 6, 7, 8) else size


def _metadata(im: Image.Image, keep: bool) -> _Meta:
    if not keep:
        return _NO_META
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
    return _Meta(
        exif_bytes,
        icc if isinstance(icc, bytes) and icc else None,
        xmp if isinstance(xmp, bytes) else None,
        flat_bytes,
    )


# --------------------------------------------------------------------------- geometry


@dataclass(frozen=True)
class _Plan:
    size: tuple[int, int]  # output size, display orientation
    cover: bool  # crop the centre to exactly `size`


def _plan(display: tuple[int, int], opts: ConversionOptions, target: str, limits: EngineLimits) -> _Plan:
    w0, h0 = display
    width, height = opts.width, opts.height
    cover = False
    if width and height:
        if opts.fit == "cover":
            size, cover = (width, height), True
        else:
            s = min(width / w0, height / h0)
            size = (max(1, round(w0 * s)), max(1, round(h0 * s)))
    elif width:
        size = (width, max(1, round(h0 * width / w0)))
    elif height:
        size = (max(1, round(w0 * height / h0)), height)
    else:
        size = display
    if target == "ico" and max(size) > ICO_MAX_SIDE:
        # An icon is at most 256x256: shrink to fit, keeping the aspect ratio (and any cover crop).
        s = ICO_MAX_SIDE / max(size)
        size = (max(1, round(size[0] * s)), max(1, round(size[1] * s)))
    if size[0] * size[1] > limits.max_pixels:
        field = "width" if width else "height"
        raise InvalidParameter(
            f"{field}: the output would be {size[0]}x{size[1]} pixels, over your plan's limit of {limits.max_pixels:,}."
        )
    side = _MAX_SIDE.get(target)
    if side is not None and max(size) > side:
        raise ConversionFailed(
            f"{target} images are at most {side} pixels on a side and this one would be "
            f"{size[0]}x{size[1]}; pass width or height to shrink it."
        )
    return _Plan(size, cover)


def _resize(im: Image.Image, size: tuple[int, int], cover: bool) -> Image.Image:
    """One resample to `size` (stored orientation); `cover` crops the centre so the aspect ratio holds."""
    w, h = im.size
    if (w, h) == size:
        return im
    if im.mode in ("1", "P", "PA"):
        # Pillow resamples palette images with NEAREST only: resample in a full-colour mode instead.
        im = im.convert("RGBA" if _has_alpha(im) else ("L" if im.mode == "1" else "RGB"))
    box: tuple[float, float, float, float] | None = None
    if cover:
        s = max(size[0] / w, size[1] / h)
        cw, ch = size[0] / s, size[1] / s
        box = ((w - cw) / 2, (h - ch) / 2, (w + cw) / 2, (h + ch) / 2)
    # reducing_gap: an integer box-reduce first, then Lanczos over the rest: near-identical, much faster.
    return im.resize(size, Image.Resampling.LANCZOS, box=box, reducing_gap=3.0)


def _stored(size: tuple[int, int], orientation: int) -> tuple[int, int]:
    return (size[1], size[0]) if orientation in (5, 6, 7, 8) else size


# --------------------------------------------------------------------------- pixel modes


def _has_alpha(im: Image.Image) -> bool:
    return im.mode in ("RGBA", "LA", "PA", "La", "RGBa") or "transparency" in im.info


def _to_8bit(im: Image.Image) -> Image.Image:
    """16-bit / 32-bit / float greyscale to 8-bit L, scaling rather than clipping."""
    i = im.convert("I") if im.mode != "F" else im
    _low, high = i.getextrema()
    if isinstance(high, (int, float)) and high > 255:
        scale = 255 / 65535 if high <= 65535 else 255 / float(high)
        i = i.point(lambda v: v * scale)
    return i.convert("L")


def _normalize(im: Image.Image, keep_palette: bool) -> Image.Image:
    """A working mode: L, LA, RGB, RGBA (or P / 1 kept as they are when nothing resamples)."""
    mode = im.mode
    if mode in ("RGB", "RGBA", "L", "LA"):
        if "transparency" in im.info and mode in ("RGB", "L"):
            return im.convert("RGBA")
        return im
    if mode in ("P", "1") and keep_palette:
        return im
    if mode in ("I", "F") or mode.startswith("I;16"):
        return _to_8bit(im)
    if mode == "CMYK":
        return im  # the colour step converts it (through its ICC profile when there is one)
    return im.convert("RGBA" if _has_alpha(im) else "RGB")


def _flatten(im: Image.Image) -> Image.Image:
    """Alpha composited over white, for targets without transparency (JPEG, PDF)."""
    if not _has_alpha(im):
        return im
    rgba = im.convert("RGBA")
    background = Image.new("RGB", rgba.size, _WHITE)
    background.paste(rgba, mask=rgba.getchannel("A"))
    return background


def _for_target(im: Image.Image, target: str) -> Image.Image:
    mode = im.mode
    if target in ("jpg", "pdf"):
        if _has_alpha(im):
            im = _flatten(im)
            return im.convert("L") if mode in ("LA", "La") else im
        if target == "jpg" and mode in ("L", "RGB", "CMYK"):
            return im
        if target == "pdf" and mode in ("L", "RGB", "1"):
            return im
        return im.convert("RGB")
    if target in ("webp", "avif"):
        if mode in ("RGB", "RGBA"):
            return im
        return im.convert("RGBA" if _has_alpha(im) else "RGB")
    if target == "ico":
        return im if mode == "RGBA" else im.convert("RGBA")
    if target == "gif":
        if mode in ("P", "L", "1"):
            return im
        if mode == "RGBA":
            return _quantize_rgba(im)
        rgb = im.convert("RGB") if mode != "RGB" else im
        return rgb.quantize(colors=256, method=Image.Quantize.MEDIANCUT, dither=Image.Dither.FLOYDSTEINBERG)
    if target == "bmp":
        return im if mode in ("1", "L", "P", "RGB", "RGBA") else im.convert("RGBA" if _has_alpha(im) else "RGB")
    if target in ("png", "tiff"):
        if target == "tiff" and "transparency" in im.info and mode in ("P", "L", "RGB"):
            return im.convert("RGBA")  # TIFF has no colour-key transparency
        return im if mode in ("1", "L", "LA", "P", "RGB", "RGBA") else im.convert("RGBA")
    return im


def _quantize_rgba(im: Image.Image) -> Image.Image:
    """RGBA to a 255-colour palette plus one fully transparent index (GIF has 1-bit transparency)."""
    alpha = im.getchannel("A")
    if alpha.getextrema()[0] == 255:
        return im.convert("RGB")
    rgb = Image.new("RGB", im.size, _WHITE)
    rgb.paste(im, mask=alpha)
    pal = rgb.quantize(colors=255, method=Image.Quantize.MEDIANCUT, dither=Image.Dither.FLOYDSTEINBERG)
    colours = pal.getpalette() or []
    pal.putpalette((colours + [0] * 768)[:768])  # index 255 must exist: it becomes the transparent one
    mask = alpha.point(lambda a: 255 if a < 128 else 0)
    pal.paste(255, mask=mask)
    pal.info["transparency"] = 255
    return pal


# --------------------------------------------------------------------------- encoding


def _encode(
    im: Image.Image,
    target: str,
    quality: int | None,
    meta: _Meta,
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
        kw.update(optimize=True) if for_compress else kw.update(compress_level=6)
        _put(kw, exif=meta.exif, icc_profile=meta.icc)
    elif target == "webp":
        kw.update(quality=q, method=WEBP_METHOD_COMPRESS if for_compress else WEBP_METHOD_CONVERT)
        _put(kw, exif=meta.exif, icc_profile=meta.icc, xmp=meta.xmp)
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
        kw.update(quality=q, resolution=dpi)
    if frames:
        kw.update(save_all=True, append_images=frames, duration=durations, loop=loop)
        if target == "gif":
            kw.update(disposal=2)  # frames are fully composited: clear, then draw the next
    buf = io.BytesIO()
    im.save(buf, format=_PIL_SAVE[target], **kw)
    return buf.getvalue()


_PIL_SAVE = {**{k: v for k, v in PIL_FORMAT.items() if k not in ("heic", "heif")}, "pdf": "PDF"}


def _put(kw: dict[str, Any], **values: bytes | None) -> None:
    kw.update({k: v for k, v in values.items() if v})


# --------------------------------------------------------------------------- raster conversion


def _convert_raster(
    data: bytes, source: str, target: str, opts: ConversionOptions, limits: EngineLimits
) -> ConversionResult:
    with _open_image(data, source, limits) as im:
        orientation = _orientation(im)
        meta = _metadata(im, keep=not opts.strip_metadata)
        if not _keeps_profile(im.mode, target, opts.strip_metadata):
            meta = replace(meta, icc=None)  # the pixels are converted to sRGB instead
        if source in _ANIMATED and target in _ANIMATED and getattr(im, "is_animated", False):
            return _convert_animated(im, target, opts, limits)
        plan = _plan(_display_size(im.size, orientation), opts, target, limits)
        stored = _stored(plan.size, orientation)
        if im.format == "JPEG" and stored[0] < im.size[0] and stored[1] < im.size[1]:
            # Decode at 1/2, 1/4 or 1/8 scale in the DCT domain, never below the size we need.
            need = stored
            if plan.cover:
                s = max(stored[0] / im.size[0], stored[1] / im.size[1])
                need = (math.ceil(im.size[0] * s), math.ceil(im.size[1] * s))
            im.draft(None, need)
        # Decode now: saving an image opened from a buffer before its pixels are loaded copies the frame.
        im.load()
        work = _process(im, stored, plan.cover, orientation, target, opts.strip_metadata, _icc(im))
        try:
            out = _encode(work, target, opts.quality, meta)
        except Exception:
            if meta == _NO_META:
                raise
            out = _encode(work, target, opts.quality, _NO_META)  # the source's metadata would not encode
    return _result(out, target, work.size)


# Targets whose writer embeds an ICC profile.
_CARRIES_ICC = frozenset({"jpg", "png", "webp", "avif", "tiff", "jxl"})


def _keeps_profile(mode: str, target: str, strip: bool) -> bool:
    """The source's profile goes with its pixels only when asked (strip_metadata=false) and when the target
    can carry it for those pixels (a CMYK profile only to CMYK JPEG); otherwise the pixels become sRGB."""
    if strip or target not in _CARRIES_ICC:
        return False
    return target == "jpg" if mode == "CMYK" else True


def _process(
    im: Image.Image,
    stored: tuple[int, int],
    cover: bool,
    orientation: int,
    target: str,
    strip: bool,
    icc: bytes | None,
) -> Image.Image:
    resizing = im.size != stored
    work = _normalize(im, keep_palette=not resizing)
    work = _resize(work, stored, cover)
    if orientation != 1:
        work = work.transpose(_TRANSPOSE[orientation])
    if not _keeps_profile(work.mode, target, strip):
        work = to_srgb(work, icc)
    work = _for_target(work, target)
    if hasattr(work, "tag_v2"):
        # Never hand a TIFF decoder's own object to an encoder: the TIFF writer copies XMP/IPTC tags from it.
        work = work.copy()
    return work


def _convert_animated(
    im: ImageFile.ImageFile, target: str, opts: ConversionOptions, limits: EngineLimits
) -> ConversionResult:
    plan = _plan(im.size, opts, target, limits)
    frames: list[Image.Image] = []
    durations: list[int] = []
    decoded = 0
    for index, frame in enumerate(ImageSequence.Iterator(im)):
        if index >= limits.max_frames:
            raise ConversionFailed(f"The animation has more than {limits.max_frames} frames.")
        decoded += frame.size[0] * frame.size[1]
        # Decoding is bounded by 4x the pixel limit, what we hold in memory (the output frames) by 1x.
        if decoded > 4 * limits.max_pixels or (index + 1) * plan.size[0] * plan.size[1] > limits.max_pixels:
            raise ConversionFailed(f"The animation exceeds your plan's limit of {limits.max_pixels:,} pixels.")
        rgba = frame.convert("RGBA")
        out = _for_target(_resize(rgba, plan.size, plan.cover), target)
        frames.append(out)
        durations.append(int(frame.info.get("duration", 100)) or 100)
    loop = int(im.info.get("loop", 0))
    data = _encode(
        frames[0], target, opts.quality, _NO_META,
        frames=frames[1:], durations=durations, loop=loop,
    )  # fmt: skip
    return _result(data, target, plan.size)


# --------------------------------------------------------------------------- PDF input


@contextmanager
def _open_pdf(data: bytes, limits: EngineLimits) -> Iterator[pdfium.PdfDocument]:
    import pypdfium2 as pdfium

    try:
        pdf = pdfium.PdfDocument(data)
    except pdfium.PdfiumError as exc:
        raise ConversionFailed("The PDF could not be read: it is corrupt, truncated or encrypted.") from exc
    try:
        pages = len(pdf)
        if pages == 0:
            raise ConversionFailed("The PDF has no pages.")
        if pages > limits.max_pdf_pages:
            raise ConversionFailed(f"The PDF has {pages} pages; your plan allows at most {limits.max_pdf_pages}.")
        yield pdf
    finally:
        pdf.close()


def _convert_pdf(data: bytes, target: str, opts: ConversionOptions, limits: EngineLimits) -> ConversionResult:
    with _open_pdf(data, limits) as pdf:
        pages = len(pdf)
        if opts.page > pages:
            raise InvalidParameter(f"page must be from 1 to {pages} for this PDF.")
        page = pdf[opts.page - 1]
        try:
            width_pt, height_pt = page.get_size()  # points, with the page's /Rotate applied
            if not (math.isfinite(width_pt) and math.isfinite(height_pt)) or width_pt <= 0 or height_pt <= 0:
                raise ConversionFailed("The PDF page has no area.")
            scale = _render_scale(width_pt, height_pt, opts, limits)
            bitmap = page.render(scale=scale, fill_color=(255, 255, 255, 255), may_draw_forms=True)
            try:
                rendered = bitmap.to_pil()
                rendered = rendered.convert("RGB") if rendered.mode != "RGB" else rendered.copy()
            finally:
                bitmap.close()
        finally:
            page.close()
    plan = _plan(rendered.size, opts, target, limits)
    work = _for_target(_resize(rendered, plan.size, plan.cover), target)
    return _result(_encode(work, target, opts.quality, _NO_META), target, work.size)


def _render_scale(width_pt: float, height_pt: float, opts: ConversionOptions, limits: EngineLimits) -> float:
    """Render straight at the requested size (sharp text, no second resample), else at PDF_RENDER_DPI;
    always within the render pixel cap, whatever the page size claims."""
    scale = PDF_RENDER_DPI / 72
    if opts.width and opts.height:
        ratios = (opts.width / width_pt, opts.height / height_pt)
        scale = max(ratios) if opts.fit == "cover" else min(ratios)
    elif opts.width:
        scale = opts.width / width_pt
    elif opts.height:
        scale = opts.height / height_pt
    cap = min(limits.max_render_pixels, limits.max_pixels)
    if width_pt * height_pt * scale * scale > cap:
        scale = math.sqrt(cap / (width_pt * height_pt))
    scale = min(scale, PDF_MAX_RENDER_SIDE / max(width_pt, height_pt))
    if min(width_pt, height_pt) * scale < 1:
        raise ConversionFailed("The PDF page's proportions are too extreme to render.")
    return scale


# --------------------------------------------------------------------------- compress


def _compress(data: bytes, source: str, quality: int | None, limits: EngineLimits) -> ConversionResult:
    with _open_image(data, source, limits) as im:
        orientation = _orientation(im)
        display = _display_size(im.size, orientation)
        animated = getattr(im, "is_animated", False)
        if animated and source in _ANIMATED:
            out = _compress_animated(im, source, quality, limits)
        elif animated or (source == "tiff" and getattr(im, "n_frames", 1) > 1):
            # APNG, MPO, multi-page TIFF: re-encoding only the first image would lose content.
            out = data
        else:
            out = _compress_still(im, data, source, quality, orientation)
    if len(out) >= len(data):
        return _result(data, source, display, unchanged=True)
    return _result(out, source, display)


def _compress_still(im: ImageFile.ImageFile, data: bytes, source: str, quality: int | None, orientation: int) -> bytes:
    icc = _icc(im)
    lossless_webp = source == "webp" and quality is None and _webp_is_lossless(data)
    work = _normalize(im, keep_palette=True)
    work.load()
    if orientation != 1:
        work = work.transpose(_TRANSPOSE[orientation])
    work = to_srgb(work, icc)
    if source in ("png", "bmp", "tiff", "gif") and work.mode in ("RGB", "L", "RGBA"):
        work = _palette_if_few_colours(work) if quality is None or source != "png" else _lossy_palette(work)
    work = _for_target(work, source)
    if hasattr(work, "tag_v2"):
        work = work.copy()
    if lossless_webp:
        buf = io.BytesIO()
        work.save(buf, format="WEBP", lossless=True, quality=100, method=WEBP_METHOD_COMPRESS)
        return buf.getvalue()
    return _encode(work, source, quality, _NO_META, for_compress=True)


def _compress_animated(im: ImageFile.ImageFile, source: str, quality: int | None, limits: EngineLimits) -> bytes:
    frames: list[Image.Image] = []
    durations: list[int] = []
    decoded = 0
    for index, frame in enumerate(ImageSequence.Iterator(im)):
        decoded += frame.size[0] * frame.size[1]
        if index >= limits.max_frames or decoded > limits.max_pixels:
            raise ConversionFailed(f"The animation exceeds your plan's limit of {limits.max_pixels:,} pixels.")
        frames.append(_for_target(frame.convert("RGBA"), source))
        durations.append(int(frame.info.get("duration", 100)) or 100)
    return _encode(
        frames[0], source, quality, _NO_META,
        frames=frames[1:], durations=durations, loop=int(im.info.get("loop", 0)), for_compress=True,
    )  # fmt: skip


def _webp_is_lossless(data: bytes) -> bool:
    """A still WebP whose bitstream is VP8L (lossless): re-encode it losslessly, never lossy by surprise."""
    chunk = data[12:16]
    return chunk == b"VP8L" or (chunk == b"VP8X" and b"VP8L" in data[30:4096] and b"VP8 " not in data[30:4096])


def _palette_if_few_colours(im: Image.Image) -> Image.Image:
    """Losslessly to a palette when the image has at most 256 colours (exact match, no dithering)."""
    if im.mode not in ("RGB", "L"):
        return im
    colours = im.getcolors(256)
    if colours is None or im.mode == "L":
        return im
    palette = Image.new("P", (1, 1))
    flat: list[int] = []
    for _count, rgb in colours:
        assert isinstance(rgb, tuple)
        flat.extend(rgb[:3])
    palette.putpalette(flat + flat[:3] * (256 - len(colours)))
    return im.quantize(palette=palette, dither=Image.Dither.NONE)


def _lossy_palette(im: Image.Image) -> Image.Image:
    """PNG with an explicit quality: 256-colour quantisation (what pngquant-style tools do)."""
    if im.mode == "RGBA":
        return im.quantize(colors=256, method=Image.Quantize.FASTOCTREE, dither=Image.Dither.FLOYDSTEINBERG)
    if im.mode == "RGB":
        return im.quantize(colors=256, method=Image.Quantize.MEDIANCUT, dither=Image.Dither.FLOYDSTEINBERG)
    return im


def _result(data: bytes, fmt: str, size: tuple[int, int], *, unchanged: bool = False) -> ConversionResult:
    return ConversionResult(
        data=data,
        format=fmt,
        content_type=content_type(fmt),
        extension=extension(fmt),
        width=size[0],
        height=size[1],
        unchanged=unchanged,
    )
