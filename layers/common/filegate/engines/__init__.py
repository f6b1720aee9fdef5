"""Conversion engines behind one interface (docs/architecture.md "Engines sit behind one interface").

An engine parses its options (from the one option table, ``filegate.formats.options``), probes an input,
plans a conversion (its output format, the units it costs, the seconds it should take, and whether the
function answering a request may run it or must queue it to the engine's worker and wait), runs it, and
describes a file's metadata. ``engine_for(source, target)`` picks one and imports it on first use, so a
function carries only the engines it runs: the media worker has no imaging layer, and only the document
function's image has LibreOffice. Conversions, files and the
API never name an engine; engines import formats, errors and tiers only.

Pure: this package's own modules, ``interface`` (what every engine implements) and the choice below.
"""

from __future__ import annotations

from filegate.engines.interface import (
    Engine,
    EngineName,
    Merger,
    Options,
    Output,
    OverBudget,
    Plan,
    ProbedWhenStored,
    RunLimits,
    Segmented,
    Segmenting,
    Source,
    StreamedOutput,
    Workspace,
)
from filegate.formats.table import FORMATS, is_media_conversion, is_pdf_tool

__all__ = [
    "Engine",
    "EngineName",
    "Merger",
    "Options",
    "Output",
    "OverBudget",
    "Plan",
    "ProbedWhenStored",
    "RunLimits",
    "Segmented",
    "Segmenting",
    "Source",
    "StreamedOutput",
    "Workspace",
    "engine_for",
    "engine_name_for",
    "merger",
]


def engine_name_for(source: str, target: str | None) -> EngineName:
    """Which engine converts `source` to `target` (None: compress `source`), without importing it: the
    queue a job goes to is chosen here. The PDF tools run in the documents worker (OCR needs its Tesseract, and
    its image has pikepdf too), checked before the office formats."""
    if is_media_conversion(source, target):
        return "av"
    if is_pdf_tool(source, target):
        return "document"
    info = FORMATS.get(source)
    if info is not None and info.office:  # office files and text: LibreOffice (a PDF is the image engine's)
        return "document"
    return "image"


def engine_for(source: str, target: str | None) -> Engine:
    """The engine that converts `source` to `target` (None: compress `source`), imported on first use."""
    name = engine_name_for(source, target)
    if name == "av":
        from filegate.engines.av.engine import ENGINE as av_engine

        return av_engine
    if is_pdf_tool(source, target):
        from filegate.engines.pdf.engine import ENGINE as pdf_engine

        return pdf_engine
    if name == "document":
        from filegate.engines.document.engine import ENGINE as document_engine

        return document_engine
    from filegate.engines.image.engine import ENGINE as image_engine

    return image_engine


def merger() -> Merger:
    """What merges several inputs into one PDF (the PDF tools), imported on first use."""
    from filegate.engines.pdf.engine import MERGER

    MERGER.engine_for = engine_for  # a merge's documents are made PDFs by their own engine first
    return MERGER
