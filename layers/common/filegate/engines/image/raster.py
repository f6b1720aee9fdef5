"""Raster conversion: geometry (one resample), pixel modes, colour, animation."""

from __future__ import annotations

import math
from dataclasses import replace

from PIL import Image, ImageSequence

from filegate.engines.image import svg
from filegate.engines.image.colour import to_srgb
from filegate.engines.image.decode import NO_META, TRANSPOSE, icc_of, metadata, open_image, orientation_of
from filegate.engines.image.encode import ConversionResult, encode, result
from filegate.engines.image.geometry import display_size, plan_output, stored_size
from filegate.engines.image.limits import EngineLimits, check_pixels
from filegate.errors import ConversionFailed, InvalidParameter
from filegate.formats.options import ImageOptions
from filegate.formats.table import FORMATS, PAGED_RASTERS

ANIMATED = {name for name, f in FORMATS.items() if f.animated}

_WHITE = (255, 255, 255)


def resize(im: Image.Image, size: tuple[int, int], cover: bool) -> Image.Image:
    """One resample to `size` (stored orientation); `cover` crops the centre so the aspect ratio holds."""
    w, h = im.size
    if (w, h) == size:
        return im
    if im.mode in ("1", "P", "PA"):
        # Pillow resamples palette images with NEAREST only: resample in a full-colour mode instead.
        im = im.convert("RGBA" if has_alpha(im) else ("L" if im.mode == "1" else "RGB"))
    box: tuple[float, float, float, float] | None = None
    if cover:
        s = max(size[0] / w, size[1] / h)
        cw, ch = size[0] / s, size[1] / s
        box = ((w - cw) / 2, (h - ch) / 2, (w + cw) / 2, (h + ch) / 2)
    # reducing_gap: an integer box-reduce first, then Lanczos over the rest: near-identical, much faster.
    return im.resize(size, Image.Resampling.LANCZOS, box=box, reducing_gap=3.0)


def has_alpha(im: Image.Image) -> bool:
    return im.mode in ("RGBA", "LA", "PA", "La", "RGBa") or "transparency" in im.info


def _to_8bit(im: Image.Image) -> Image.Image:
    """16-bit / 32-bit / float greyscale to 8-bit L, scaling rather than clipping."""
    i = im.convert("I") if im.mode != "F" else im
    _low, high = i.getextrema()
    if isinstance(high, (int, float)) and high > 255:
        scale = 255 / 65535 if high <= 65535 else 255 / float(high)
        i = i.point(lambda v: v * scale)
    return i.convert("L")


def normalize(im: Image.Image, keep_palette: bool) -> Image.Image:
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
    return im.convert("RGBA" if has_alpha(im) else "RGB")


def _flatten(im: Image.Image) -> Image.Image:
    """Alpha composited over white, for targets without transparency (JPEG, PDF)."""
    if not has_alpha(im):
        return im
    rgba = im.convert("RGBA")
    background = Image.new("RGB", rgba.size, _WHITE)
    background.paste(rgba, mask=rgba.getchannel("A"))
    return background


def for_target(im: Image.Image, target: str) -> Image.Image:
    mode = im.mode
    if target in ("jpg", "pdf"):
        if has_alpha(im):
            im = _flatten(im)
            return im.convert("L") if mode in ("LA", "La") else im
        if target == "jpg" and mode in ("L", "RGB", "CMYK"):
            return im
        if target == "pdf" and mode in ("L", "RGB", "1"):
            return im
        return im.convert("RGB")
    if target in ("webp", "avif", "jxl"):
        if mode in ("RGB", "RGBA") or (target == "jxl" and mode in ("L", "LA")):
            return im
        return im.convert("RGBA" if has_alpha(im) else "RGB")
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
        return im if mode in ("1", "L", "P", "RGB", "RGBA") else im.convert("RGBA" if has_alpha(im) else "RGB")
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


def convert_raster(data: bytes, source: str, target: str, opts: ImageOptions, limits: EngineLimits) -> ConversionResult:
    if source == "svg":  # rendered straight at the asked size, then on through the raster pipeline
        data, source = svg.rasterise(data, opts, limits), "png"
    with open_image(data, source, limits) as im:
        if source in PAGED_RASTERS:
            _seek_page(im, opts.page, limits)
        orientation = orientation_of(im)
        meta = metadata(im, keep=not opts.strip_metadata)
        if not _keeps_profile(im.mode, target, opts.strip_metadata):
            meta = replace(meta, icc=None)  # the pixels are converted to sRGB instead
        if source in ANIMATED and target in ANIMATED and getattr(im, "is_animated", False):
            return _convert_animated(im, target, opts, limits)
        plan = plan_output(display_size(im.size, orientation), opts, target, limits)
        stored = stored_size(plan.size, orientation)
        if im.format == "JPEG" and stored[0] < im.size[0] and stored[1] < im.size[1]:
            # Decode at 1/2, 1/4 or 1/8 scale in the DCT domain, never below the size we need.
            need = stored
            if plan.cover:
                s = max(stored[0] / im.size[0], stored[1] / im.size[1])
                need = (math.ceil(im.size[0] * s), math.ceil(im.size[1] * s))
            im.draft(None, need)
        # Decode now: saving an image opened from a buffer before its pixels are loaded copies the frame.
        im.load()
        work = _process(im, stored, plan.cover, orientation, target, opts.strip_metadata, icc_of(im))
        try:
            out = encode(work, target, opts.quality, meta)
        except Exception:
            if meta == NO_META:
                raise
            out = encode(work, target, opts.quality, NO_META)  # the source's metadata would not encode
    return result(out, target, work.size)


def _seek_page(im: Image.Image, page: int, limits: EngineLimits) -> None:
    pages = getattr(im, "n_frames", 1)
    if page > pages:
        raise InvalidParameter(f"page must be from 1 to {pages} for this file.")
    if page > 1:
        im.seek(page - 1)
        check_pixels(im.width, im.height, limits)


# Targets whose writer embeds an ICC profile.
_CARRIES_ICC = frozenset({"jpg", "png", "webp", "avif", "tiff"})


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
    work = normalize(im, keep_palette=not resizing)
    work = resize(work, stored, cover)
    if orientation != 1:
        work = work.transpose(TRANSPOSE[orientation])
    if not _keeps_profile(work.mode, target, strip):
        work = to_srgb(work, icc)
    work = for_target(work, target)
    if hasattr(work, "tag_v2") or getattr(work, "n_frames", 1) != 1:
        # Never hand a TIFF decoder's own object to an encoder: the TIFF writer copies XMP/IPTC tags from it;
        # nor a layered one (PSD): encoders that save sequences would walk its layers.
        work = work.copy()
    return work


def _convert_animated(im: Image.Image, target: str, opts: ImageOptions, limits: EngineLimits) -> ConversionResult:
    plan = plan_output(im.size, opts, target, limits)
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
        out = for_target(resize(rgba, plan.size, plan.cover), target)
        frames.append(out)
        durations.append(int(frame.info.get("duration", 100)) or 100)
    loop = int(im.info.get("loop", 0))
    data = encode(
        frames[0], target, opts.quality, NO_META,
        frames=frames[1:], durations=durations, loop=loop,
    )  # fmt: skip
    return result(data, target, plan.size)
