"""Every pair that GET /v1/formats advertises converts a real file to a decodable output."""

import pytest
from conversion_helpers import output_size

# Image and PDF pairs; the media pairs (FFmpeg) are tests/unit/engines/av, the PDF tools (pdf → pdf)
# tests/unit/engines/pdf, the office and text documents (LibreOffice) tests/unit/engines/document.
from filegate.engines.image.engine import convert
from filegate.formats.options import ImageOptions
from filegate.formats.table import FORMATS, formats_document, is_pdf_tool
from tests.helpers import media_samples as fm

PAIRS = [
    (src, dst)
    for src, entry in formats_document()["formats"].items()
    for dst in entry["to"]
    if not FORMATS[src].media and not FORMATS[dst].media and not FORMATS[src].office and not is_pdf_tool(src, dst)
]
SOURCE_SIZE = (64, 48)
_samples: dict[str, bytes] = {}


def sample(fmt: str) -> bytes:
    if fmt not in _samples:
        _samples[fmt] = fm.sample(fmt, *SOURCE_SIZE)
    return _samples[fmt]


# Icons have fixed square sizes: the ICNS sample holds one 64x64 element.
OWN_SIZE = {"icns": (64, 64)}


def test_matrix_is_complete() -> None:
    formats = formats_document()["formats"]
    rasters = [name for name in formats if name != "pdf" and not FORMATS[name].media and not FORMATS[name].office]
    writable = formats["png"]["to"]
    assert len(rasters) == 24 and len(writable) == 10
    assert len(PAIRS) == len(rasters) * len(writable) + 2


@pytest.mark.parametrize(("source", "target"), PAIRS)
def test_convert_pair(source: str, target: str) -> None:
    result = convert(sample(source), target)
    assert result.format == target
    assert result.data
    if source == "pdf":
        # A 64x48 pt page rendered at 150 dpi (pdfium rounds the bitmap size up).
        assert abs(result.width - 64 * 150 / 72) < 1 and abs(result.height - 48 * 150 / 72) < 1
    else:
        assert (result.width, result.height) == OWN_SIZE.get(source, SOURCE_SIZE)
    assert output_size(result.data, target) == (result.width, result.height)


@pytest.mark.parametrize(("source", "target"), PAIRS)
def test_convert_pair_resized(source: str, target: str) -> None:
    result = convert(sample(source), target, ImageOptions(width=32, quality=70))
    width, height = OWN_SIZE.get(source, SOURCE_SIZE)
    expected = (32, round(32 * height / width))
    assert (result.width, result.height) == expected
    assert output_size(result.data, target) == expected
