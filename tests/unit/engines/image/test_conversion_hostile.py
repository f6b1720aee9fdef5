"""Hostile and broken input: always the docs/api.md error class, quickly, never an uncaught exception."""

import dataclasses
import io
import random

import pytest
from PIL import Image

from filegate.engines.image.engine import compress, convert, probe
from filegate.engines.image.limits import EngineLimits
from filegate.errors import ConversionFailed, InvalidParameter, UnsupportedConversion, UnsupportedMediaType
from filegate.formats.options import ImageOptions
from filegate.tiers import TIERS
from tests.helpers import media_samples as fm

FREE = EngineLimits.for_tier(TIERS["free"])
PRO = EngineLimits.for_tier(TIERS["pro"])

pytestmark = pytest.mark.timeout(60)


def _clean_message(exc: Exception) -> None:
    message = str(exc)
    for leak in ("Traceback", "PIL", "pdfium", 'File "', "Error:"):
        assert leak not in message


@pytest.mark.parametrize("limits", [FREE, PRO])
def test_png_bomb_refused_before_decoding(limits: EngineLimits) -> None:
    data = fm.png_bomb(30_000, 30_000)
    assert len(data) < 1024
    with pytest.raises(ConversionFailed, match="pixels") as info:
        convert(data, "jpg", limits=limits)
    _clean_message(info.value)
    with pytest.raises(ConversionFailed):
        compress(data, limits=limits)
    with pytest.raises(ConversionFailed):
        probe(data, limits=limits)


def test_gif_bomb() -> None:
    with pytest.raises(ConversionFailed):
        convert(fm.gif_bomb(), "png")


def test_pixel_limit_is_per_tier() -> None:
    data = fm.encode(fm.photo(300, 300), "png")  # 90,000 pixels
    small = dataclasses.replace(FREE, max_pixels=50_000)
    with pytest.raises(ConversionFailed):
        convert(data, "jpg", limits=small)
    assert convert(data, "jpg", limits=FREE).width == 300


def test_pillow_global_guard_does_not_leak() -> None:
    before = Image.MAX_IMAGE_PIXELS
    small = dataclasses.replace(FREE, max_pixels=50_000)
    with pytest.raises(ConversionFailed):
        convert(fm.png_bomb(), "jpg", limits=small)
    convert(fm.sample("png"), "jpg", limits=PRO)
    assert before == Image.MAX_IMAGE_PIXELS


def test_requested_output_over_the_limit() -> None:
    with pytest.raises(InvalidParameter, match=r"^width"):
        convert(fm.sample("png"), "png", ImageOptions(width=16_000, height=16_000, fit="cover", enlarge=True))


def test_webp_side_limit() -> None:
    data = fm.encode(Image.new("L", (17_000, 2)), "png")
    with pytest.raises(ConversionFailed, match="16383"):
        convert(data, "webp")
    assert convert(data, "webp", ImageOptions(width=8_000)).width == 8_000


