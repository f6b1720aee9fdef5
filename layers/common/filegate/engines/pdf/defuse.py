"""Hostile PDFs are defused on the way in (docs/pdf-tools.md): nothing in them runs, and the actions,
JavaScript and embedded files they carry are not in the output.

Every indirect object is visited once (flat, so reference cycles cost nothing), and each dictionary's direct
members a few levels down: automatic actions (/OpenAction, /AA) go, an action that is not a link (GoTo, URI,
Named) goes from wherever it hangs (/A, /Next), embedded files and the document's JavaScript go, file
attachment annotations go. Links stay links, outlines stay outlines.
"""

from __future__ import annotations

import pikepdf
from pikepdf import Array, Dictionary, Name

# Actions that only move the view or open a web link; every other kind (JavaScript, Launch, SubmitForm,
# ImportData, GoToR, GoToE, Rendition, Movie, Sound, RichMediaExecute, Hide, SetOCGState...) is dropped.
SAFE_ACTIONS = frozenset({"/GoTo", "/URI", "/Named"})
# How deep into one object's direct members the walk goes (a direct object nests only as deep as its bytes).
MAX_DEPTH = 12
_NAME_TREES_DROPPED = ("/JavaScript", "/EmbeddedFiles")


def defuse(pdf: pikepdf.Pdf) -> int:
    """Strip everything that could run or be opened from `pdf`; how many things were removed."""
    removed = 0
    root = pdf.Root
    names = root.get("/Names")
    if isinstance(names, Dictionary):
        for key in _NAME_TREES_DROPPED:
            if key in names:
                del names[key]
                removed += 1
    for key in ("/AA", "/OpenAction"):
        if key in root and not (key == "/OpenAction" and isinstance(root[key], Array)):  # a destination is fine
            del root[key]
            removed += 1
    acroform = root.get("/AcroForm")
    if isinstance(acroform, Dictionary) and "/XFA" in acroform:  # XFA forms carry their own scripts
        del acroform["/XFA"]
        removed += 1
    for page in pdf.pages:
        removed += _drop_attachments(page.obj)
    for obj in pdf.objects:
        if isinstance(obj, Dictionary | pikepdf.Stream):
            removed += _clean(obj, 0)
    return removed


def _drop_attachments(page: Dictionary) -> int:
    annots = page.get("/Annots")
    if not isinstance(annots, Array):
        return 0
    kept = [a for a in annots if not (isinstance(a, Dictionary) and a.get("/Subtype") == Name.FileAttachment)]
    dropped = len(annots) - len(kept)
    if dropped:
        page.Annots = Array(kept)
    return dropped


def _clean(obj: Dictionary | pikepdf.Stream, depth: int) -> int:
    """Remove automatic and unsafe actions, embedded file streams and JavaScript from one dictionary and its
    direct members."""
    removed = 0
    for key in ("/AA", "/JS"):
        if key in obj:
            del obj[key]
            removed += 1
    if "/EF" in obj:  # a file specification's embedded file streams
        del obj["/EF"]
        removed += 1
    # /Next chains actions (in an action) and links outline items (in an item, whose /Next has no /S).
    keys = ("/A", "/Next", "/OpenAction") if "/S" in obj else ("/A", "/OpenAction")
    for key in keys:
        value = obj.get(key)
        if isinstance(value, Dictionary) and str(value.get("/S", "")) not in SAFE_ACTIONS:
            del obj[key]
            removed += 1
    if str(obj.get("/S", "")) in ("/JavaScript", "/Launch"):
        obj["/S"] = Name.GoTo  # an indirect action object reached some other way: made inert
        for key in ("/JS", "/F", "/Win", "/Mac", "/Unix"):
            if key in obj:
                del obj[key]
        removed += 1
    if depth >= MAX_DEPTH:
        return removed
    for key in list(obj.keys()):
        value = obj.get(key)
        if isinstance(value, Dictionary) and not value.is_indirect:
            removed += _clean(value, depth + 1)
        elif isinstance(value, Array) and not value.is_indirect:
            for item in value:
                if isinstance(item, Dictionary) and not item.is_indirect:
                    removed += _clean(item, depth + 1)
    return removed
