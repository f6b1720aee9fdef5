"""`pdf_a` (docs/pdf-tools.md): the output declared and shaped as PDF/A-2b: the identification in its XMP
metadata, an sRGB output intent, annotations that print, no encryption, actions, JavaScript or embedded files
(defuse already removed those). The pages are not re-rendered: a font the input did not embed stays
unembedded (docs/pdf-tools.md says how to check a file with veraPDF)."""

from __future__ import annotations

from functools import cache

import pikepdf
from pikepdf import Array, Dictionary, Name
from PIL import ImageCms

PRINT_FLAG = 4  # an annotation's /F bit that PDF/A requires set (and Hidden, Invisible, NoView clear)
_FORBIDDEN_FLAGS = 1 | 2 | 32


def make_pdf_a(pdf: pikepdf.Pdf) -> None:
    """Shape `pdf` as PDF/A-2b, in place."""
    with pdf.open_metadata(set_pikepdf_as_editor=False) as meta:
        meta["pdfaid:part"] = "2"
        meta["pdfaid:conformance"] = "B"
    intent = Dictionary(
        Type=Name.OutputIntent,
        S=Name.GTS_PDFA1,
        OutputConditionIdentifier=pikepdf.String("sRGB IEC61966-2.1"),
        Info=pikepdf.String("sRGB IEC61966-2.1"),
        DestOutputProfile=pdf.make_stream(_srgb_icc(), N=3),
    )
    pdf.Root.OutputIntents = Array([intent])
    for page in pdf.pages:
        annots = page.obj.get("/Annots")
        if isinstance(annots, Array):
            for annot in annots:
                if isinstance(annot, Dictionary):
                    flags = int(annot.get("/F", 0))
                    annot.F = (flags | PRINT_FLAG) & ~_FORBIDDEN_FLAGS


@cache
def _srgb_icc() -> bytes:
    profile = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB"))
    return bytes(profile.tobytes())
