"""Compress: the same format, smaller (the module is not named `compress`: that is the package's function)."""

from __future__ import annotations

import io

from PIL import Image, ImageSequence

from filegate.engines.image import png
from filegate.engines.image.colour import to_srgb
from filegate.engines.image.decode import NO_META, TRANSPOSE, icc_of, open_image, orientation_of
from filegate.engines.image.encode import WEBP_METHOD_COMPRESS, ConversionResult, encode, result
from filegate.engines.image.geometry import display_size
from filegate.engines.image.limits import EngineLimits
from filegate.engines.image.raster import ANIMATED, for_target, normalize
from filegate.errors import ConversionFailed


def compress_image(data: bytes, source: str, quality: int | None, limits: EngineLimits) -> ConversionResult:
    with open_image(data, source, limits) as im:
        orientation = orientation_of(im)
        display = display_size(im.size, orientation)
        animated = getattr(im, "is_animated", False)
        if animated and source in ANIMATED:
            out = _compress_animated(im, source, quality, limits)
        elif animated or (source == "tiff" and getattr(im, "n_frames", 1) > 1):
            # APNG, MPO, multi-page TIFF: re-encoding only the first image would lose content.
            out = data
        else:
            out = _compress_still(im, data, source, quality, orientation)
    if len(out) >= len(data):
        return result(data, source, display, unchanged=True)
    return result(out, source, display)


def _compress_still(im: Image.Image, data: bytes, source: str, quality: int | None, orientation: int) -> bytes:
    icc = icc_of(im)
    lossless_webp = source == "webp" and quality is None and _webp_is_lossless(data)
    work = normalize(im, keep_palette=True)
    work.load()
    if orientation != 1:
        work = work.transpose(TRANSPOSE[orientation])
    work = to_srgb(work, icc)
    if source == "png":
        return _compress_png(work, quality)
    if source in ("bmp", "tiff", "gif") and work.mode in ("RGB", "L", "RGBA"):
        work = _palette_if_few_colours(work)
    work = for_target(work, source)
    if hasattr(work, "tag_v2"):
        work = work.copy()
    if lossless_webp:
        buf = io.BytesIO()
        work.save(buf, format="WEBP", lossless=True, quality=100, method=WEBP_METHOD_COMPRESS)
        return buf.getvalue()
    return encode(work, source, quality, NO_META, for_compress=True)


def _compress_animated(im: Image.Image, source: str, quality: int | None, limits: EngineLimits) -> bytes:
    frames: list[Image.Image] = []
    durations: list[int] = []
    decoded = 0
    for index, frame in enumerate(ImageSequence.Iterator(im)):
        decoded += frame.size[0] * frame.size[1]
        if index >= limits.max_frames or decoded > limits.max_pixels:
            raise ConversionFailed(f"The animation exceeds your plan's limit of {limits.max_pixels:,} pixels.")
        frames.append(for_target(frame.convert("RGBA"), source))
        durations.append(int(frame.info.get("duration", 100)) or 100)
    return encode(
        frames[0], source, quality, NO_META,
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


def _compress_png(work: Image.Image, quality: int | None) -> bytes:
    """Lossless by default; with a quality, a 256-colour palette when it reaches that quality (pngquant's rule)."""
    if quality is not None:
        work = png.lossy_palette(work, quality) or work
    return png.optimise(work)
