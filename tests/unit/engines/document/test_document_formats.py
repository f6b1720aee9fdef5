"""docs/api.md "Documents": which inputs are recognised from their bytes, their targets, their options. Pure."""

from __future__ import annotations

from pathlib import Path

import pytest

from filegate.engines.document.engine import DocumentEngine
from filegate.engines.document.office import Office
from filegate.errors import InvalidParameter, UnsupportedConversion
from filegate.formats.options import DocumentOptions, PageRanges
from filegate.formats.sniff import sniff
from filegate.formats.table import FORMATS, formats_document, resolve_target, targets_for
from filegate.tiers import TIERS
from tests.helpers import document_samples as fd

OFFICE = ("docx", "doc", "odt", "rtf", "xlsx", "xls", "ods", "pptx", "ppt", "odp")
TEXT = ("txt", "csv", "md", "html")


def test_formats_lists_every_document_input_with_kind_document() -> None:
    listed = formats_document()["formats"]
    for name in (*OFFICE, *TEXT):
        assert name in listed
        assert FORMATS[name].kind == "document"


@pytest.mark.parametrize(
    ("source", "targets"),
    [
        ("docx", {"pdf", "docx", "odt", "rtf", "txt"}),
        ("doc", {"pdf", "docx", "odt", "rtf", "txt"}),
        ("odt", {"pdf", "docx", "odt", "rtf", "txt"}),
        ("rtf", {"pdf", "docx", "odt", "rtf", "txt"}),
        ("xlsx", {"pdf", "xlsx", "ods", "csv"}),
        ("xls", {"pdf", "xlsx", "ods", "csv"}),
        ("ods", {"pdf", "xlsx", "ods", "csv"}),
        ("pptx", {"pdf", "pptx", "odp"}),
        ("ppt", {"pdf", "pptx", "odp"}),
        ("odp", {"pdf", "pptx", "odp"}),
        ("md", {"pdf", "docx", "html"}),
        ("html", {"pdf", "docx"}),
        ("csv", {"pdf", "xlsx", "ods"}),
        ("txt", {"pdf"}),
    ],
)
def test_targets_are_the_families_plus_a_page_preview(source: str, targets: set[str]) -> None:
    assert set(targets_for(source)) == targets | {"png", "jpg", "webp"}


def test_images_do_not_convert_to_office_formats() -> None:
    assert not {"docx", "xlsx", "csv", "html"} & set(targets_for("png"))
    with pytest.raises(UnsupportedConversion, match="docx converts to"):
        resolve_target("docx", "mp4")


# ------------------------------------------------------------------------------------------------ sniffing


def test_ooxml_and_odf_are_recognised_by_their_parts() -> None:
    assert sniff(fd.docx_document()) == "docx"
    assert sniff(fd.xlsx_pages(1)) == "xlsx"
    assert sniff(fd.pptx_slides(1)) == "pptx"
    assert sniff(fd.odt_with_macro(Path("/nonexistent"))) == "odt"


def test_a_zip_is_recognised_from_its_first_kib_alone() -> None:
    """The files function sniffs an upload's head only: the local headers name the parts."""
    assert sniff(fd.docx_document()[:4096]) == "docx"
    assert sniff(fd.pptx_slides(1)[:4096]) == "pptx"


def test_a_plain_zip_is_no_document() -> None:
    import io
    import zipfile

    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("readme.txt", "hello")
    from filegate.errors import UnsupportedMediaType

    with pytest.raises(UnsupportedMediaType):
        sniff(buffer.getvalue())


def test_rtf_by_its_header() -> None:
    assert sniff(b"{\\rtf1\\ansi Hello}") == "rtf"


def test_an_ole2_file_whose_directory_is_past_the_head_is_told_by_its_name() -> None:
    head = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(504)
    assert sniff(head, filename="budget.XLS") == "xls"
    from filegate.errors import UnsupportedMediaType

    with pytest.raises(UnsupportedMediaType):
        sniff(head, filename="budget.txt")


@pytest.mark.parametrize(
    ("data", "filename", "source_format", "expected"),
    [
        (b"a,b\n1,2\n", "table.csv", None, "csv"),
        (b"# Title\n\ntext", "README.md", None, "md"),
        (b"# Title\n\ntext", None, "md", "md"),
        (b"<html><body>hi</body></html>", "page.HTM", None, "html"),
        (b"a,b\n1,2\n", None, None, "txt"),  # text without a name or source_format is txt
        (b"a,b\n1,2\n", "notes.txt", "csv", "txt"),  # the name's extension comes first
        (b"\xef\xbb\xbfBOM and UTF-8", None, None, "txt"),
        ("UTF-16 with a BOM: Привет".encode("utf-16"), "x.txt", None, "txt"),
    ],
)
def test_text_is_recognised_by_its_bytes_then_its_name_then_source_format(
    data: bytes, filename: str | None, source_format: str | None, expected: str
) -> None:
    assert sniff(data, filename=filename, source_format=source_format) == expected


