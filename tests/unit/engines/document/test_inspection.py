"""Inspection before conversion (docs/api.md "Documents" → Safety), on real hostile files. Pure: no LibreOffice."""

from __future__ import annotations

import contextlib
import io
import zipfile
from pathlib import Path

import pytest

from filegate.engines.document import inspection, text
from filegate.errors import ConversionFailed
from tests.helpers import document_samples as fd

URL = "http://127.0.0.1:9/"  # never contacted: these tests only read what inspection wrote


def test_a_zip_bomb_is_refused_before_conversion() -> None:
    bomb = fd.zip_bomb(64)
    assert len(bomb) * 100 < 64 << 20  # it does unpack to more than 100 times its size
    with pytest.raises(ConversionFailed, match="zip bomb"):
        inspection.inspect("docx", bomb)


def test_the_unpacked_size_is_counted_on_the_bytes_that_come_out() -> None:
    """A directory that understates its sizes does not get the bomb through."""
    bomb = bytearray(fd.zip_bomb(64))
    central = bomb.rfind(b"PK\x01\x02" + bytes(0))  # the last central directory entry: zeros.bin
    assert central > 0
    bomb[central + 24 : central + 28] = (1000).to_bytes(4, "little")  # uncompressed size: 1,000 bytes
    with pytest.raises(ConversionFailed):
        inspection.inspect("docx", bytes(bomb))


def test_the_unpacked_size_is_capped_whatever_the_ratio(monkeypatch: pytest.MonkeyPatch) -> None:
    """Past the absolute cap (1 GB; 6 MiB here, so the test stays small) a zip is refused even when it unpacks
    to only a few times its size; under it, the same kind of file passes."""
    import random

    monkeypatch.setattr(inspection, "MAX_ZIP_UNPACKED_BYTES", 6 << 20)
    noise = random.Random(1).randbytes(1 << 20)  # incompressible: keeps the ratio low

    def docx_unpacking_to(megabytes: int) -> bytes:
        return fd.rezip(
            fd.docx_document(), add={"word/media/noise.bin": noise, "word/media/z.bin": bytes(megabytes << 20)}
        )

    assert inspection.inspect("docx", docx_unpacking_to(2)).encrypted is False
    large = docx_unpacking_to(8)
    assert len(large) * 100 > 9 << 20  # far under the ratio
    with pytest.raises(ConversionFailed, match="zip bomb"):
        inspection.inspect("docx", large)


def test_more_than_10000_entries_are_refused() -> None:
    with pytest.raises(ConversionFailed, match="10,000"):
        inspection.inspect("docx", fd.zip_of_many_entries(10_001))


def test_10000_entries_are_accepted() -> None:
    entries = 10_000 - len(zipfile.ZipFile(io.BytesIO(fd.docx_document())).infolist())
    assert inspection.inspect("docx", fd.zip_of_many_entries(entries)).encrypted is False


def test_a_corrupt_document_is_conversion_failed() -> None:
    with pytest.raises(ConversionFailed, match="corrupt"):
        inspection.inspect("docx", fd.docx_document()[:-200])


def _damaged_zips() -> dict[str, bytes]:
    """A docx broken in each way zipfile reports differently (zlib.error, ValueError, NotImplementedError)."""
    docx = fd.docx_document()
    end = docx.rfind(b"PK\x05\x06")
    directory_offset = int.from_bytes(docx[end + 16 : end + 20], "little")
    # The directory said to start 64 bytes later than it does: every entry's offset comes out negative.
    moved = docx[: end + 16] + (directory_offset + 64).to_bytes(4, "little") + docx[end + 20 :]
    body = bytearray(docx)
    header = docx.find(b"PK\x03\x04\x14\x00\x00\x00\x08\x00")  # the first deflated entry
    name_length, extra_length = (int.from_bytes(docx[header + at : header + at + 2], "little") for at in (26, 28))
    start = header + 30 + name_length + extra_length
    body[start : start + 4] = b"\xff" * 4  # a deflate block of the reserved type
    future = bytearray(docx)
    entry = docx.find(b"PK\x01\x02")
    future[entry + 6 : entry + 8] = (174).to_bytes(2, "little")  # needs zip version 17.4 to extract
    return {"negative offsets": moved, "bad deflate data": bytes(body), "unknown zip version": bytes(future)}


@pytest.mark.parametrize("damage", ["negative offsets", "bad deflate data", "unknown zip version"])
def test_a_damaged_zip_is_conversion_failed_and_sniffing_it_never_crashes(damage: str) -> None:
    from filegate.errors import UnsupportedMediaType
    from filegate.formats.sniff import sniff

    damaged = _damaged_zips()[damage]
    with pytest.raises(ConversionFailed, match="corrupt"):
        inspection.inspect("docx", damaged)
    with contextlib.suppress(UnsupportedMediaType):
        sniff(damaged, "report.docx")


