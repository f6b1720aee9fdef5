"""Office documents inspected and defused before LibreOffice sees them (docs/api.md "Documents" → Safety). Pure.

OOXML and ODF zips: refused past the zip limits (entries, unpacked size against the file's own size, unpacked
size; counted on the bytes that actually come out, not on what the directory claims), every XML part parsed
without a DTD (a DOCTYPE, hence any entity, is refused: no OOXML or ODF part has one), then rewritten: external
relationships other than hyperlinks dropped (linked pictures, OLE objects, remote templates, frames, sub
documents), field codes that fetch or run (DDE, INCLUDETEXT, INCLUDEPICTURE, LINK) emptied, DDE links in
workbooks blanked, ODF links to outside content (``xlink:href`` with a scheme or an absolute path) dropped,
XInclude elements dropped, macro storage left out. Legacy OLE2 files are only checked for encryption
(LibreOffice opens them with macros off and links never updated, in the sandbox).
"""

from __future__ import annotations

import io
import re
import zipfile
import zlib
from dataclasses import dataclass
from xml.etree import ElementTree
from xml.parsers import expat

import defusedxml.ElementTree as SafeTree
from defusedxml import DefusedXmlException

from filegate.errors import ConversionFailed
from filegate.tiers import MAX_ZIP_ENTRIES, MAX_ZIP_RATIO, MAX_ZIP_UNPACKED_BYTES

_ZIP_FORMATS = frozenset({"docx", "xlsx", "pptx", "odt", "ods", "odp"})
_ODF_FORMATS = frozenset({"odt", "ods", "odp"})
_XML_SUFFIXES = (".xml", ".rels", ".vml")
_CHUNK = 1 << 16
_RELATIONSHIPS = "http://schemas.openxmlformats.org/package/2006/relationships"
_HYPERLINK = "/hyperlink"
_XLINK_HREF = "{http://www.w3.org/1999/xlink}href"
_XINCLUDE_URI = b"http://www.w3.org/2001/XInclude"
_XINCLUDE = "{" + _XINCLUDE_URI.decode() + "}"
_ODF_TEXT = "urn:oasis:names:tc:opendocument:xmlns:text:1.0"
_ODF_DRAW = "urn:oasis:names:tc:opendocument:xmlns:drawing:1.0"
_ODF_OFFICE = "urn:oasis:names:tc:opendocument:xmlns:office:1.0"
_ODF_TABLE = "urn:oasis:names:tc:opendocument:xmlns:table:1.0"
# Elements whose xlink:href is a link the reader follows, never content loaded: kept.
_ODF_LINKS = frozenset({f"{{{_ODF_TEXT}}}a", f"{{{_ODF_DRAW}}}a", f"{{{_ODF_TEXT}}}bookmark-ref"})
# Elements that only connect to outside data (DDE): dropped with what they hold.
_ODF_DDE = frozenset(
    {
        f"{{{_ODF_TEXT}}}dde-connection-decls",
        f"{{{_ODF_TEXT}}}dde-connection",
        f"{{{_ODF_TABLE}}}dde-links",
        f"{{{_ODF_OFFICE}}}dde-source",
        f"{{{_ODF_TABLE}}}table-source",
        f"{{{_ODF_TEXT}}}section-source",
    }
)
_ODF_PARTS = ("content.xml", "styles.xml", "settings.xml", "meta.xml")
# Macro storage (never run anyway: left out so nothing could).
_MACRO_ENTRY = re.compile(r"(^|/)(vbaProject\.bin|vbaData\.xml)$|^(Basic|Scripts)/", re.IGNORECASE)
# Word field instructions that fetch, include or run something: the instruction is emptied.
_FIELD_WORDS = r"(?:DDE|DDEAUTO|INCLUDETEXT|INCLUDEPICTURE|INCLUDE|IMPORT|LINK)"
_WORD_INSTRUCTION = re.compile(rb"(<w:instrText\b[^>]*>)\s*" + _FIELD_WORDS.encode() + rb"\b[^<]*(</w:instrText>)")
_WORD_SIMPLE_FIELD = re.compile(rb'(<w:fldSimple\b[^>]*\bw:instr=")\s*' + _FIELD_WORDS.encode() + rb'\b[^"]*(")')
# Attributes of a workbook's ddeLink (the only element that has them): which program, which topic.
_DDE_LINK = re.compile(rb'(\bdde(?:Service|Topic)=")[^"]*(")')
_ENCRYPTION_DATA = b"encryption-data"
_OLE2_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
# What zipfile raises on a damaged archive (offsets past either end, bad deflate data, unknown versions or
# methods, encrypted entries): each is a corrupt document.
_DAMAGED_ZIP = (zipfile.BadZipFile, zlib.error, EOFError, OSError, ValueError, NotImplementedError, RuntimeError)