def test_an_html_page_in_its_declared_charset_is_text() -> None:
    page = '<html><head><meta charset="windows-1252"></head><body>café</body></html>'.encode("cp1252")
    assert sniff(page, filename="p.html") == "html"


@pytest.mark.parametrize("label", ["base64", "rot13", "zlib", "hex", "utf-16", "utf-32", "no-such-charset"])
def test_a_charset_that_names_no_text_encoding_reads_the_page_as_utf8(label: str) -> None:
    from filegate.engines.document.text import decoded

    page = f'<html><head><meta charset="{label}"></head><body>café</body></html>'.encode()
    assert sniff(page, filename="p.html") == "html"
    assert "café" in decoded(page)


def test_a_head_cut_inside_a_character_is_text_and_nothing_else_is_forgiven() -> None:
    """The files function sniffs an upload's first KiBs: a cut UTF-8 sequence or UTF-16 unit at the end is
    forgiven; bytes that are no text at the end are not."""
    from filegate.formats.docsniff import is_text

    sample = "Latin é, Ελληνικά, Кириллица, العربية, 日本語 and 😀 emoji"
    for encoded in (sample.encode(), sample.encode("utf-16")):
        assert all(is_text(encoded[:end]) for end in range(4, len(encoded) + 1))
    for junk in (b"\x00\x01", b"\xff\xfe\xfd", b"\x80", b"\xe6\x97\xa5\xa5"):
        assert not is_text(b"plain words then " + junk)


def test_bytes_with_nul_are_not_text() -> None:
    from filegate.errors import UnsupportedMediaType

    with pytest.raises(UnsupportedMediaType):
        sniff(b"text\x00with a nul", filename="x.txt")


def test_a_named_text_file_is_never_refused_as_a_playlist() -> None:
    assert sniff(b"#EXTM3U\nfile 'a.mp4'\n", filename="notes.txt") == "txt"


# ------------------------------------------------------------------------------------------------ options


def test_pages_take_numbers_and_ranges() -> None:
    assert str(PageRanges.parse("1-3, 7")) == "1-3,7"
    assert PageRanges.parse("2-4,9").highest() == 9
    for bad in ("0", "3-1", "a", "1-", "1,,2", "-2"):
        with pytest.raises(InvalidParameter, match="pages"):
            DocumentOptions(pages=bad)


def test_options_from_form_and_json() -> None:
    form = DocumentOptions.from_form({"pages": "1-2", "pdf_a": "true", "target": "pdf"})
    assert (form.pages, form.pdf_a) == ("1-2", True)
    assert DocumentOptions.from_json(form.to_json()) == form
    assert DocumentOptions.from_json({"sheet": 2}).sheet == "2"  # a sheet's number may be a JSON integer
    with pytest.raises(InvalidParameter, match=r"options\.source_format must be one of"):
        DocumentOptions.from_json({"source_format": "exe"})


def test_the_password_is_never_in_a_repr() -> None:
    assert "s3cret" not in repr(DocumentOptions(input_password="s3cret"))


ENGINE = DocumentEngine(Office())  # never started: parsing and planning need no LibreOffice


@pytest.mark.parametrize(
    ("source", "target", "options", "refused"),
    [
        ("docx", "docx", {"pages": "1"}, "pages"),
        ("docx", "pdf", {"sheet": "1"}, "sheet"),
        ("xlsx", "xlsx", {"sheet": "1"}, "sheet"),
        ("docx", "pdf", {"width": 10}, "width"),
        ("txt", "pdf", {"input_password": "x"}, "input_password"),
        ("docx", "pdf", {"source_format": "md"}, "source_format"),
    ],
)
def test_an_option_that_does_not_apply_is_refused_by_name(
    source: str, target: str, options: dict[str, object], refused: str
) -> None:
    with pytest.raises(InvalidParameter, match=refused):
        ENGINE.parse_options(options, source=source, target=target)


def test_options_that_apply() -> None:
    ENGINE.parse_options({"pages": "1-2", "pdf_a": True, "input_password": "p"}, source="docx", target="pdf")
    ENGINE.parse_options({"page": 2, "width": 100, "fit": "cover", "quality": 80}, source="pptx", target="webp")
    ENGINE.parse_options({"sheet": "Totals"}, source="xlsx", target="csv")
    ENGINE.parse_options({"source_format": "md"}, source="txt", target="pdf")


def test_a_document_costs_one_unit_and_is_never_run_in_a_request() -> None:
    plan = ENGINE.plan("docx", "pdf", DocumentOptions(), TIERS["free"])
    assert (plan.units, plan.in_request, plan.target) == (1, False, "pdf")
    with pytest.raises(UnsupportedConversion):
        ENGINE.plan("docx", None, DocumentOptions(), TIERS["free"])


def test_tier_page_limits() -> None:
    assert [TIERS[t].max_document_pages for t in ("free", "pro", "enterprise")] == [50, 2_000, 10_000]
