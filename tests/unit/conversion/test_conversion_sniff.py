import fixtures_media as fm
import pytest

from filegate.conversion import sniff
from filegate.errors import UnsupportedMediaType

INPUTS = ["jpg", "png", "webp", "gif", "bmp", "tiff", "heic", "heif", "avif", "ico", "pdf"]


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
        fm.svg(),
        b"<svg xmlns='http://www.w3.org/2000/svg'/>",
        b"hello, plain text",
        b"BM but really just text that starts with BM",
        b"\x00\x00\x01\x00\x00\x00",  # an ICO header with no images
        b"RIFF\x00\x00\x00\x00XWMAfmt ",  # RIFF, but neither image, WAV nor AVI
        fm.zip_file(),
        bytes(range(256)),
    ],
)
def test_unknown_content_is_415(data: bytes) -> None:
    with pytest.raises(UnsupportedMediaType):
        sniff(data)
