"""A file's `metadata` at completion (docs/api.md "Files") for every kind of image the engine reads."""

import pytest

from filegate import errors
from filegate.engines.image.engine import document_metadata, image_metadata
from tests.helpers import media_samples as fm


@pytest.mark.parametrize("fmt", ["png", "jpg", "webp", "tiff", "psd", "qoi", "jxl", "dng"])
def test_raster_metadata_has_the_real_size(fmt: str) -> None:
    meta = image_metadata(fm.sample(fmt, 40, 30), fmt)
    assert meta == {"kind": "image", "format": fmt, "width": 40, "height": 30}


def test_svg_metadata_is_its_own_size() -> None:
    # Pillow cannot read SVG: the size comes from the engine's own SVG reader (width/height attributes).
    assert image_metadata(fm.svg(), "svg") == {"kind": "image", "format": "svg", "width": 10, "height": 10}


def test_animation_counts_its_frames() -> None:
    meta = image_metadata(fm.sample("gif", 20, 10), "gif")
    assert meta["width"] == 20 and meta["height"] == 10
    assert meta.get("pages", 1) >= 1


def test_pdf_metadata_counts_pages() -> None:
    two_pages = fm.pdf_document(pages=2, size=(64, 48))
    assert document_metadata(two_pages) == {"kind": "document", "format": "pdf", "pages": 2}


def test_a_lying_header_is_conversion_failed() -> None:
    with pytest.raises(errors.ConversionFailed):
        image_metadata(b"\x89PNG\r\n\x1a\n" + b"\x00" * 40, "png")


def test_raw_needs_its_own_layer(monkeypatch: pytest.MonkeyPatch) -> None:
    # The files function carries no LibRaw (layers/raw): it leaves a DNG's metadata to the worker.
    import importlib.util

    from filegate.files import metadata as file_metadata

    assert file_metadata.can_read_here("dng") and file_metadata.can_read_here("png")
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "rawpy" else real(name, *a))
    assert not file_metadata.can_read_here("dng")
    assert file_metadata.can_read_here("png") and file_metadata.can_read_here("mp4")
