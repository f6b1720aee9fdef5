"""Office documents and text told from their bytes (docs/api.md "Documents"): OOXML and ODF zips by their parts,
legacy OLE2 files by their streams, RTF by its header, text by its bytes, then (text only) by the file
name's extension or the `source_format` field. Pure Python (olefile reads the OLE2 directory).

The files function may sniff only an object's first KiBs: a zip is then read from its local headers and an
OLE2 file whose directory lies past the head is told apart by its name (its bytes already say OLE2).
"""

from __future__ import annotations

import codecs
import io
import re
import struct
import zipfile

_ZIP_LOCAL_HEADER = b"PK\x03\x04"
_OLE2_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
_OOXML_PARTS = {"word/": "docx", "xl/": "xlsx", "ppt/": "pptx"}
_ODF_MIMETYPES = {
    "application/vnd.oasis.opendocument.text": "odt",
    "application/vnd.oasis.opendocument.spreadsheet": "ods",
    "application/vnd.oasis.opendocument.presentation": "odp",
}
# The stream that carries each legacy format's content.
_OLE2_STREAMS = {"worddocument": "doc", "workbook": "xls", "book": "xls", "powerpoint document": "ppt"}
_LEGACY = frozenset({"doc", "xls", "ppt"})
_TEXT = ("txt", "csv", "md", "html")
_TEXT_EXTENSIONS = {"txt": "txt", "text": "txt", "csv": "csv", "md": "md", "markdown": "md", "html": "html"}
_TEXT_EXTENSIONS["htm"] = "html"
_BOMS = ((codecs.BOM_UTF8, "utf-8-sig"), (codecs.BOM_UTF16_LE, "utf-16"), (codecs.BOM_UTF16_BE, "utf-16"))
_HTML_CHARSET = re.compile(rb"""<meta[^>]+charset\s*=\s*["']?\s*([A-Za-z0-9_.:-]{1,40})""", re.IGNORECASE)
_CHARSET_WINDOW = 4096


def extension_of(filename: str | None) -> str:
    """The lower-case extension of a file name ("" when it has none)."""
    name = (filename or "").rsplit("/", 1)[-1]
    return name.rsplit(".", 1)[-1].lower() if "." in name else ""


def sniff_container(data: bytes, filename: str | None) -> str | None:
    """docx/xlsx/pptx, odt/ods/odp, doc/xls/ppt or rtf, when the bytes are one of them; else None."""
    if data.startswith(_ZIP_LOCAL_HEADER):
        return _zip_format(data)
    if data.startswith(_OLE2_MAGIC):
        return _ole2_format(data, extension_of(filename))
    if data.startswith(b"{\\rtf"):
        return "rtf"
    return None


def _zip_format(data: bytes) -> str | None:
    names = _zip_names(data)
    if "mimetype" in names:
        return _ODF_MIMETYPES.get(_odf_mimetype(data))
    if "[Content_Types].xml" in names:
        for prefix, fmt in _OOXML_PARTS.items():
            if any(name.startswith(prefix) for name in names):
                return fmt
    return None


def _odf_mimetype(data: bytes) -> str:
    """An ODF package's media type: its first entry, `mimetype`, stored uncompressed."""
    method, size = struct.unpack("<H", data[8:10])[0], struct.unpack("<I", data[18:22])[0]
    name_length, extra_length = struct.unpack("<HH", data[26:30])
    if method != 0 or data[30 : 30 + name_length] != b"mimetype" or size > 200:
        return ""
    start = 30 + name_length + extra_length
    return data[start : start + size].decode("ascii", "replace").strip()


def _zip_names(data: bytes) -> set[str]:
    """Entry names from the central directory, or (a head only, or a damaged directory) from the local
    headers found in the bytes."""
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            return set(archive.namelist())
    except (zipfile.BadZipFile, ValueError, EOFError, OSError, NotImplementedError):
        pass
    names: set[str] = set()
    at = data.find(_ZIP_LOCAL_HEADER)
    while at >= 0 and at + 30 <= len(data):
        length = struct.unpack("<H", data[at + 26 : at + 28])[0]
        names.add(data[at + 30 : at + 30 + length].decode("utf-8", "replace"))
        at = data.find(_ZIP_LOCAL_HEADER, at + 30)
    return names