@dataclass(frozen=True)
class Inspected:
    """A document fit to hand to LibreOffice: its bytes (rewritten where something was defused), whether it
    is encrypted, and what was dropped (for the tests and the logs; never user content)."""

    data: bytes
    encrypted: bool
    dropped: tuple[str, ...] = ()


def inspect(fmt: str, data: bytes) -> Inspected:
    """`data` of format `fmt` checked and defused; ConversionFailed for a hostile or corrupt container."""
    if data.startswith(_OLE2_MAGIC):
        # Legacy formats, and OOXML encrypted with a password (an OLE2 file holding an EncryptedPackage).
        return Inspected(data, encrypted=legacy_encrypted(fmt, data))
    if fmt in _ZIP_FORMATS:
        return _inspect_zip(fmt, data)
    return Inspected(data, encrypted=False)


def legacy_encrypted(fmt: str, data: bytes) -> bool:
    """Whether a Word 97, Excel 97 or PowerPoint 97 file (or an OOXML file in its OLE2 wrapper) is encrypted."""
    import olefile

    try:
        with olefile.OleFileIO(data) as ole:
            streams = {"/".join(entry).lower() for entry in ole.listdir()}
            if "encryptedpackage" in streams:
                return True
            if fmt == "doc" and "worddocument" in streams:
                fib = ole.openstream("WordDocument").read(12)
                return len(fib) >= 12 and bool(int.from_bytes(fib[10:12], "little") & 0x0100)
            if fmt == "xls":
                name = "Workbook" if "workbook" in streams else "Book"
                return _biff_has_filepass(ole.openstream(name).read(1 << 16))
            if fmt == "ppt":
                return "encryptedsummary" in streams
    except Exception as exc:  # olefile fails on damaged files with whatever its parsing meets
        raise ConversionFailed("The document could not be read: it is corrupt or truncated.") from exc
    return False


def _biff_has_filepass(stream: bytes) -> bool:
    """Whether a workbook's records, before its first sheet, include FILEPASS (0x002F): it is encrypted."""
    at = 0
    while at + 4 <= len(stream):
        kind, size = int.from_bytes(stream[at : at + 2], "little"), int.from_bytes(stream[at + 2 : at + 4], "little")
        if kind == 0x002F:
            return True
        if kind == 0x0085:  # BOUNDSHEET: past the globals' header
            return False
        at += 4 + size
    return False


# ------------------------------------------------------------------------------------------------- zips