def test_mutated_documents_are_only_ever_refused_as_corrupt() -> None:
    """Seeded mutations (flipped, cut and inserted bytes) of a docx, an xlsx, an odt and an encrypted (OLE2)
    docx: sniffing and inspection either pass or refuse the file; nothing else escapes (a 500)."""
    import random

    from filegate.errors import UnsupportedMediaType
    from filegate.formats.sniff import sniff

    seeds = [
        ("docx", fd.docx_document()), ("xlsx", fd.xlsx_pages(1)), ("odt", fd.odt_with_macro(Path("/nonexistent"))),
        ("docx", fd.encrypted_ooxml(fd.docx_document(), "pw")),
    ]  # fmt: skip
    rng = random.Random(23)
    for _ in range(300):
        fmt, data = rng.choice(seeds)
        mutated = bytearray(data)
        for _ in range(rng.randint(1, 8)):
            at, roll = rng.randrange(len(mutated)), rng.random()
            if roll < 0.6:
                mutated[at] = rng.randrange(256)
            elif roll < 0.8:
                del mutated[at : at + rng.randint(1, 200)]
            else:
                mutated[at:at] = rng.randbytes(rng.randint(1, 20))
        with contextlib.suppress(ConversionFailed, UnsupportedMediaType):
            sniff(bytes(mutated), f"x.{fmt}")
        with contextlib.suppress(ConversionFailed):
            inspection.inspect(fmt, bytes(mutated))


def test_an_external_image_relationship_is_dropped_and_a_hyperlink_kept() -> None:
    hostile = fd.docx_with_external_image(URL + "pic.png")
    defused = inspection.inspect("docx", hostile)
    rels = fd.part(defused.data, "word/_rels/document.xml.rels").decode()
    assert URL not in rels and "external relationships" in defused.dropped
    linked = fd.docx_with_hyperlink("https://example.com/kept")
    assert (
        "https://example.com/kept"
        in fd.part(inspection.inspect("docx", linked).data, "word/_rels/document.xml.rels").decode()
    )


_RELATIONSHIP_TYPES = "http://schemas.openxmlformats.org/officeDocument/2006/relationships/"


@pytest.mark.parametrize(
    ("kind", "mode"),
    [
        ("oleObject", ' TargetMode="External"'), ("frame", ' TargetMode="External"'),
        ("subDocument", ' TargetMode="External"'), ("image", ' TargetMode="eXternal "'), ("image", ""),
    ],
)  # fmt: skip
def test_every_external_relationship_but_a_hyperlink_is_dropped(kind: str, mode: str) -> None:
    """Linked OLE objects, frames, sub-documents and pictures, marked External in any case or pointing at a
    URL unmarked: left out; the hyperlink beside them kept."""
    docx = fd.docx_document()
    rels = fd.part(docx, "word/_rels/document.xml.rels").decode()
    added = (
        f'<Relationship Id="rIdOut" Type="{_RELATIONSHIP_TYPES}{kind}" Target="{URL}{kind}"{mode}/>'
        f'<Relationship Id="rIdLink" Type="{_RELATIONSHIP_TYPES}hyperlink" Target="https://example.com/kept" '
        'TargetMode="External"/></Relationships>'
    )
    hostile = fd.rezip(docx, replace={"word/_rels/document.xml.rels": rels.replace("</Relationships>", added).encode()})
    defused = fd.part(inspection.inspect("docx", hostile).data, "word/_rels/document.xml.rels").decode()
    assert URL not in defused and "https://example.com/kept" in defused


def test_a_remote_template_is_dropped() -> None:
    defused = inspection.inspect("docx", fd.docx_with_remote_template(URL + "t.dotx"))
    assert URL not in fd.part(defused.data, "word/_rels/settings.xml.rels").decode()


def test_dde_and_include_fields_are_emptied() -> None:
    hostile = fd.docx_with_fields("DDEAUTO c:\\\\windows\\\\system32\\\\cmd.exe /k calc", "INCLUDETEXT /etc/passwd")
    body = fd.part(inspection.inspect("docx", hostile).data, "word/document.xml").decode()
    assert "cmd.exe" not in body and "/etc/passwd" not in body
    assert "field0" in body and "field1" in body  # the fields' shown text stays


def test_dde_links_in_a_workbook_are_blanked() -> None:
    link = (
        '<?xml version="1.0" encoding="UTF-8"?><externalLink xmlns="http://schemas.openxmlformats.org/'
        'spreadsheetml/2006/main"><ddeLink ddeService="cmd" ddeTopic="/c calc"/></externalLink>'
    )
    hostile = fd.rezip(fd.xlsx_pages(1), add={"xl/externalLinks/externalLink1.xml": link.encode()})
    part = fd.part(inspection.inspect("xlsx", hostile).data, "xl/externalLinks/externalLink1.xml").decode()
    assert 'ddeService=""' in part and "calc" not in part


def test_an_xml_entity_reading_a_local_file_is_refused() -> None:
    with pytest.raises(ConversionFailed, match="DOCTYPE"):
        inspection.inspect("docx", fd.docx_with_xxe("/etc/passwd"))


