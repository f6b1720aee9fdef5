"""The PDF tools' options (docs/pdf-tools.md): parsed from forms and JSON, each mistake named, passwords
never part of a job's recorded options."""

from __future__ import annotations

import pytest

from filegate import sealing
from filegate.conversions import records
from filegate.engines import engine_for, engine_name_for
from filegate.engines.pdf.engine import ENGINE, parse_merge_options
from filegate.errors import InvalidParameter, UnsupportedConversion
from filegate.formats.options import ImageOptions, PdfOptions
from filegate.formats.table import formats_document, options_for_pair


def tools(raw: dict[str, object], *, form: bool = False) -> PdfOptions:
    return ENGINE.parse_options(raw, source="pdf", target="pdf", form=form)


def test_the_pdf_engine_takes_pdf_to_pdf_and_pdf_compress_on_the_documents_queue() -> None:
    assert engine_for("pdf", "pdf") is ENGINE and engine_for("pdf", None) is ENGINE
    assert engine_name_for("pdf", "pdf") == engine_name_for("pdf", None) == ENGINE.name == "document"
    assert engine_name_for("pdf", "png") == "image" and engine_for("png", None) is not ENGINE


def test_pdf_to_pdf_without_a_tool_is_invalid_parameter() -> None:
    with pytest.raises(InvalidParameter, match=r"needs at least one of pages, rotate, ocr, pdf_a, password"):
        tools({}, form=True)
    with pytest.raises(InvalidParameter, match="needs at least one of"):
        tools({"ocr": False, "pdf_a": False})


def test_form_values_are_typed() -> None:
    options = tools(
        {"pages": "3, 1-2", "rotate": "90", "ocr": "true", "ocr_languages": "ENG+deu", "pdf_a": "yes",
         "input_password": "in", "target": "pdf"},
        form=True,
    )  # fmt: skip
    assert (options.pages, options.rotate, options.ocr, options.ocr_languages) == ("3, 1-2", 90, True, "eng+deu")
    assert options.pdf_a is True and options.input_password == "in"


@pytest.mark.parametrize(
    ("raw", "named"),
    [
        ({"pages": "0-"}, "pages"),
        ({"pages": "a"}, "pages"),
        ({"pages": "1," * 600}, "pages"),
        ({"rotate": "45"}, "rotate"),
        ({"rotate": "-90"}, "rotate"),
        ({"ocr": "maybe"}, "ocr"),
        ({"ocr": "true", "ocr_languages": "eng;rm -rf"}, "ocr_languages"),
        ({"ocr_languages": "eng"}, "ocr_languages"),
        ({"pdf_a": "true", "password": "x"}, "password"),
        ({"rotate": "90", "width": "100"}, "width"),
        ({"rotate": "90", "dpi": "100"}, "dpi"),
        ({"rotate": "90", "page_size": "a4"}, "page_size"),
    ],
)
def test_each_mistake_names_its_option(raw: dict[str, str], named: str) -> None:
    with pytest.raises(InvalidParameter, match=rf"^{named}"):
        tools(raw, form=True)


def test_json_is_strict_and_names_after_the_prefix() -> None:
    with pytest.raises(InvalidParameter, match=r"^items\[1\]\.options\.rotate"):
        ENGINE.parse_options({"rotate": "90"}, source="pdf", target="pdf", field="items[1].options.")
    with pytest.raises(InvalidParameter, match=r"^options\.widht: unknown option"):
        ENGINE.parse_options({"widht": 3, "rotate": 90}, source="pdf", target="pdf")
    assert ENGINE.parse_options({"rotate": 270}, source="pdf", target="pdf").rotate == 270


def test_passwords_are_sealed_never_recorded_readable() -> None:
    options = tools({"input_password": "in-secret", "password": "out-secret", "rotate": 90})
    assert "secret" not in repr(options)
    queued = options.to_json()
    assert queued == {"input_password": "in-secret", "password": "out-secret", "rotate": 90}
    assert records.public_options(queued) == {"rotate": 90}
    sealed, key = records.seal_secret_options("conv_1", queued)
    assert sealed is not None and key is not None and "secret" not in sealed
    assert PdfOptions(**{**records.public_options(queued), **sealing.unseal(sealed, key, "conv_1")}) == options


def test_compress_takes_quality_dpi_and_passwords_only() -> None:
    options = ENGINE.parse_options({"quality": "60", "dpi": "100"}, source="pdf", target=None, form=True)
    assert (options.quality, options.dpi) == (60, 100)
    with pytest.raises(InvalidParameter, match=r"^rotate does not apply to compressing a PDF"):
        ENGINE.parse_options({"rotate": "90"}, source="pdf", target=None, form=True)
    with pytest.raises(InvalidParameter, match=r"^dpi"):
        ENGINE.parse_options({"dpi": "5000"}, source="pdf", target=None, form=True)


def test_merge_takes_page_size_and_password() -> None:
    assert parse_merge_options({"page_size": "Letter"}, form=True).page_size == "letter"
    with pytest.raises(InvalidParameter, match=r"^page_size must be one of: a4, letter"):
        parse_merge_options({"page_size": "a3"}, form=True)
    with pytest.raises(InvalidParameter, match=r"^options.rotate does not apply to a merge"):
        parse_merge_options({"rotate": 90}, form=False)


def test_a_pdf_tool_option_on_a_pdf_made_into_an_image_is_refused() -> None:
    with pytest.raises(InvalidParameter, match=r"^rotate does not apply to images"):
        ImageOptions.from_form({"rotate": "90", "width": "10"})


def test_the_engine_refuses_what_it_does_not_make() -> None:
    with pytest.raises(UnsupportedConversion):
        ENGINE.parse_options({}, source="pdf", target="png")


def test_formats_lists_the_pdf_tools_compress_and_merge() -> None:
    document = formats_document()
    pdf = document["formats"]["pdf"]
    assert pdf["to"][0] == "pdf" and pdf["compress"] is True
    for name in ("pages", "rotate", "ocr", "ocr_languages", "pdf_a", "password", "input_password"):
        assert name in pdf["options"]
    assert pdf["compress_options"] == ["quality", "input_password", "password", "dpi"]
    assert document["formats"]["png"]["compress_options"] == ["quality"]
    assert document["merge"]["target"] == "pdf" and document["merge"]["options"] == ["password", "page_size"]
    assert {"pdf", "jpg", "png", "heic"} <= set(document["merge"]["from"])
    assert "mp4" not in document["merge"]["from"]
    assert options_for_pair("pdf", "pdf") == (
        "input_password",
        "pages",
        "rotate",
        "ocr",
        "ocr_languages",
        "pdf_a",
        "password",
    )