def _inspect_zip(fmt: str, data: bytes) -> Inspected:
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
    except _DAMAGED_ZIP as exc:
        raise ConversionFailed("The document could not be read: it is corrupt or truncated.") from exc
    with archive:
        entries = archive.infolist()
        if len(entries) > MAX_ZIP_ENTRIES:
            raise ConversionFailed(
                f"The document holds {len(entries):,} files; at most {MAX_ZIP_ENTRIES:,} are accepted."
            )
        budget = _UnpackBudget(len(data))
        budget.claim(sum(entry.file_size for entry in entries))  # the directory's own claim, checked first
        budget.unpacked = 0
        if fmt in _ODF_FORMATS and _is_encrypted_odf(archive, budget):
            return Inspected(data, encrypted=True)
        # Always rebuilt, so LibreOffice reads exactly the parts checked here (never a second entry of the same
        # name, or bytes the directory does not account for); stored, not deflated: it only goes to a local disk.
        rebuilt = io.BytesIO()
        dropped: list[str] = []
        with zipfile.ZipFile(rebuilt, "w", zipfile.ZIP_STORED) as out:
            for entry in entries:
                if _MACRO_ENTRY.search(entry.filename):
                    dropped.append("macros")
                    continue
                if entry.filename in out.NameToInfo:
                    raise ConversionFailed("The document holds two parts of the same name: it is refused.")
                content = _read_entry(archive, entry, budget)
                if entry.filename.lower().endswith(_XML_SUFFIXES):
                    content = _defused_part(fmt, entry.filename, content, dropped)
                out.writestr(zipfile.ZipInfo(entry.filename, date_time=entry.date_time), content)
    return Inspected(rebuilt.getvalue(), encrypted=False, dropped=tuple(dict.fromkeys(dropped)))


class _UnpackBudget:
    def __init__(self, packed: int) -> None:
        self.limit = min(MAX_ZIP_UNPACKED_BYTES, MAX_ZIP_RATIO * max(packed, 1))
        self.unpacked = 0

    def claim(self, size: int) -> None:
        self.unpacked += size
        if self.unpacked > self.limit:
            raise ConversionFailed(
                f"The document unpacks to more than {MAX_ZIP_RATIO} times its size (or past "
                f"{MAX_ZIP_UNPACKED_BYTES // (1 << 30)} GB): it is refused as a zip bomb."
            )


def _read_entry(archive: zipfile.ZipFile, entry: zipfile.ZipInfo, budget: _UnpackBudget) -> bytes:
    pieces: list[bytes] = []
    try:
        with archive.open(entry) as stream:
            while chunk := stream.read(_CHUNK):
                budget.claim(len(chunk))
                pieces.append(chunk)
    except _DAMAGED_ZIP as exc:
        raise ConversionFailed("The document could not be read: it is corrupt or truncated.") from exc
    return b"".join(pieces)


def _is_encrypted_odf(archive: zipfile.ZipFile, budget: _UnpackBudget) -> bool:
    try:
        manifest = archive.getinfo("META-INF/manifest.xml")
    except KeyError:
        return False
    content = _read_entry(archive, manifest, budget)
    budget.unpacked -= len(content)  # read again when the zip is rebuilt
    _parsed(content)
    return _ENCRYPTION_DATA in content


def _parsed(content: bytes) -> ElementTree.Element:
    """The part's root, parsed with no DTD (so no entity) allowed."""
    try:
        root: ElementTree.Element = SafeTree.fromstring(
            content, forbid_dtd=True, forbid_entities=True, forbid_external=True
        )
    except (DefusedXmlException, ElementTree.ParseError, ValueError) as exc:
        raise ConversionFailed(
            "The document holds XML with a DOCTYPE or entities, or XML that cannot be parsed: it is refused."
        ) from exc
    return root


def _checked(content: bytes) -> None:
    """ConversionFailed unless the part is well-formed XML with no DOCTYPE (so no entity): expat alone, no
    tree built (a document's largest parts hold hundreds of thousands of elements)."""
    parser = expat.ParserCreate()

    def refuse(*_args: object) -> None:
        raise DefusedXmlException("DOCTYPE")

    parser.StartDoctypeDeclHandler = refuse
    parser.EntityDeclHandler = refuse
    try:
        parser.Parse(content, True)
    except (DefusedXmlException, expat.ExpatError, ValueError) as exc:
        raise ConversionFailed(
            "The document holds XML with a DOCTYPE or entities, or XML that cannot be parsed: it is refused."
        ) from exc


