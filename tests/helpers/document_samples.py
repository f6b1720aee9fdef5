"""Real office documents made in the tests (python-docx, openpyxl, python-pptx; legacy formats by LibreOffice
itself), and hostile ones made by hand."""

from __future__ import annotations

import io
import re
import subprocess
import zipfile
from pathlib import Path
from xml.sax.saxutils import escape

import docx
import openpyxl
import pptx
from docx.shared import Pt

# Words in every script the fonts must cover (docs/api.md "Documents").
SCRIPTS = {
    "latin": "Quick brown fox",
    "greek": "Καλημέρα κόσμε",
    "cyrillic": "Привет мир",
    "arabic": "مرحبا بالعالم",
    "hebrew": "שלום עולם",
    "devanagari": "नमस्ते दुनिया",
    "thai": "สวัสดีชาวโลก",
    "cjk": "你好世界こんにちは안녕하세요",
    "emoji": "😀🎉",
}


def words(page: int) -> list[str]:
    """The words written on a page of the sample documents (distinct per page, so order can be checked)."""
    return [f"page{page}word{i}" for i in range(12)]


def docx_document(pages: int = 1, *, font: str = "Calibri") -> bytes:
    document = docx.Document()
    style = document.styles["Normal"]
    style.font.name = font
    style.font.size = Pt(11)
    for page in range(1, pages + 1):
        document.add_heading(f"Heading {page}", level=1)
        document.add_paragraph(" ".join(words(page)))
        if page < pages:
            document.add_page_break()
    return _saved(document)


def docx_with_hyperlink(url: str) -> bytes:
    document = docx.Document()
    paragraph = document.add_paragraph("Go to ")
    rel = document.part.relate_to(url, docx.opc.constants.RELATIONSHIP_TYPE.HYPERLINK, is_external=True)
    link = docx.oxml.OxmlElement("w:hyperlink")
    link.set(docx.oxml.ns.qn("r:id"), rel)
    run = docx.oxml.OxmlElement("w:r")
    text = docx.oxml.OxmlElement("w:t")
    text.text = "the site"
    run.append(text)
    link.append(run)
    paragraph._p.append(link)
    return _saved(document)


def xlsx_workbook(sheets: dict[str, list[list[object]]]) -> bytes:
    workbook = openpyxl.Workbook()
    workbook.remove(workbook.active)
    for name, rows in sheets.items():
        sheet = workbook.create_sheet(name)
        for row in rows:
            sheet.append(row)
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def xlsx_pages(pages: int) -> bytes:
    """A workbook of `pages` sheets, each small enough to print on one page."""
    return xlsx_workbook({f"Sheet{p}": [[w] for w in words(p)] for p in range(1, pages + 1)})


def pptx_slides(slides: int) -> bytes:
    presentation = pptx.Presentation()
    for number in range(1, slides + 1):
        slide = presentation.slides.add_slide(presentation.slide_layouts[1])
        slide.shapes.title.text = f"Slide {number}"
        slide.placeholders[1].text = " ".join(words(number))
    buffer = io.BytesIO()
    presentation.save(buffer)
    return buffer.getvalue()


def _saved(document: docx.document.Document) -> bytes:
    buffer = io.BytesIO()
    document.save(buffer)
    return buffer.getvalue()


# ----------------------------------------------------------------------------------------- zip surgery


def rezip(data: bytes, replace: dict[str, bytes] | None = None, add: dict[str, bytes] | None = None) -> bytes:
    """The zip `data` with some entries' content replaced and others added."""
    replace, add = replace or {}, add or {}
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(data)) as source, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as target:
        for entry in source.infolist():
            target.writestr(entry.filename, replace.get(entry.filename, source.read(entry.filename)))
        for name, content in add.items():
            target.writestr(name, content)
    return out.getvalue()


def part(data: bytes, name: str) -> bytes:
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        return archive.read(name)


def docx_with_body(body_xml: str, *, prolog: str = "") -> bytes:
    """A docx whose document.xml body is `body_xml` (after an optional `prolog`, e.g. a DOCTYPE)."""
    base = docx_document()
    xml = part(base, "word/document.xml").decode()
    head = xml[: xml.index("<w:body>") + len("<w:body>")]
    if prolog:
        head = head.replace("?>", "?>" + prolog, 1)
    return rezip(base, replace={"word/document.xml": (head + body_xml + "</w:body></w:document>").encode()})


