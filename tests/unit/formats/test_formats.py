import pytest

from filegate.engines.image import encode
from filegate.engines.image.decode import NON_PIL_READERS
from filegate.errors import UnsupportedConversion
from filegate.formats.table import FORMATS, formats_document, normalize, resolve_target, targets_for


def test_document_shape() -> None:
    doc = formats_document()
    assert set(doc) == {"formats", "merge"}
    # media: tests/unit/media; office documents and text: tests/unit/engines/document
    formats = {name: e for name, e in doc["formats"].items() if not FORMATS[name].media and not FORMATS[name].office}
    assert set(formats) == {
        *("jpg", "png", "webp", "gif", "bmp", "tiff", "heic", "heif", "avif", "ico", "pdf"),
        *("jxl", "psd", "tga", "jp2", "dds", "sgi", "pcx", "icns", "pnm", "pam", "xbm", "qoi", "dng", "svg"),
    }
    for name, entry in formats.items():
        assert entry["to"], name
        assert {"quality", "width", "height", "fit", "strip_metadata"} <= set(entry["options"])
        assert ("page" in entry["options"]) == (name in ("pdf", "tiff"))
        assert entry["content_type"] == FORMATS[name].content_type
        assert name in [normalize(e) for e in entry["extensions"]]


def test_heic_is_input_only_and_pdf_renders_to_rasters_and_pdfs() -> None:
    formats = formats_document()["formats"]
    for entry in formats.values():
        assert "heic" not in entry["to"] and "heif" not in entry["to"]
    assert formats["pdf"]["to"] == ["pdf", "png", "jpg"]  # pdf → pdf: the PDF tools
    assert set(formats["png"]["to"]) == {"jpg", "png", "webp", "gif", "bmp", "tiff", "avif", "ico", "pdf", "jxl"}
    assert formats["heic"]["compress"] is False and formats["jpg"]["compress"] is True


def test_every_writable_format_has_an_encoder() -> None:
    writable = {name for name, f in FORMATS.items() if f.writable and not f.media and not f.office}
    assert set(encode.PIL_SAVE) == writable
    readable_rasters = {name for name, f in FORMATS.items() if f.readable and not f.document and not f.media}
    assert set(encode.PIL_FORMAT) | NON_PIL_READERS == readable_rasters


@pytest.mark.parametrize(("alias", "canonical"), [("JPEG", "jpg"), (".tif", "tiff"), ("Webp", "webp"), ("x", None)])
def test_normalize(alias: str, canonical: str | None) -> None:
    assert normalize(alias) == canonical


def test_resolve_target() -> None:
    assert resolve_target("png", "JPEG") == "jpg"
    with pytest.raises(UnsupportedConversion, match="pdf converts to: pdf, png, jpg"):
        resolve_target("pdf", "webp")
    with pytest.raises(UnsupportedConversion):
        resolve_target("png", "heic")
    with pytest.raises(UnsupportedConversion):
        resolve_target("png", "docx")
    assert targets_for("jpg")[0] == "jpg"


def test_content_types_and_extensions() -> None:
    assert FORMATS["jpg"].content_type == "image/jpeg" and FORMATS["jpg"].extension == "jpg"
    assert FORMATS["tiff"].extension == "tiff" and FORMATS["ico"].content_type == "image/vnd.microsoft.icon"
    assert FORMATS["pdf"].content_type == "application/pdf"