def _defused_part(fmt: str, name: str, content: bytes, dropped: list[str]) -> bytes:
    _checked(content)
    if name.endswith(".rels"):
        return _defused_relationships(_parsed(content), content, dropped)
    if fmt in _ODF_FORMATS:
        return _defused_odf(name, content, dropped)
    if _XINCLUDE_URI in content:
        dropped.append("xinclude")
        content = _serialized(_without_xinclude(_parsed(content)))
    fields = _WORD_INSTRUCTION.sub(rb"\1\2", content)
    fields = _WORD_SIMPLE_FIELD.sub(rb"\1\2", fields)
    if fields != content:
        dropped.append("fields")
    links = _DDE_LINK.sub(rb"\1\2", fields)
    if links != fields:
        dropped.append("dde")
    return links


def _defused_relationships(root: ElementTree.Element, content: bytes, dropped: list[str]) -> bytes:
    """External relationships other than hyperlinks left out (a linked picture is left out, a link stays): those
    marked External, and those whose target is a URL however they are marked."""
    outside = [
        rel
        for rel in root
        if (rel.get("TargetMode", "").strip().lower() == "external" or _has_scheme(rel.get("Target", "")))
        and not rel.get("Type", "").endswith(_HYPERLINK)
    ]
    if not outside:
        return content
    for rel in outside:
        root.remove(rel)
    dropped.append("external relationships")
    ElementTree.register_namespace("", _RELATIONSHIPS)
    return _serialized(root)


def _defused_odf(name: str, content: bytes, dropped: list[str]) -> bytes:
    if name.rsplit("/", 1)[-1] not in _ODF_PARTS:
        return content
    root = _parsed(content)
    changed = _has_xinclude(root)
    if changed:
        dropped.append("xinclude")
        root = _without_xinclude(root)
    for parent in root.iter():
        for child in list(parent):
            if child.tag in _ODF_DDE:
                parent.remove(child)
                dropped.append("dde")
                changed = True
        href = parent.get(_XLINK_HREF)
        if href is not None and parent.tag not in _ODF_LINKS and _points_outside(href):
            del parent.attrib[_XLINK_HREF]
            dropped.append("linked content")
            changed = True
    if not changed:
        return content
    for prefix, uri in _namespaces(content):
        ElementTree.register_namespace(prefix, uri)
    return _serialized(root)


def _serialized(root: ElementTree.Element) -> bytes:
    written: bytes = ElementTree.tostring(root, xml_declaration=True, encoding="UTF-8")
    return written


_SCHEME = re.compile(r"^\s*[A-Za-z][A-Za-z0-9+.-]*:")


def _has_scheme(target: str) -> bool:
    """Whether `target` is a URL (http:, file:, smb:, a drive letter…), never a part of the package."""
    return bool(_SCHEME.match(target))


def _points_outside(href: str) -> bool:
    """A reference to anything but a part of the package itself (``Pictures/…``, ``./Object 1``, ``#mark``)."""
    cleaned = href.strip()
    return _has_scheme(cleaned) or cleaned.startswith(("/", "\\", "../", "..\\"))


def _has_xinclude(root: ElementTree.Element) -> bool:
    return any(element.tag.startswith(_XINCLUDE) for element in root.iter())


def _without_xinclude(root: ElementTree.Element) -> ElementTree.Element:
    for parent in root.iter():
        for child in list(parent):
            if child.tag.startswith(_XINCLUDE):
                parent.remove(child)
    return root


_NAMESPACE_DECLARATION = re.compile(rb'xmlns:([A-Za-z_][\w.-]*)="([^"]+)"')


def _namespaces(content: bytes) -> list[tuple[str, str]]:
    """The part's own prefixes, kept when it is written again (ODF readers go by namespace, people by prefix)."""
    return [(p.decode(), u.decode()) for p, u in _NAMESPACE_DECLARATION.findall(content[:65536])]