@pytest.mark.parametrize("fmt", ["jpg", "png", "webp", "gif", "bmp", "tiff", "heic", "avif", "ico", "pdf"])
def test_truncated(fmt: str) -> None:
    data = fm.sample(fmt, 300, 200)
    for cut in (len(data) // 2, 40):
        with pytest.raises(ConversionFailed) as info:
            convert(data[:cut], "png" if fmt != "png" else "jpg")
        _clean_message(info.value)


@pytest.mark.parametrize("fmt", ["jpg", "png", "webp", "gif", "bmp", "tiff", "avif", "ico", "pdf"])
def test_garbage_after_magic(fmt: str) -> None:
    rng = random.Random(fmt)
    head = fm.sample(fmt)[:16]
    data = head + bytes(rng.getrandbits(8) for _ in range(4000))
    with pytest.raises((ConversionFailed, UnsupportedMediaType)):
        convert(data, "png" if fmt != "png" else "jpg")


def test_corrupted_middle() -> None:
    data = bytearray(fm.sample("jpg", 300, 200))
    for i in range(200, len(data) - 10, 7):
        data[i] ^= 0x5A
    # libjpeg may also decode garbage pixels: either is fine, never another exception, and never a broken PNG.
    try:
        result = convert(bytes(data), "png")
    except ConversionFailed as exc:
        _clean_message(exc)
        return
    with Image.open(io.BytesIO(result.data)) as image:
        image.load()
        assert (image.format, image.size) == ("PNG", (300, 200))


EPS = b"%!PS-Adobe-3.0 EPSF-3.0\n%%BoundingBox: 0 0 10 10\nshowpage\n"


# Bytes that are no text (a NUL): text is a document now, the document engine's (docs/api.md "Documents").
@pytest.mark.parametrize("data", [b"", EPS, b"no text\x00\x01", fm.zip_file()])
def test_unknown_types(data: bytes) -> None:
    with pytest.raises(UnsupportedMediaType):
        convert(data, "png")
    with pytest.raises(UnsupportedMediaType):
        compress(data)


def test_lying_extension_is_irrelevant() -> None:
    # PNG bytes a client called photo.jpg: the engine never sees the name, the bytes say png.
    assert probe(fm.sample("png"))[0] == "png"


def test_unsupported_pairs() -> None:
    with pytest.raises(UnsupportedConversion):
        convert(fm.sample("png"), "heic")
    with pytest.raises(UnsupportedConversion):
        convert(fm.sample("pdf"), "webp")
    with pytest.raises(UnsupportedConversion):
        convert(fm.sample("jpg"), "svg")


def test_pdf_page_out_of_range() -> None:
    with pytest.raises(InvalidParameter, match=r"^page"):
        convert(fm.pdf_document(pages=2), "png", ImageOptions(page=3))


def test_pdf_too_many_pages() -> None:
    data = fm.pdf_raw([(100, 100)] * (FREE.max_pdf_pages + 1))
    with pytest.raises(ConversionFailed, match="pages"):
        convert(data, "png", limits=FREE)
    assert abs(convert(data, "png", limits=PRO).width - 100 * 150 / 72) < 1


@pytest.mark.parametrize("box", [(14_400, 14_400), (1e7, 1e7), (1e9, 10)])
def test_pdf_huge_page_render_is_capped(box: tuple[float, float]) -> None:
    try:
        result = convert(fm.pdf_raw([box]), "jpg")
    except ConversionFailed:
        return  # too extreme to render at all: also fine
    assert result.width * result.height <= FREE.max_render_pixels


def test_pdf_too_thin_page() -> None:
    with pytest.raises(ConversionFailed):
        convert(fm.pdf_raw([(0.01, 14_400)]), "png")


@pytest.mark.parametrize(
    "data",
    [
        b"%PDF-1.4\n%garbage only\n",
        b"%PDF-1.7\n" + bytes(range(256)) * 20,
        fm.pdf_raw([(100, 100)]).replace(b"/Count 1", b"/Count 999999"),
    ],
)
def test_corrupt_pdf(data: bytes) -> None:
    try:
        result = convert(data, "png")
    except ConversionFailed:
        return
    assert result.width > 0  # pdfium repaired it


def test_zero_page_pdf() -> None:
    with pytest.raises(ConversionFailed):
        convert(fm.pdf_raw([]), "png")


def test_animation_frame_limits() -> None:
    data = fm.animated("gif", frames=6)
    with pytest.raises(ConversionFailed, match="frames"):
        convert(data, "webp", limits=dataclasses.replace(FREE, max_frames=3))
    with pytest.raises(ConversionFailed):
        convert(data, "webp", limits=dataclasses.replace(FREE, max_pixels=3_000))


def test_engine_errors_chain_the_cause_for_logging() -> None:
    with pytest.raises(ConversionFailed) as info:
        convert(fm.sample("png", 300, 200)[:500], "jpg")
    assert info.value.__cause__ is not None
