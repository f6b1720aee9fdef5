import pytest

from filegate.errors import UnsupportedMediaType
from filegate.formats.sniff import sniff
from tests.helpers import image_samples
from tests.helpers import media_samples as fm

INPUTS = ["jpg", "png", "webp", "gif", "bmp", "tiff", "heic", "heif", "avif", "ico", "pdf", *image_samples.FORMATS]


@pytest.mark.parametrize("fmt", INPUTS)
def test_sniffs_every_input_format(fmt: str) -> None:
    assert sniff(fm.sample(fmt)) == fmt


def test_sniffs_animations() -> None:
    assert sniff(fm.animated("gif")) == "gif"
    assert sniff(fm.animated("webp")) == "webp"


def test_pdf_header_after_junk() -> None:
    assert sniff(b"\x00" * 100 + fm.pdf_document(1)) == "pdf"


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"\x00\x00\x01\x00\x00\x00",  # an ICO header with no images
        b"RIFF\x00\x00\x00\x00XWMAfmt ",  # RIFF, but neither image, WAV nor AVI
        fm.zip_file(),
        bytes(range(256)),
    ],
)
def test_unknown_content_is_415(data: bytes) -> None:
    with pytest.raises(UnsupportedMediaType):
        sniff(data)


@pytest.mark.parametrize(
    "data",
    [
        b"<html><svg xmlns='http://www.w3.org/2000/svg'/></html>",  # SVG inside HTML is HTML: text
        b"hello, plain text",
        b"BM but really just text that starts with BM",
    ],
)
def test_text_that_is_no_image_is_a_text_document(data: bytes) -> None:
    assert sniff(data) == "txt"  # told apart further by name: tests/unit/engines/document


@pytest.mark.parametrize("head", [b"%!PS-Adobe-3.0 EPSF-3.0\n", b"\xc5\xd0\xd3\xc6" + bytes(28)])
def test_postscript_is_refused_by_design(head: bytes) -> None:
    with pytest.raises(UnsupportedMediaType, match="by design"):
        sniff(head + b"%%BoundingBox: 0 0 10 10\n")


@pytest.mark.parametrize(
    "document",
    [
        b"<svg xmlns='http://www.w3.org/2000/svg'/>",
        b'\xef\xbb\xbf<?xml version="1.0"?>\n<!-- a logo -->\n<!DOCTYPE svg>\n<svg width="1" height="1"></svg>',
    ],
)
def test_svg_after_declarations_and_comments(document: bytes) -> None:
    assert sniff(document) == "svg"


def test_a_plain_tiff_is_not_a_dng() -> None:
    assert sniff(fm.sample("tiff")) == "tiff"
