"""Every pair that GET /v1/formats advertises converts a real file to a decodable output."""

import fixtures_media as fm
import pytest
from conversion_helpers import output_size

from filegate.conversion import FORMATS, ConversionOptions, convert, formats_document

# Image and PDF pairs; the media pairs (FFmpeg) are tests/unit/media.
PAIRS = [
    (src, dst)
    for src, entry in formats_document()["formats"].items()
    for dst in entry["to"]
    if not FORMATS[src].media and not FORMATS[dst].media
]
SOURCE_SIZE = (64, 48)
_samples: dict[str, bytes] = {}


def sample(fmt: str) -> bytes:
    if fmt not in _samples:
        _samples[fmt] = fm.sample(fmt, *SOURCE_SIZE)
    return _samples[fmt]


def test_matrix_is_complete() -> None:
    assert len(PAIRS) == 10 * 9 + 2


@pytest.mark.parametrize(("source", "target"), PAIRS)
def test_convert_pair(source: str, target: str) -> None:
    result = convert(sample(source), target)
    assert result.format == target
    assert result.data
    if source == "pdf":
        # A 64x48 pt page rendered at 150 dpi (pdfium rounds the bitmap size up).
        assert abs(result.width - 64 * 150 / 72) < 1 and abs(result.height - 48 * 150 / 72) < 1
    else:
        assert (result.width, result.height) == SOURCE_SIZE
    assert output_size(result.data, target) == (result.width, result.height)


@pytest.mark.parametrize(("source", "target"), PAIRS)
def test_convert_pair_resized(source: str, target: str) -> None:
    result = convert(sample(source), target, ConversionOptions(width=32, quality=70))
    assert (result.width, result.height) == (32, 24)
    assert output_size(result.data, target) == (32, 24)