def paragraph(text: str) -> str:
    return f"<w:p><w:r><w:t>{text}</w:t></w:r></w:p>"


def docx_with_external_image(url: str) -> bytes:
    """A docx showing a picture linked (not embedded) from `url`: the converter must never fetch it."""
    document = docx.Document()
    document.add_paragraph("Before the picture")
    buffer = io.BytesIO()
    from PIL import Image

    Image.new("RGB", (8, 8), "red").save(buffer, "PNG")
    buffer.seek(0)
    document.add_picture(buffer)
    document.add_paragraph("After the picture")
    data = _saved(document)
    rels = part(data, "word/_rels/document.xml.rels").decode()
    rels = re.sub(r'Target="media/[^"]+"', f'Target="{url}" TargetMode="External"', rels)
    body = part(data, "word/document.xml").decode().replace("r:embed=", "r:link=")
    return rezip(data, replace={"word/_rels/document.xml.rels": rels.encode(), "word/document.xml": body.encode()})


def docx_with_remote_template(url: str) -> bytes:
    data = docx_document()
    settings = part(data, "word/settings.xml").decode()
    settings = settings.replace("<w:zoom", '<w:attachedTemplate r:id="rIdTemplate"/><w:zoom', 1)
    if "xmlns:r=" not in settings[:2000]:
        settings = settings.replace(
            "<w:settings ",
            '<w:settings xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships" ',
            1,
        )
    rels = (
        '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
        '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
        '<Relationship Id="rIdTemplate" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/'
        f'attachedTemplate" Target="{url}" TargetMode="External"/></Relationships>'
    )
    return rezip(
        data, replace={"word/settings.xml": settings.encode()}, add={"word/_rels/settings.xml.rels": rels.encode()}
    )


def docx_with_fields(*instructions: str) -> bytes:
    """A docx with simple fields (DDEAUTO, INCLUDETEXT…) whose instructions are given."""
    body = "".join(
        f'<w:p><w:fldSimple w:instr="{escape(instruction, {chr(34): "&quot;"})}"><w:r><w:t>field{index}</w:t></w:r>'
        "</w:fldSimple></w:p>"
        for index, instruction in enumerate(instructions)
    )
    return docx_with_body(paragraph("Fields follow") + body)


def rtf_with_fields(*instructions: str) -> bytes:
    """An RTF file (LibreOffice's own reader, no inspection) whose fields have the instructions given, each with
    a stale result ("stale<N>") that is all the output may show."""
    fields = "".join(
        f"{{\\field{{\\*\\fldinst {instruction}}}{{\\fldrslt stale{index}}}}}\\par "
        for index, instruction in enumerate(instructions)
    )
    return f"{{\\rtf1\\ansi Fields follow.\\par {fields}}}".encode()


def docx_with_xxe(path: str) -> bytes:
    prolog = f'<!DOCTYPE w:document [<!ENTITY xxe SYSTEM "file://{path}">]>'
    return docx_with_body(paragraph("Secret: &xxe;"), prolog=prolog)


def zip_bomb(unpacked_mb: int = 64) -> bytes:
    """A docx-shaped zip one of whose parts unpacks to `unpacked_mb` MB of zeros (about 1,000 times its size)."""
    base = docx_document()
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(base)) as source, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as target:
        for entry in source.infolist():
            target.writestr(entry.filename, source.read(entry.filename))
        with target.open("word/media/zeros.bin", "w") as stream:
            chunk = bytes(1 << 20)
            for _ in range(unpacked_mb):
                stream.write(chunk)
    return out.getvalue()


def zip_of_many_entries(count: int) -> bytes:
    return rezip(docx_document(), add={f"filler/item{i}.xml": b"<a/>" for i in range(count)})


