"""PNG for compress: lossless optimisation in bounded time (oxipng) and pngquant-style lossy palettes.

zlib's brute-force `optimize=True` took 19-29 s on a 3640x2400 RGBA wallpaper (one request hit the function
timeout). oxipng is multithreaded and libdeflate is faster and smaller than zlib at the same level; its
effort is scaled to the pixel count so even a 12 MP image stays within a few seconds of CPU, and its own
timeout stops the filter search (it never stops a compression under way, hence the scaled effort too).
"""

from __future__ import annotations

import math
from typing import Any

from PIL import Image, ImageChops, ImageStat

# (at most this many pixels, oxipng settings). Measured on the fluent-color wallpaper (8.7 MP RGBA, 3.49 MB):
# one MinSum pass at libdeflate 7 took 1.2 s CPU for 3.10 MB; Pillow's zlib 9 took 19 s CPU for 3.13 MB.
_SMALL = 1_000_000
_MEDIUM = 4_000_000
_SEARCH_TIMEOUT_S = 2
# pngquant-style quality: a palette is accepted when its PSNR against the original reaches this many dB at
# quality 100, scaled down linearly with the quality asked for (q80 → 37 dB, q50 → 31 dB).
_PSNR_AT_QUALITY_100 = 41.0
_PSNR_SLOPE = 0.2


def optimise(im: Image.Image) -> bytes:
    """The smallest PNG oxipng finds for `im` (modes 1, L, LA, P, RGB, RGBA) within the effort budget;
    colour type, bit depth and palette are reduced losslessly when the pixels allow. No metadata."""
    import oxipng

    if im.mode == "1":
        im = im.convert("L")
    raw = oxipng.RawImage(im.tobytes(), im.width, im.height, color_type=_colour_type(im))
    return raw.create_optimized_png(**_effort(im.width * im.height))


def lossy_palette(im: Image.Image, quality: int) -> Image.Image | None:
    """At most 256 colours, dithered (RGBA keeps its alpha in the palette), or None when the palette would
    fall short of `quality` (then the caller stays lossless, as pngquant does)."""
    if im.mode not in ("RGB", "RGBA"):
        return None
    if im.mode == "RGBA" and im.getchannel("A").getextrema() == (255, 255):
        im = im.convert("RGB")  # opaque after all: the better RGB quantiser applies
    # Pillow without libimagequant: FASTOCTREE is the quantiser that handles alpha; MEDIANCUT is better on RGB.
    method = Image.Quantize.FASTOCTREE if im.mode == "RGBA" else Image.Quantize.MEDIANCUT
    palette = im.quantize(colors=256, method=method, dither=Image.Dither.FLOYDSTEINBERG)
    if psnr(im, palette.convert(im.mode)) < _PSNR_AT_QUALITY_100 - _PSNR_SLOPE * (100 - quality):
        return None
    return palette


def psnr(a: Image.Image, b: Image.Image) -> float:
    """Peak signal-to-noise ratio over every channel, in dB (inf when identical)."""
    stat = ImageStat.Stat(ImageChops.difference(a, b))
    mse = sum(stat.sum2) / (len(stat.sum2) * a.width * a.height)
    return math.inf if mse == 0 else 10 * math.log10(255 * 255 / mse)


def _colour_type(im: Image.Image) -> Any:
    import oxipng

    if im.mode == "L":
        return oxipng.ColorType.grayscale()
    if im.mode == "LA":
        return oxipng.ColorType.grayscale_alpha()
    if im.mode == "RGB":
        return oxipng.ColorType.rgb()
    if im.mode == "RGBA":
        return oxipng.ColorType.rgba()
    if im.mode == "P":
        return oxipng.ColorType.indexed(_palette_rgba(im))
    raise ValueError(f"no PNG colour type for mode {im.mode}")


def _palette_rgba(im: Image.Image) -> list[list[int]]:
    """The palette as RGBA entries (tRNS folded in), as many as the indices use."""
    colours = im.getpalette(rawmode="RGB") or [0, 0, 0]
    entries = len(colours) // 3
    highest = im.getextrema()[1]
    count = min(entries, int(highest) + 1 if isinstance(highest, int) else entries)
    alpha = [255] * entries
    transparency = im.info.get("transparency")
    if isinstance(transparency, int) and transparency < entries:
        alpha[transparency] = 0
    elif isinstance(transparency, bytes):
        alpha[: len(transparency)] = list(transparency[:entries])
    return [[colours[3 * i], colours[3 * i + 1], colours[3 * i + 2], alpha[i]] for i in range(max(1, count))]


def _effort(pixels: int) -> dict[str, Any]:
    import oxipng

    row = oxipng.RowFilter
    if pixels <= _SMALL:
        return {"level": 2, "timeout": _SEARCH_TIMEOUT_S}
    if pixels <= _MEDIUM:
        return {
            "level": 2,
            "fast_evaluation": True,
            "filter": [row.NoOp, row.MinSum, row.Bigrams],
            "deflate": oxipng.Deflaters.libdeflater(9),
            "timeout": _SEARCH_TIMEOUT_S,
        }
    return {"level": 2, "filter": [row.MinSum], "deflate": oxipng.Deflaters.libdeflater(7)}
