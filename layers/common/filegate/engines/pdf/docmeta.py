"""Document-level data compress drops (docs/pdf-tools.md): what no viewer shows in the XMP metadata
(thumbnails, edit history, an editor's swatches and fonts lists), XMP attached to single images and forms, and
print-production output intents (ICC profiles of hundreds of KB) of documents that do not claim PDF/A.

A PDF/A document keeps its output intent and its claim (PDF/A requires both); any other loses its PDF/X claim
with its output intent, so it never claims a standard it no longer meets. Unreadable or oversized XMP is left
as it is.
"""

from __future__ import annotations

import pikepdf
from pikepdf import Name

from filegate.engines.pdf.flate import bounded_flate

# XMP larger than this (inflated) is not parsed.
MAX_XMP_BYTES = 4 * 1024 * 1024
_XAP = "http://ns.adobe.com/xap/1.0/"
# Properties, and whole namespaces, that only the application that wrote them reads.
PRIVATE_XMP_PROPERTIES = frozenset(
    {f"{{{_XAP}}}Thumbnails"}
    | {f"{{{_XAP}mm/}}{name}" for name in ("History", "DerivedFrom", "Manifest", "Ingredients", "Pantry")}
)
PRIVATE_XMP_NAMESPACES = (
    "http://ns.adobe.com/illustrator/1.0/",
    "http://ns.adobe.com/xap/1.0/t/pg/",  # xmpTPg: fonts, plates and swatches of the editor's document
    "http://ns.adobe.com/photoshop/1.0/",
)
PDFX_NAMESPACES = ("http://www.npes.org/pdfx/ns/id/", "http://ns.adobe.com/pdfx/1.3/")
PDFX_INFO_KEYS = ("/GTS_PDFXVersion", "/GTS_PDFXConformance")


def slim_document_data(pdf: pikepdf.Pdf) -> None:
    """Drop the private XMP and the output intents (see the module's note); in place."""
    for obj in pdf.objects:  # XMP of single images and forms: an editor's record, never shown
        if isinstance(obj, pikepdf.Stream) and obj.get("/Type") == Name.XObject and "/Metadata" in obj:
            del obj[Name.Metadata]
    claims_pdfa = _prune_xmp(pdf, drop_pdfx=False)
    if claims_pdfa is None or claims_pdfa:
        return
    has_intents = Name.OutputIntents in pdf.Root or any(Name.OutputIntents in p.obj for p in pdf.pages)
    if not has_intents:
        return
    if Name.OutputIntents in pdf.Root:
        del pdf.Root[Name.OutputIntents]
    for page in pdf.pages:
        if Name.OutputIntents in page.obj:
            del page.obj[Name.OutputIntents]
    for key in PDFX_INFO_KEYS:
        if key in pdf.docinfo:
            del pdf.docinfo[key]
    _prune_xmp(pdf, drop_pdfx=True)


def _prune_xmp(pdf: pikepdf.Pdf, *, drop_pdfx: bool) -> bool | None:
    """Remove the private properties (and the PDF/X claim with `drop_pdfx`) from the document's XMP; whether
    it claims PDF/A (False without XMP), None when the XMP is too large or unreadable (then nothing changes)."""
    metadata = pdf.Root.get("/Metadata")
    if not isinstance(metadata, pikepdf.Stream):
        return False
    if bounded_flate(metadata, MAX_XMP_BYTES) is None:
        return None
    try:
        with pdf.open_metadata(set_pikepdf_as_editor=False, update_docinfo=False, strict=True) as meta:
            claims_pdfa = bool(meta.pdfa_status)
            for key in list(meta.keys()):
                if _private(key) or (drop_pdfx and key.startswith(tuple(f"{{{ns}" for ns in PDFX_NAMESPACES))):
                    del meta[key]
    except Exception:  # any XMP the parser refuses is kept as it is, never an error
        return None
    rewritten = pdf.Root.get("/Metadata")  # pikepdf writes the edited XMP as a new stream
    if isinstance(rewritten, pikepdf.Stream):
        _compact_xmp(rewritten)
    return claims_pdfa


_XPACKET_BEGIN = '<?xpacket begin="\ufeff" id="W5M0MpCehiHzreSzNTczkc9d"?>'.encode()
_XPACKET_END = b'<?xpacket end="w"?>'


def _compact_xmp(metadata: pikepdf.Stream) -> None:
    """The XMP without what its meaning does not need: the indentation between elements and the namespaces
    that no property uses any more (both only bytes), in its xpacket wrapper; left alone when unreadable."""
    # Imported here: lxml is in the XMP layer, which only the functions that compress carry; those that read
    # a PDF's pages (FilesFunction, ImportFunction) import this module without it (template.yaml).
    from lxml import etree

    parser = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False, remove_blank_text=True)
    try:
        root = etree.fromstring(metadata.read_bytes(), parser)
        etree.cleanup_namespaces(root)
        body = etree.tostring(root, encoding="utf-8")
    except (etree.XMLSyntaxError, ValueError):
        return
    compact = _XPACKET_BEGIN + body + _XPACKET_END
    if len(compact) < len(metadata.read_bytes()):
        metadata.write(compact)


def _private(key: str) -> bool:
    return key in PRIVATE_XMP_PROPERTIES or key.startswith(tuple(f"{{{ns}" for ns in PRIVATE_XMP_NAMESPACES))
