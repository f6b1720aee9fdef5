"""The libvips PNG decoder: taken only for plain 8-bit truecolour PNGs, and pixel-identical to Pillow's."""

from __future__ import annotations

import io

import pytest
from PIL import Image, ImageChops

from filegate.engines.image import vips
from filegate.engines.image.limits import EngineLimits
from filegate.errors import ConversionFailed
from tests.helpers import media_samples as fm

LIMITS = EngineLimits(max_pixels=10_000_000, max_pdf_pages=10)


@pytest.mark.parametrize(
    ("image", "mode"),
    [
        (fm.photo(64, 48), "RGB"),
        (fm.with_alpha(fm.photo(64, 48)), "RGBA"),
        (fm.photo(64, 48).convert("L"), None),
        (fm.photo(64, 48).quantize(32), None),
    ],
)
def test_only_plain_truecolour_takes_the_libvips_path(image: Image.Image, mode: str | None) -> None:
    assert vips.plain_png_mode(fm.encode(image, "png")) == mode


def test_colour_key_transparency_stays_with_pillow() -> None:
    rgb = fm.photo(16, 16)
    assert vips.plain_png_mode(fm.encode(rgb, "png", transparency=(0, 0, 0))) is None


@pytest.mark.skipif(not vips.available(), reason="libvips is not installed")
def test_decodes_the_same_pixels_and_metadata_as_pillow() -> None:
    image = fm.with_alpha(fm.photo(120, 80, seed=1))
    data = fm.encode(image, "png", icc_profile=fm.srgb_icc())
    decoded = vips.decode_png(data, "RGBA", LIMITS)
    reference = Image.open(io.BytesIO(data))
    assert ImageChops.difference(decoded, reference.convert("RGBA")).getbbox() is None
    assert decoded.info["icc_profile"] == fm.srgb_icc()


@pytest.mark.skipif(not vips.available(), reason="libvips is not installed")
def test_the_pixel_limit_is_checked_before_libvips_reads_anything() -> None:
    data = fm.encode(fm.photo(200, 200), "png")
    with pytest.raises(ConversionFailed, match="at most"):
        vips.decode_png(data, "RGB", EngineLimits(max_pixels=1000, max_pdf_pages=1))
