"""docs/api.md "Documents": every input kind to its targets through the warm LibreOffice, with its options."""

from __future__ import annotations

import csv
import dataclasses
import io

import pytest
from document_helpers import convert, output_bytes
from PIL import Image

from filegate.engines.document.engine import DocumentEngine
from filegate.engines.interface import Source, Workspace
from filegate.errors import ConversionFailed, FileTooLarge, InvalidParameter
from filegate.formats.sniff import sniff
from filegate.tiers import TIERS
from tests.helpers import document_samples as fd


def legacy(engine: DocumentEngine, fmt: str, data: bytes, source: str) -> bytes:
    """A Word 97, Excel 97 or PowerPoint 97 file made by LibreOffice from `data` (tests only)."""
    filters = {"doc": "MS Word 97", "xls": "MS Excel 97", "ppt": "MS PowerPoint 97"}
    imports = {"docx": "MS Word 2007 XML", "xlsx": "Calc MS Excel 2007 XML", "pptx": "Impress MS PowerPoint 2007 XML"}
    with engine.office.job() as job:
        (job / f"in.{source}").write_bytes(data)
        answer = engine.office.convert(
            {
                "input": str(job / f"in.{source}"),
                "output": str(job / f"out.{fmt}"),
                "input_filter": imports[source],
                "export_filter": filters[fmt],
            },
            60,
        )
        assert answer["ok"], answer
        return (job / f"out.{fmt}").read_bytes()


def test_docx_to_pdf_keeps_every_word_in_order_with_fonts_embedded(
    engine: DocumentEngine, workspace: Workspace
) -> None:
    output = convert(engine, workspace, "docx", fd.docx_document(3), "pdf")
    pdf = output_bytes(output)
    assert output.metadata == {"kind": "document", "format": "pdf", "pages": 3}
    assert fd.in_order(fd.pdf_text(pdf), [w for page in (1, 2, 3) for w in fd.words(page)])
    fonts = fd.pdf_fonts(pdf)
    assert fonts and all(embedded for _, embedded in fonts)


@pytest.mark.parametrize(
    ("font", "replacement"),
    [
        ("Calibri", "Carlito"),
        ("Cambria", "Caladea"),
        ("Arial", "LiberationSans"),
        ("Times New Roman", "LiberationSerif"),
        ("Courier New", "LiberationMono"),
    ],
)
def test_office_fonts_are_replaced_by_metric_compatible_ones(
    engine: DocumentEngine, workspace: Workspace, font: str, replacement: str
) -> None:
    pdf = output_bytes(convert(engine, workspace, "docx", fd.docx_document(1, font=font), "pdf"))
    assert any(replacement in name for name, _ in fd.pdf_fonts(pdf))


def test_pages_selects_pages(engine: DocumentEngine, workspace: Workspace) -> None:
    output = convert(engine, workspace, "docx", fd.docx_document(4), "pdf", {"pages": "2-3"})
    text = fd.pdf_text(output_bytes(output))
    assert output.metadata is not None and output.metadata["pages"] == 2
    assert fd.words(2)[0] in text and fd.words(3)[0] in text and fd.words(1)[0] not in text


def test_pages_past_the_end_is_invalid_parameter(engine: DocumentEngine, workspace: Workspace) -> None:
    with pytest.raises(InvalidParameter, match="pages"):
        convert(engine, workspace, "docx", fd.docx_document(1), "pdf", {"pages": "5"})


def test_pdf_a_is_pdf_a_2b(engine: DocumentEngine, workspace: Workspace) -> None:
    pdf = output_bytes(convert(engine, workspace, "docx", fd.docx_document(1), "pdf", {"pdf_a": True}))
    assert b"<pdfaid:part>2</pdfaid:part>" in pdf and b"<pdfaid:conformance>B</pdfaid:conformance>" in pdf
    plain = output_bytes(convert(engine, workspace, "docx", fd.docx_document(1), "pdf"))
    assert b"pdfaid:part" not in plain


def test_hyperlinks_stay_links(engine: DocumentEngine, workspace: Workspace) -> None:
    page = b'<html><body><p>Go <a href="https://example.com/kept">there</a></p></body></html>'
    linked = output_bytes(convert(engine, workspace, "html", page, "docx"))  # a docx as an office suite writes it
    pdf = output_bytes(convert(engine, workspace, "docx", linked, "pdf"))
    assert b"/URI" in pdf and b"https://example.com/kept" in pdf