def _ole2_format(data: bytes, extension: str) -> str | None:
    import olefile

    try:
        with olefile.OleFileIO(data) as ole:
            streams = {"/".join(entry).lower() for entry in ole.listdir(streams=True, storages=False)}
    except Exception:  # a head only, or a damaged directory: the name decides among the three
        return extension if extension in _LEGACY else None
    for stream, fmt in _OLE2_STREAMS.items():
        if stream in streams:
            return fmt
    if "encryptedpackage" in streams:  # OOXML encrypted with a password: only its name tells which
        return extension if extension in _OOXML_PARTS.values() else "docx"
    return None


def decode_text(data: bytes) -> str | None:
    """The text of `data` when it is text (UTF-8, UTF-16 with a BOM, or an HTML page's declared charset,
    with no NUL), else None."""
    for bom, codec in _BOMS:
        if data.startswith(bom):
            return _decoded(data, codec)
    if b"\x00" in data:
        return None
    declared = _HTML_CHARSET.search(data[:_CHARSET_WINDOW])
    return _decoded(data, _declared_codec(declared.group(1)) if declared is not None else "utf-8")


def _declared_codec(label: bytes) -> str:
    """The codec an HTML page's declared charset names; UTF-8 for a label that names no text encoding (base64,
    zlib: a page must not pick a transform) or names UTF-16/32 (bytes without NUL cannot be: browsers do the
    same)."""
    try:
        info = codecs.lookup(label.decode("ascii"))
    except LookupError:
        return "utf-8"
    if not getattr(info, "_is_text_encoding", True) or info.name.startswith(("utf-16", "utf-32")):
        return "utf-8"
    return info.name


def _decoded(data: bytes, codec: str) -> str | None:
    try:
        text = data.decode(codec)
    except UnicodeDecodeError:
        return None
    return None if "\x00" in text else text


def is_text(data: bytes) -> bool:
    """Whether `data` is text by its bytes; a head cut in the middle of a character still counts."""
    if decode_text(data) is not None:
        return True
    cut = _cut_character(data)
    return 0 < cut < len(data) and decode_text(data[:-cut]) is not None


def _cut_character(data: bytes) -> int:
    """How many bytes at the end of `data` are the start of a character cut off there (0 when none): a UTF-16
    code unit or surrogate pair, or a UTF-8 sequence, short of its length. Nothing else is forgiven."""
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        odd = len(data) % 2
        unit = data[len(data) - odd - 2 : len(data) - odd]
        high = unit[1] if data.startswith(codecs.BOM_UTF16_LE) else unit[0]
        return odd + (2 if len(unit) == 2 and 0xD8 <= high <= 0xDB else 0)
    for back in range(1, min(3, len(data)) + 1):
        byte = data[-back]
        if byte < 0x80:
            return 0  # ASCII: no sequence is open
        if byte >= 0xC0:  # a lead byte: 2, 3 or 4 bytes long
            length = 2 if byte < 0xE0 else 3 if byte < 0xF0 else 4
            return back if back < length else 0
    return 0


def text_format(filename: str | None, source_format: str | None) -> str:
    """Which text format: the file name's extension, else `source_format`, else txt."""
    by_name = _TEXT_EXTENSIONS.get(extension_of(filename))
    if by_name is not None:
        return by_name
    if source_format in _TEXT:
        return source_format
    return "txt"


def names_text(filename: str | None, source_format: str | None) -> bool:
    """Whether the name or `source_format` says the file is text (a document, never a playlist)."""
    return extension_of(filename) in _TEXT_EXTENSIONS or source_format in _TEXT
