"""PNG compress: lossless in bounded time (oxipng), a pngquant-style palette only when it reaches the quality."""

from __future__ import annotations

import time

import pytest
from conversion_helpers import decode
from PIL import Image, ImageChops, ImageDraw

from filegate.engines.image.engine import compress
from filegate.engines.image.png import psnr
from tests.helpers import media_samples as fm

SYNC_BUDGET_S = 25


def _wallpaper(width: int, height: int, alpha: bool) -> Image.Image:
    """Smooth gradients and flat shapes: what large PNGs (wallpapers, renders, screenshots) look like."""
    base = Image.merge(
        "RGB",
        (
            Image.linear_gradient("L").resize((width, height)),
            Image.radial_gradient("L").resize((width, height)),
            Image.linear_gradient("L").rotate(90).resize((width, height)),
        ),
    )
    draw = ImageDraw.Draw(base)
    for i in range(40):
        box = (i * width // 50, i * height // 60, i * width // 50 + width // 6, i * height // 60 + height // 5)
        draw.ellipse(box, fill=((i * 37) % 256, (i * 91) % 256, (i * 53) % 256))
    if not alpha:
        return base
    rgba = base.convert("RGBA")
    rgba.putalpha(Image.radial_gradient("L").resize((width, height)))
    return rgba


def _identical(a: Image.Image, b: Image.Image) -> bool:
    return ImageChops.difference(a.convert("RGBA"), b.convert("RGBA")).getbbox() is None


def test_twelve_megapixel_rgba_png_compresses_losslessly_within_the_budget() -> None:
    image = _wallpaper(4000, 3000, alpha=True)
    data = fm.encode(image, "png", compress_level=1)
    started, cpu = time.perf_counter(), time.process_time()
    result = compress(data)
    wall, cpu = time.perf_counter() - started, time.process_time() - cpu
    print(f"12 MP RGBA PNG: {len(data):,} -> {len(result.data):,} bytes in {wall:.2f} s ({cpu:.2f} s CPU)")
    assert wall < SYNC_BUDGET_S  # the machine is shared: the figure printed above is the measurement
    assert not result.unchanged and len(result.data) < len(data)
    assert _identical(decode(result.data), image)


def test_quality_gives_a_palette_when_it_reaches_that_quality() -> None:
    image = _wallpaper(800, 600, alpha=False)
    data = fm.encode(image, "png")
    out = decode(compress(data, 60).data)  # quality 60 asks for at least 33 dB
    assert out.mode == "P"
    assert psnr(image, out.convert("RGB")) >= 33
    assert len(compress(data, 60).data) < len(compress(data).data)


def test_opaque_rgba_is_quantised_as_rgb() -> None:
    image = _wallpaper(400, 300, alpha=False).convert("RGBA")
    assert decode(compress(fm.encode(image, "png"), 60).data).mode == "P"


def test_quality_the_palette_cannot_reach_stays_lossless() -> None:
    noisy = fm.photo(300, 200, seed=4)
    data = fm.encode(noisy, "png")
    result = compress(data, 100)
    assert _identical(decode(result.data), noisy)


@pytest.mark.parametrize("mode", ["L", "LA", "RGB", "RGBA", "P"])
def test_lossless_modes_round_trip(mode: str) -> None:
    source = _wallpaper(120, 90, alpha=True)
    image = source.convert("RGB").quantize(64) if mode == "P" else source.convert(mode)
    if mode == "P":
        image.info["transparency"] = 0
    data = fm.encode(image, "png", compress_level=0)
    result = compress(data)
    assert len(result.data) < len(data)
    assert _identical(decode(result.data), decode(data))