@pytest.mark.parametrize("target", ["docx", "odt", "rtf", "txt"])
def test_word_like_to_the_family(engine: DocumentEngine, workspace: Workspace, target: str) -> None:
    output = convert(engine, workspace, "docx", fd.docx_document(1), target)
    data = output_bytes(output)
    assert output.format == target
    assert sniff(data, filename=f"out.{target}") == target
    if target == "txt":
        assert fd.in_order(data.decode("utf-8-sig"), fd.words(1))


@pytest.mark.parametrize("target", ["xlsx", "ods", "pdf"])
def test_spreadsheets_to_the_family(engine: DocumentEngine, workspace: Workspace, target: str) -> None:
    output = convert(engine, workspace, "xlsx", fd.xlsx_pages(2), target)
    assert output.format == target and sniff(output_bytes(output)) == target
    if target == "pdf":
        assert fd.in_order(fd.pdf_text(output_bytes(output)), fd.words(1) + fd.words(2))


WORKBOOK = {"First": [["a", 1], ["b", 2]], "Totals": [["sum", 3], ["ünïcode", "日本"]]}


@pytest.mark.parametrize(
    ("sheet", "expected"), [(None, "First"), ("Totals", "Totals"), ("2", "Totals"), ("1", "First")]
)
def test_a_spreadsheet_to_csv_is_one_sheet(
    engine: DocumentEngine, workspace: Workspace, sheet: str | None, expected: str
) -> None:
    options = {} if sheet is None else {"sheet": sheet}
    data = output_bytes(convert(engine, workspace, "xlsx", fd.xlsx_workbook(WORKBOOK), "csv", options))
    rows = list(csv.reader(io.StringIO(data.decode("utf-8"))))
    assert rows == [[str(cell) for cell in row] for row in WORKBOOK[expected]]


def test_an_unknown_sheet_names_the_sheets_there_are(engine: DocumentEngine, workspace: Workspace) -> None:
    with pytest.raises(InvalidParameter, match=r"sheet 'Nope'.*First, Totals"):
        convert(engine, workspace, "xlsx", fd.xlsx_workbook(WORKBOOK), "csv", {"sheet": "Nope"})


@pytest.mark.parametrize("target", ["pptx", "odp", "pdf"])
def test_presentations_to_the_family(engine: DocumentEngine, workspace: Workspace, target: str) -> None:
    output = convert(engine, workspace, "pptx", fd.pptx_slides(2), target)
    assert output.format == target and sniff(output_bytes(output)) == target
    if target == "pdf":
        assert output.metadata is not None and output.metadata["pages"] == 2
        assert fd.in_order(fd.pdf_text(output_bytes(output)), ["Slide 1", *fd.words(1), "Slide 2", *fd.words(2)])


@pytest.mark.parametrize(("fmt", "source"), [("doc", "docx"), ("xls", "xlsx"), ("ppt", "pptx")])
def test_legacy_formats_convert(engine: DocumentEngine, workspace: Workspace, fmt: str, source: str) -> None:
    made = {"docx": fd.docx_document(1), "xlsx": fd.xlsx_pages(1), "pptx": fd.pptx_slides(1)}[source]
    data = legacy(engine, fmt, made, source)
    assert sniff(data) == fmt
    assert fd.in_order(fd.pdf_text(output_bytes(convert(engine, workspace, fmt, data, "pdf"))), fd.words(1))


def test_csv_opens_as_utf8_comma_separated(engine: DocumentEngine, workspace: Workspace) -> None:
    data = 'name,city\nZoë,Kraków\n"a, b",東京\n'.encode()
    output = convert(engine, workspace, "csv", data, "xlsx")
    import openpyxl

    sheet = openpyxl.load_workbook(output.path).active
    assert [[c.value for c in row] for row in sheet.iter_rows()] == [
        ["name", "city"],
        ["Zoë", "Kraków"],
        ["a, b", "東京"],
    ]


def test_markdown_to_html_docx_and_pdf(engine: DocumentEngine, workspace: Workspace) -> None:
    md = b"# Report\n\nSome *emphasis* and a [link](https://example.com/md).\n\n- one\n- two\n"
    html = output_bytes(convert(engine, workspace, "md", md, "html")).decode()
    assert "<h1>Report</h1>" in html and "<li>one</li>" in html
    pdf = output_bytes(convert(engine, workspace, "md", md, "pdf"))
    assert fd.in_order(fd.pdf_text(pdf), ["Report", "Some", "emphasis", "link", "one", "two"])
    assert b"https://example.com/md" in pdf
    docx_out = convert(engine, workspace, "md", md, "docx")
    assert b"Report" in fd.part(output_bytes(docx_out), "word/document.xml")


