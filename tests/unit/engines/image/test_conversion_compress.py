import io

import pytest
from conversion_helpers import decode
from PIL import Image

from filegate.engines.image.engine import compress
from filegate.errors import InvalidParameter, UnsupportedConversion
from tests.helpers import media_samples as fm


@pytest.mark.parametrize("fmt", ["jpg", "png", "webp", "gif", "bmp", "tiff", "avif"])
def test_same_format_never_larger(fmt: str) -> None:
    data = fm.sample(fmt, 300, 200)
    result = compress(data)
    assert result.format == fmt
    assert len(result.data) <= len(data)
    assert decode(result.data).size == (300, 200)
    if result.unchanged:
        assert result.data == data


def test_jpeg_gets_smaller_and_loses_metadata() -> None:
    data = fm.jpeg_with_exif(600, 400, orientation=6)
    result = compress(data)
    assert not result.unchanged and len(result.data) < len(data)
    image = decode(result.data)
    assert image.size == (400, 600)  # orientation applied before the EXIF went
    assert b"FileGateCam" not in result.data


def test_already_optimal_tiny_png_is_returned_unchanged() -> None:
    data = fm.encode(Image.new("L", (1, 1), 0), "png", optimize=True)
    result = compress(data)
    assert result.unchanged and result.data == data
    assert (result.width, result.height) == (1, 1)


def test_low_quality_jpeg_is_returned_unchanged() -> None:
    data = fm.encode(fm.photo(200, 200), "jpg", quality=20, optimize=True)
    result = compress(data, quality=90)
    assert result.unchanged and result.data == data


def test_png_with_few_colours_becomes_a_palette_losslessly() -> None:
    image = fm.photo(200, 200).quantize(16).convert("RGB")
    data = fm.encode(image, "png")
    result = compress(data)
    assert len(result.data) < len(data)
    out = decode(result.data).convert("RGB")
    assert out.tobytes() == image.tobytes()


def test_png_quality_means_lossy_palette() -> None:
    data = fm.encode(fm.photo(300, 300), "png")
    assert len(compress(data, quality=60).data) < len(compress(data).data)


def test_lossless_webp_stays_lossless() -> None:
    image = fm.photo(100, 100).quantize(16).convert("RGB")
    data = fm.encode(image, "webp", lossless=True, method=0)
    out = decode(compress(data).data).convert("RGB")
    assert out.tobytes() == image.tobytes()


def test_animated_gif_keeps_frames() -> None:
    data = fm.animated("gif", frames=5)
    result = compress(data)
    assert len(result.data) <= len(data)
    assert getattr(Image.open(io.BytesIO(result.data)), "n_frames", 1) == 5


def test_quality_string_from_a_form() -> None:
    data = fm.sample("jpg", 300, 200)
    assert len(compress(data, "40").data) < len(compress(data, "95").data) or compress(data, "95").unchanged


@pytest.mark.parametrize("fmt", ["heic", "ico", "pdf"])
def test_not_compressible(fmt: str) -> None:
    with pytest.raises(UnsupportedConversion):
        compress(fm.sample(fmt))


@pytest.mark.parametrize("quality", ["0", "101", "abc", 0, 200])
def test_bad_quality(quality: str | int) -> None:
    with pytest.raises(InvalidParameter, match=r"^quality"):
        compress(fm.sample("jpg"), quality)