def test_xinclude_is_dropped() -> None:
    include = '<xi:include xmlns:xi="http://www.w3.org/2001/XInclude" href="file:///etc/passwd" parse="text"/>'
    hostile = fd.docx_with_body(fd.paragraph("kept") + include)
    body = fd.part(inspection.inspect("docx", hostile).data, "word/document.xml").decode()
    assert "XInclude" not in body and "kept" in body


def test_macros_are_left_out_and_their_event_binding_dropped(tmp_path: Path) -> None:
    defused = inspection.inspect("odt", fd.odt_with_macro(tmp_path / "marker"))
    names = zipfile.ZipFile(io.BytesIO(defused.data)).namelist()
    assert not [n for n in names if n.startswith("Basic/")]
    assert b"vnd.sun.star.script" not in fd.part(defused.data, "content.xml")
    assert names[0] == "mimetype"  # still an ODF package


def test_odf_linked_content_is_dropped_and_links_kept() -> None:
    content = (
        '<?xml version="1.0" encoding="UTF-8"?><office:document-content '
        'xmlns:office="urn:oasis:names:tc:opendocument:xmlns:office:1.0" '
        'xmlns:text="urn:oasis:names:tc:opendocument:xmlns:text:1.0" '
        'xmlns:draw="urn:oasis:names:tc:opendocument:xmlns:drawing:1.0" '
        'xmlns:xlink="http://www.w3.org/1999/xlink"><office:body><office:text>'
        f'<text:p><draw:frame><draw:image xlink:href="{URL}img.png"/></draw:frame>'
        '<draw:frame><draw:image xlink:href="file:///etc/passwd"/></draw:frame>'
        '<draw:frame><draw:image xlink:href="Pictures/inside.png"/></draw:frame>'
        '<text:a xlink:href="https://example.com/link">a link</text:a></text:p>'
        '<text:section-source xlink:href="file:///etc/passwd"/>'
        "</office:text></office:body></office:document-content>"
    )
    odt = fd.rezip(fd.odt_with_macro(Path("/nonexistent")), replace={"content.xml": content.encode()})
    part = fd.part(inspection.inspect("odt", odt).data, "content.xml").decode()
    assert URL not in part and "/etc/passwd" not in part
    assert "Pictures/inside.png" in part and "https://example.com/link" in part


def test_encrypted_documents_are_recognised() -> None:
    encrypted = fd.encrypted_ooxml(fd.docx_document(), "pw")
    assert inspection.inspect("docx", encrypted).encrypted
    assert not inspection.inspect("docx", fd.docx_document()).encrypted


def test_a_doctype_in_odf_is_refused() -> None:
    content = '<?xml version="1.0"?><!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]><x>&e;</x>'
    odt = fd.rezip(fd.odt_with_macro(Path("/nonexistent")), replace={"content.xml": content.encode()})
    with pytest.raises(ConversionFailed):
        inspection.inspect("odt", odt)


# ------------------------------------------------------------------------------------------------- text


def test_html_is_defused_to_a_single_static_page() -> None:
    page = (
        f'<html><head><link rel="stylesheet" href="{URL}s.css"><script>alert(1)</script></head><body>'
        f'<p onclick="x()">Hello <a href="https://example.com/">link</a></p><img src="{URL}remote.png">'
        '<img src="data:image/png;base64,iVBORw0KGgo="><iframe src="https://evil.example/"></iframe>'
        f'<p style="background: url({URL}bg.png)">styled</p><object data="{URL}o"></object></body></html>'
    )
    cleaned = text.defused_html(page)
    assert URL not in cleaned and "script" not in cleaned and "iframe" not in cleaned and "onclick" not in cleaned
    assert 'href="https://example.com/"' in cleaned and "data:image/png" in cleaned and "styled" in cleaned


def test_html_after_dropped_elements_left_open_inside_is_kept() -> None:
    """Every piece of text stays: a form's controls and an SVG whose elements are never closed are dropped,
    what follows them is not."""
    page = (
        "<p>before</p><form><label>Name</label><input name=x><select><option>a<option>b</select>"
        "<button>Send</button></form><p>after the form</p><svg><g><rect></svg><p>after the picture</p>"
    )
    cleaned = text.defused_html(page)
    assert "before" in cleaned and "Name" in cleaned and "after the form" in cleaned
    assert "after the picture" in cleaned
    assert "<input" not in cleaned and "option" not in cleaned and "Send" not in cleaned and "rect" not in cleaned


def test_markdown_is_commonmark_and_its_raw_html_is_shown_not_run() -> None:
    html = text.markdown_to_html(
        f"# Title\n\n*em* and [a link](https://example.com)\n\n<script>x</script>\n\n![p]({URL}p.png)"
    )
    assert "<h1>Title</h1>" in html and "<em>em</em>" in html and 'href="https://example.com"' in html
    assert "<script>" not in html and URL not in html


def test_two_parts_of_the_same_name_are_refused() -> None:
    """LibreOffice might read the other one than the one inspected."""
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # zipfile warns about the duplicate it is asked to write
        twice = fd.rezip(fd.docx_document(), add={"word/document.xml": fd.docx_with_xxe("/etc/passwd")[:10]})
    with pytest.raises(ConversionFailed, match="same name"):
        inspection.inspect("docx", twice)