def test_html_and_txt_to_pdf(engine: DocumentEngine, workspace: Workspace) -> None:
    html = b"<html><body><h1>Title</h1><p>First paragraph</p></body></html>"
    assert fd.in_order(fd.pdf_text(output_bytes(convert(engine, workspace, "html", html, "pdf"))), ["Title", "First"])
    text = "Line one\nLigne deux été\n".encode("utf-16")
    assert "Ligne deux été" in fd.pdf_text(output_bytes(convert(engine, workspace, "txt", text, "pdf")))


@pytest.mark.parametrize("target", ["png", "jpg", "webp"])
def test_a_page_becomes_an_image_sized_as_for_images(engine: DocumentEngine, workspace: Workspace, target: str) -> None:
    output = convert(engine, workspace, "docx", fd.docx_document(2), target, {"page": 2, "width": 300})
    with Image.open(io.BytesIO(output_bytes(output))) as image:
        assert image.format == {"png": "PNG", "jpg": "JPEG", "webp": "WEBP"}[target]
        assert image.width == 300


def test_a_page_past_the_end_is_invalid_parameter(engine: DocumentEngine, workspace: Workspace) -> None:
    with pytest.raises(InvalidParameter, match="page 9"):
        convert(engine, workspace, "docx", fd.docx_document(1), "png", {"page": 9})


def test_past_the_tier_page_limit_is_file_too_large_naming_the_limit(
    engine: DocumentEngine, workspace: Workspace
) -> None:
    small = dataclasses.replace(TIERS["free"], max_document_pages=2)
    with pytest.raises(FileTooLarge, match="at most 2"):
        convert(engine, workspace, "docx", fd.docx_document(3), "pdf", tier=small)
    assert convert(engine, workspace, "docx", fd.docx_document(2), "pdf", tier=small).size > 0


def test_an_encrypted_document_needs_its_password(engine: DocumentEngine, workspace: Workspace) -> None:
    locked = fd.encrypted_ooxml(fd.docx_document(1), "right horse")
    assert sniff(locked, filename="locked.docx") == "docx"
    with pytest.raises(InvalidParameter, match="input_password"):
        convert(engine, workspace, "docx", locked, "pdf")
    with pytest.raises(InvalidParameter, match="input_password is wrong"):
        convert(engine, workspace, "docx", locked, "pdf", {"input_password": "wrong"})
    opened = convert(engine, workspace, "docx", locked, "pdf", {"input_password": "right horse"})
    assert fd.in_order(fd.pdf_text(output_bytes(opened)), fd.words(1))


def test_a_corrupt_document_is_conversion_failed(engine: DocumentEngine, workspace: Workspace) -> None:
    with pytest.raises(ConversionFailed):
        convert(engine, workspace, "docx", fd.docx_document(1)[:-300], "pdf")
    truncated_body = fd.rezip(fd.docx_document(1), replace={"word/document.xml": b"<w:document/>"})
    with pytest.raises(ConversionFailed):  # a password given for a document that is not encrypted changes nothing
        convert(engine, workspace, "docx", truncated_body, "pdf", {"input_password": "unused"})
    garbage = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(2000)
    with pytest.raises(ConversionFailed):
        convert(engine, workspace, "doc", garbage, "pdf")


def test_metadata_and_probe(engine: DocumentEngine, workspace: Workspace) -> None:
    source = Source("docx", data=fd.docx_document(1))
    assert engine.metadata(source, workspace) == {"kind": "document", "format": "docx"}
    probe = engine.probe(source, TIERS["free"], workspace)
    assert probe is not None and probe.encrypted is False
    assert engine.probe(Source("docx", url="http://127.0.0.1:1/x", head=b"PK"), TIERS["free"], None) is None


def test_every_job_directory_is_wiped(engine: DocumentEngine, workspace: Workspace) -> None:
    convert(engine, workspace, "docx", fd.docx_document(1), "pdf")
    running = engine.office._running
    assert running is not None
    assert sorted(p.name for p in running.scratch.iterdir()) == ["home", "profile", "tmp"]


def test_an_encrypted_word_97_file_needs_its_password(engine: DocumentEngine, workspace: Workspace) -> None:
    """Word 97's header says it is encrypted (FIB fEncrypted): refused before LibreOffice, naming the option."""
    import olefile

    made = legacy(engine, "doc", fd.docx_document(1), "docx")
    with olefile.OleFileIO(made, write_mode=True) as ole:  # bytes: written in memory only
        fib = bytearray(ole.openstream("WordDocument").read())
        fib[10:12] = (int.from_bytes(fib[10:12], "little") | 0x0100).to_bytes(2, "little")
        ole.write_stream("WordDocument", bytes(fib))
        flagged = ole.fp.getvalue()
    with pytest.raises(InvalidParameter, match="input_password is needed"):
        convert(engine, workspace, "doc", flagged, "pdf")