def odt_with_macro(marker: Path) -> bytes:
    """An ODT whose Basic macro, bound to the document's load event, would write `marker`."""
    module = (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        '<!DOCTYPE script:module PUBLIC "-//OpenOffice.org//DTD OfficeDocument 1.0//EN" "module.dtd">\n'
        '<script:module xmlns:script="http://openoffice.org/2000/script" script:name="Module1" '
        'script:language="StarBasic">Sub Main\n'
        f'  Open "{marker}" For Output As #1\n  Print #1, "macro ran"\n  Close #1\nEnd Sub\n'
        "</script:module>"
    )
    library = (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        '<library:library xmlns:library="http://openoffice.org/2000/library" library:name="Standard" '
        'library:readonly="false" library:passwordprotected="false">'
        '<library:element library:name="Module1"/></library:library>'
    )
    libraries = (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        '<library:libraries xmlns:library="http://openoffice.org/2000/library" '
        'xmlns:xlink="http://www.w3.org/1999/xlink"><library:library library:name="Standard" '
        'library:link="false"/></library:libraries>'
    )
    content = (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        '<office:document-content xmlns:office="urn:oasis:names:tc:opendocument:xmlns:office:1.0" '
        'xmlns:text="urn:oasis:names:tc:opendocument:xmlns:text:1.0" '
        'xmlns:script="urn:oasis:names:tc:opendocument:xmlns:script:1.0" '
        'xmlns:xlink="http://www.w3.org/1999/xlink" office:version="1.3">'
        "<office:scripts><office:event-listeners>"
        '<script:event-listener script:language="ooo:script" script:event-name="dom:load" '
        'xlink:href="vnd.sun.star.script:Standard.Module1.Main?language=Basic&amp;location=document" '
        'xlink:type="simple"/>'
        "</office:event-listeners></office:scripts>"
        "<office:body><office:text><text:p>A document with a macro</text:p></office:text></office:body>"
        "</office:document-content>"
    )
    manifest = (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        '<manifest:manifest xmlns:manifest="urn:oasis:names:tc:opendocument:xmlns:manifest:1.0" manifest:version="1.3">'
        '<manifest:file-entry manifest:full-path="/" manifest:media-type="application/vnd.oasis.opendocument.text"/>'
        '<manifest:file-entry manifest:full-path="content.xml" manifest:media-type="text/xml"/>'
        '<manifest:file-entry manifest:full-path="Basic/script-lc.xml" manifest:media-type="text/xml"/>'
        '<manifest:file-entry manifest:full-path="Basic/Standard/script-lb.xml" manifest:media-type="text/xml"/>'
        '<manifest:file-entry manifest:full-path="Basic/Standard/Module1.xml" manifest:media-type="text/xml"/>'
        "</manifest:manifest>"
    )
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr(
            zipfile.ZipInfo("mimetype"), "application/vnd.oasis.opendocument.text", compress_type=zipfile.ZIP_STORED
        )
        archive.writestr("content.xml", content)
        archive.writestr("Basic/script-lc.xml", libraries)
        archive.writestr("Basic/Standard/script-lb.xml", library)
        archive.writestr("Basic/Standard/Module1.xml", module)
        archive.writestr("META-INF/manifest.xml", manifest)
    return out.getvalue()


def encrypted_ooxml(data: bytes, password: str) -> bytes:
    import msoffcrypto.format.ooxml

    out = io.BytesIO()
    msoffcrypto.format.ooxml.OOXMLFile(io.BytesIO(data)).encrypt(password, out)
    return out.getvalue()


# ------------------------------------------------------------------------------------------------ reading PDFs


def pdf_text(pdf: bytes | Path) -> str:
    """The PDF's text as pdftotext (poppler) extracts it, in reading order."""
    data = pdf.read_bytes() if isinstance(pdf, Path) else pdf
    return subprocess.run(
        ["pdftotext", "-enc", "UTF-8", "-", "-"], input=data, capture_output=True, check=True
    ).stdout.decode()


def pdf_fonts(pdf: bytes | Path) -> list[tuple[str, bool]]:
    """(name, embedded) of every font pdffonts (poppler) lists."""
    data = pdf.read_bytes() if isinstance(pdf, Path) else pdf
    listing = subprocess.run(["pdffonts", "-"], input=data, capture_output=True, check=True).stdout.decode()
    fonts = []
    for line in listing.splitlines()[2:]:
        columns = line.split()
        # name type [encoding] emb sub uni object ID: "emb" is the 5th field from the end
        fonts.append((columns[0], columns[-5] == "yes"))
    return fonts


def in_order(text: str, expected: list[str]) -> bool:
    """Whether every expected word appears in `text`, in that order."""
    at = 0
    for word in expected:
        found = text.find(word, at)
        if found < 0:
            return False
        at = found + len(word)
    return True
