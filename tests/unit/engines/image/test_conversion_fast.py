"""libvips end to end (engines/image/fast.py) gives what the Pillow pipeline gives: the same size and
orientation, bytes within a few percent, pixels within a fraction of a dB; and it leaves every case it does
not cover to Pillow."""

from __future__ import annotations

import math

import pytest
from conversion_helpers import decode
from PIL import Image, ImageChops, ImageStat

from filegate.engines.image import fast, vips
from filegate.engines.image.limits import EngineLimits
from filegate.engines.image.raster import convert_raster
from filegate.errors import ConversionFailed
from filegate.formats.options import ImageOptions
from filegate.tiers import TIERS
from tests.helpers import media_samples as fm

PRO = EngineLimits.for_tier(TIERS["pro"])
pytestmark = pytest.mark.skipif(not vips.available(), reason="libvips is not installed")


def _psnr(a: Image.Image, b: Image.Image) -> float:
    stat = ImageStat.Stat(ImageChops.difference(a.convert("RGB"), b.convert("RGB")))
    mse = sum(stat.sum2) / (3 * a.width * a.height)
    return math.inf if mse == 0 else 10 * math.log10(255 * 255 / mse)


@pytest.mark.parametrize(
    ("source", "target", "options"),
    [
        ("jpg", "jpg", ImageOptions(quality=80)),
        ("jpg", "webp", ImageOptions()),
        ("jpg", "jpg", ImageOptions(width=200)),
        ("jpg", "jpg", ImageOptions(width=150, height=150, fit="cover")),
        ("png", "jpg", ImageOptions(quality=80)),
        ("png", "webp", ImageOptions(height=120)),
        ("jpg", "avif", ImageOptions(quality=60)),
    ],
)
def test_libvips_gives_what_pillow_gives(source: str, target: str, options: ImageOptions) -> None:
    data = fm.encode(fm.photo(480, 360), source)
    quick = fast.convert(data, source, target, options, PRO)
    assert quick is not None
    slow = convert_raster(data, source, target, options, PRO)
    assert (quick.width, quick.height, quick.format) == (slow.width, slow.height, slow.format)
    a, b = decode(quick.data), decode(slow.data)
    assert a.size == b.size == (slow.width, slow.height)
    assert abs(len(quick.data) - len(slow.data)) / len(slow.data) < 0.05
    assert _psnr(a, b) > 35


def test_exif_orientation_is_applied() -> None:
    image = fm.photo(300, 200)
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90° clockwise to display
    data = fm.encode(image, "jpg", exif=exif.tobytes())
    for options in (ImageOptions(), ImageOptions(width=100)):
        quick = fast.convert(data, "jpg", "jpg", options, PRO)
        assert quick is not None
        assert (quick.width, quick.height) == ((200, 300) if options.width is None else (100, 150))
        assert decode(quick.data).getexif().get(0x0112) is None  # metadata stripped


def test_alpha_is_flattened_onto_white_for_jpeg_and_kept_for_webp() -> None:
    image = Image.new("RGBA", (64, 48), (255, 0, 0, 0))
    data = fm.encode(image, "png")
    jpeg = fast.convert(data, "png", "jpg", ImageOptions(), PRO)
    webp = fast.convert(data, "png", "webp", ImageOptions(), PRO)
    assert jpeg is not None and webp is not None
    assert decode(jpeg.data).convert("RGB").getpixel((10, 10)) == (255, 255, 255)
    assert decode(webp.data).mode == "RGBA"


@pytest.mark.parametrize(
    ("data", "source", "target", "options"),
    [
        (fm.encode(fm.photo(64, 48), "jpg"), "jpg", "png", ImageOptions()),  # another target
        (fm.encode(fm.photo(64, 48), "jpg"), "jpg", "jpg", ImageOptions(strip_metadata=False)),  # kept metadata
        (fm.encode(fm.photo(64, 48).convert("CMYK"), "jpg"), "jpg", "jpg", ImageOptions()),  # CMYK, no profile
        (fm.encode(fm.photo(64, 48).convert("P"), "png"), "png", "jpg", ImageOptions()),  # palette
        (fm.encode(fm.photo(64, 48), "gif"), "gif", "webp", ImageOptions()),  # another source
    ],
)
def test_other_cases_are_left_to_pillow(data: bytes, source: str, target: str, options: ImageOptions) -> None:
    assert fast.convert(data, source, target, options, PRO) is None


def test_limits_and_broken_files_fail_as_in_pillow() -> None:
    data = fm.encode(fm.photo(300, 300), "jpg")
    small = EngineLimits(max_pixels=50_000, max_pdf_pages=1)
    with pytest.raises(ConversionFailed, match="pixels"):
        fast.convert(data, "jpg", "jpg", ImageOptions(), small)
    with pytest.raises(Exception):
        fast.convert(data[: len(data) // 2], "jpg", "jpg", ImageOptions(), PRO)
