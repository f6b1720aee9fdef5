"""Documents for the API tests (tests/service, tests/integration): one of each kind docs/api.md "Documents" takes,
with a file name, made with the libraries Word, Excel and PowerPoint files are usually written with
(python-docx, openpyxl, python-pptx), ODF and RTF by hand, and bytes the API must refuse. Each carries the
words of `WORDS`, so a test finds them in the PDF made of it. The engine's own hostile documents (zip
bombs, external references, macros) are tests/helpers/document_samples.py's."""

from __future__ import annotations

import io
import os
import zipfile
from collections.abc import Sequence

from tests.helpers.document_samples import xlsx_workbook

WORDS = ("Quarterly", "revenue", "grew", "steadily")
SENTENCE = " ".join(WORDS) + "."


def docx(paragraphs: Sequence[str] = (SENTENCE,), *, pages: int = 1) -> bytes:
    """A Word document: the paragraphs, repeated on `pages` pages (each after a page break)."""
    from docx import Document
    from docx.enum.text import WD_BREAK

    document = Document()
    for page in range(pages):
        for text in paragraphs:
            document.add_paragraph(text)
        if page < pages - 1:
            document.add_paragraph().add_run().add_break(WD_BREAK.PAGE)
    out = io.BytesIO()
    document.save(out)
    return out.getvalue()


def xlsx(sheets: dict[str, list[list[object]]] | None = None) -> bytes:
    """A workbook: one sheet per entry, in order (default one sheet holding WORDS)."""
    return xlsx_workbook(sheets or {"Summary": [list(WORDS), [1, 2, 3, 4]]})


def pptx(title: str = SENTENCE) -> bytes:
    """A presentation of one title slide."""
    from pptx import Presentation

    deck = Presentation()
    slide = deck.slides.add_slide(deck.slide_layouts[0])
    slide.shapes.title.text = title
    out = io.BytesIO()
    deck.save(out)
    return out.getvalue()


def odt(text: str = SENTENCE) -> bytes:
    """An OpenDocument text: the mimetype first and stored, as ODF requires, then its content."""
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as z:
        z.writestr(zipfile.ZipInfo("mimetype"), "application/vnd.oasis.opendocument.text")
        z.writestr(
            "META-INF/manifest.xml",
            '<?xml version="1.0" encoding="UTF-8"?>'
            '<manifest:manifest xmlns:manifest="urn:oasis:names:tc:opendocument:xmlns:manifest:1.0" manifest:version="1.2">'
            '<manifest:file-entry manifest:full-path="/" manifest:media-type="application/vnd.oasis.opendocument.text"/>'
            '<manifest:file-entry manifest:full-path="content.xml" manifest:media-type="text/xml"/>'
            "</manifest:manifest>",
            compress_type=zipfile.ZIP_DEFLATED,
        )
        z.writestr(
            "content.xml",
            '<?xml version="1.0" encoding="UTF-8"?>'
            '<office:document-content xmlns:office="urn:oasis:names:tc:opendocument:xmlns:office:1.0" '
            'xmlns:text="urn:oasis:names:tc:opendocument:xmlns:text:1.0" office:version="1.2">'
            f"<office:body><office:text><text:p>{text}</text:p></office:text></office:body>"
            "</office:document-content>",
            compress_type=zipfile.ZIP_DEFLATED,
        )
    return out.getvalue()


def rtf(text: str = SENTENCE) -> bytes:
    return ("{\\rtf1\\ansi\\deff0{\\fonttbl{\\f0 Times New Roman;}}\\f0\\fs24 " + text + "\\par}").encode("ascii")


def txt(text: str = SENTENCE) -> bytes:
    return (text + "\n").encode()


def csv(rows: Sequence[Sequence[object]] = (WORDS, (1, 2, 3, 4))) -> bytes:
    return "".join(",".join(str(cell) for cell in row) + "\n" for row in rows).encode()


def markdown(text: str = SENTENCE) -> bytes:
    return f"# Report\n\n{text}\n\n- one\n- two\n".encode()


def html(text: str = SENTENCE) -> bytes:
    return f'<!doctype html><html><head><meta charset="utf-8"><title>Report</title></head><body><p>{text}</p></body></html>'.encode()


# Every input kind of docs/api.md "Documents" that the tests send as a file: (file name, bytes).
def every_kind() -> dict[str, tuple[str, bytes]]:
    return {
        "docx": ("report.docx", docx()),
        "xlsx": ("report.xlsx", xlsx()),
        "pptx": ("report.pptx", pptx()),
        "odt": ("report.odt", odt()),
        "rtf": ("report.rtf", rtf()),
        "txt": ("report.txt", txt()),
        "csv": ("report.csv", csv()),
        "md": ("report.md", markdown()),
        "html": ("report.html", html()),
    }


def corrupt_docx() -> bytes:
    """A zip that says it is a Word document (its parts are named so) but whose main part is not XML."""
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr(
            "[Content_Types].xml",
            '<?xml version="1.0"?><Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types"/>',
        )
        z.writestr("word/document.xml", b"\x00\x01 this is not XML \xff" * 50)
    return out.getvalue()


def unknown_bytes(size: int = 4096) -> bytes:
    """Bytes of no format at all (NUL bytes included, so not text either)."""
    return b"\x00\x13\x37FGX" + os.urandom(size)


def pdf_pages(pdf: bytes) -> int:
    import pypdfium2

    document = pypdfium2.PdfDocument(pdf)
    try:
        return len(document)
    finally:
        document.close()
