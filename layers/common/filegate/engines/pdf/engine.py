"""The PDF tools' engine (filegate.engines.Engine for PDF → PDF and PDF compress) and merges.

Every run defuses its input and works in a forked child (isolation). Page surgery, merge, compress, PDF/A and
passwords run in the request when they fit the sync budget; OCR runs in the documents worker (Tesseract is in
its image), which is why the engine's queue is ``document``. A merge's documents are made PDFs first by the
engine that converts them (``engine_for``), so a merge with documents runs in that worker too.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from contextlib import ExitStack
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, TypeVar

from filegate.engines.image.limits import EngineLimits
from filegate.engines.interface import Engine, EngineName, Options, Output, OverBudget, Plan, Source, Workspace
from filegate.engines.pdf import compress, ocr, pages, pdfa
from filegate.engines.pdf.defuse import defuse
from filegate.engines.pdf.document import check_page_count, open_pdf, save
from filegate.engines.pdf.isolation import run_isolated
from filegate.engines.pdf.merge import MergeInput, merge
from filegate.errors import ConversionFailed, InvalidParameter, UnsupportedConversion
from filegate.formats.options import MERGE_OPTIONS, PDF_COMPRESS_OPTIONS, PDF_TOOL_OPTIONS, PdfOptions
from filegate.formats.table import FORMATS, MERGE_TARGET, content_type, mergeable, normalize, targets_for
from filegate.tiers import TIERS, Tier

# Pessimistic seconds on one Lambda core (about twice what tests/bench/bench_pdf_tools.py measures): opening
# and writing, per page moved, per megabyte re-encoded by compress.
_BASE_SECONDS = 0.3
_SECONDS_PER_PAGE = 0.002
_COMPRESS_SECONDS_PER_MB = 1.0
# Probing, and finding which pages need OCR (to price it), must not take the request's whole budget.
_PROBE_SECONDS = 10.0
_TEXT_SCAN_SECONDS = 20.0
TOOLS = ("pages", "rotate", "ocr", "pdf_a", "password")
T = TypeVar("T")


@dataclass(frozen=True)
class PdfProbe:
    """What opening the PDF told, without its password: its pages, or that it is encrypted."""

    size: int
    pages: int | None  # None: encrypted, unknown until input_password opens it
    source: Source


class PdfEngine:
    """PDF → PDF with options, and PDF compress (filegate.engines.Engine)."""

    name: EngineName = "document"
    reads_memory = True

    def parse_options(
        self, raw: Mapping[str, Any] | None, *, source: str, target: str | None, form: bool = False, field: str = ""
    ) -> PdfOptions:
        if target is None:
            names, what = PDF_COMPRESS_OPTIONS, "compressing a PDF"
        elif normalize(target) == "pdf":
            names, what = PDF_TOOL_OPTIONS, "a PDF made from a PDF"
        else:
            raise UnsupportedConversion(f"The PDF tools make PDFs, not {target[:20]}.")
        if form:
            options = PdfOptions.from_form(raw or {}, names, what=what)
        else:
            options = PdfOptions.from_json(raw, names, prefix=field or "options.", what=what)
        if target is not None and not options.has_tool():
            raise InvalidParameter(
                f"{field}pages: a PDF to PDF conversion needs at least one of {', '.join(TOOLS)} "
                "(to compress a PDF, use POST /v1/compress)."
            )
        return options

    def probe(self, source: Source, tier: Tier, workspace: Workspace | None) -> PdfProbe:
        """The page count, read in the isolated child too: resolving objects may inflate object streams."""
        data = source.read()
        return PdfProbe(len(data), _within(lambda: _page_count(data), _PROBE_SECONDS), source)

    def plan(self, source_format: str, target: str | None, options: Options, tier: Tier, probe: Any = None) -> Plan:
        assert isinstance(options, PdfOptions)
        if source_format != "pdf":
            raise UnsupportedConversion(f"The PDF tools take PDFs, not {source_format}.")
        units, seconds = 1, None
        if isinstance(probe, PdfProbe):
            if options.ocr:
                units = ocr.units_for(_pages_needing_ocr(probe, options))
            pages = probe.pages or 1
            seconds = _BASE_SECONDS + _SECONDS_PER_PAGE * pages
            if target is None:
                seconds += _COMPRESS_SECONDS_PER_MB * probe.size / 1e6
        return Plan(
            source_format, "pdf", units=units, estimated_seconds=seconds, in_request=not options.ocr, probe=probe
        )

    def run(
        self, source: Source, plan: Plan, options: Options, tier: Tier, workspace: Workspace, *, seconds: float | None
    ) -> Output:
        assert isinstance(options, PdfOptions)
        data, limits, workdir = source.read(), _limits(tier), workspace.workdir
        if options.has_tool():
            return _output(*run_isolated(lambda: apply_tools(data, options, limits, workdir), seconds))
        return _output(*run_isolated(lambda: compress_bytes(data, options, limits), seconds))  # no tool: compress

    def metadata(self, source: Source, workspace: Workspace, probe: Any = None) -> dict[str, Any]:
        found = probe if isinstance(probe, PdfProbe) else self.probe(source, TIERS["enterprise"], None)
        meta: dict[str, Any] = {"kind": "document", "format": "pdf"}
        if found.pages is not None:
            meta["pages"] = found.pages
        return meta


def _within(work: Callable[[], T], seconds: float) -> T:
    """Reading a PDF before the work (probe, pricing OCR): a file that takes longer is damaged or hostile."""
    try:
        return run_isolated(work, seconds)
    except OverBudget as exc:
        raise ConversionFailed("The PDF could not be read in time: it is damaged or built to stall readers.") from exc


def _page_count(data: bytes) -> int | None:
    """The PDF's pages; None when it is encrypted (its password is an option, read by the plan)."""
    try:
        with open_pdf(data) as pdf:
            return len(pdf.pages)
    except InvalidParameter:
        return None


def _output(data: bytes, pages: int) -> Output:
    """The output PDF with its file metadata (docs/api.md "Files")."""
    return Output("pdf", content_type("pdf"), data=data, metadata={"kind": "document", "format": "pdf", "pages": pages})


def _limits(tier: Tier) -> EngineLimits:
    """The tier's limits for the PDF tools: what they make is a PDF, so its pages are held to the tier's
    `max_document_pages` (docs/api.md "Documents"), as a document's PDF is."""
    return replace(EngineLimits.for_tier(tier), max_pdf_pages=tier.max_document_pages)


def apply_tools(data: bytes, options: PdfOptions, limits: EngineLimits, workdir: Path) -> tuple[bytes, int]:
    """The PDF tools in docs/pdf-tools.md's order: input_password, pages, rotate, ocr, pdf_a, password."""
    with ExitStack() as stack:
        pdf = stack.enter_context(open_pdf(data, options.input_password))
        if not options.pages:  # refused before any work (10,000 pages on a 2,000-page plan)
            check_page_count(len(pdf.pages), limits.max_pdf_pages)
        defuse(pdf)
        if options.pages:
            kept = pages.keep_pages(pdf, pages.parse_pages(options.pages, len(pdf.pages)))
            pdf = stack.enter_context(open_pdf(kept))
        check_page_count(len(pdf.pages), limits.max_pdf_pages)
        if options.rotate:
            pages.rotate(pdf, options.rotate)
        if options.ocr:
            ocr.add_text_layer(pdf, options.ocr_languages or ocr.DEFAULT_LANGUAGES, workdir)
        if options.pdf_a:
            pdfa.make_pdf_a(pdf)
        return save(pdf, password=options.password), len(pdf.pages)


def compress_bytes(data: bytes, options: PdfOptions, limits: EngineLimits) -> tuple[bytes, int]:
    """POST /v1/compress for a PDF: never larger than the input (the input itself when nothing is gained),
    unless a `password` asks for an encrypted output."""
    settings = compress.CompressSettings(
        quality=options.quality or compress.DEFAULT_QUALITY,
        dpi=options.dpi or compress.DEFAULT_DPI,
        max_pixels=limits.max_pixels,
    )
    with open_pdf(data, options.input_password) as pdf:
        count = len(pdf.pages)
        check_page_count(count, limits.max_pdf_pages)
        defuse(pdf)
        compress.compress_pdf(pdf, settings)
        candidate = compress.save_compressed(pdf, password=options.password)
    return (candidate if options.password is not None else compress.shrunk(data, candidate)), count


def _pages_needing_ocr(probe: PdfProbe, options: PdfOptions) -> int:
    """How many of the pages kept need OCR (docs/api.md §3 prices them), found in the isolated child."""
    data = probe.source.read()

    def count() -> int:
        with open_pdf(data, options.input_password) as pdf:
            total = len(pdf.pages)
        chosen = pages.parse_pages(options.pages, total) if options.pages else list(range(total))
        missing = set(ocr.pages_without_text(data, options.input_password))
        return sum(1 for index in chosen if index in missing)

    return _within(count, _TEXT_SCAN_SECONDS)


# ---------------------------------------------------------------- merge


def parse_merge_options(raw: Mapping[str, Any] | None, *, form: bool, field: str = "options.") -> PdfOptions:
    if form:
        return PdfOptions.from_form(raw or {}, MERGE_OPTIONS, what="a merge")
    return PdfOptions.from_json(raw, MERGE_OPTIONS, prefix=field or "options.", what="a merge")


def converted_first(fmt: str) -> bool:
    """Whether a merge input is a document (an office file, text): made a PDF by its own engine (``engine_for``:
    the document engine, LibreOffice), then merged like any PDF."""
    return fmt in FORMATS and not mergeable(fmt) and "pdf" in targets_for(fmt)


def plan_merge(formats: list[str], options: PdfOptions, sizes: list[int], *, field: str = "file") -> Plan:
    """A merge costs one unit per input (docs/api.md §3) and runs in the request when it fits; one with documents
    runs in the documents worker, whose image has the engine that converts them."""
    for index, fmt in enumerate(formats):
        if not (mergeable(fmt) or converted_first(fmt)):
            raise UnsupportedConversion(
                f"{field}[{index}]: {fmt} cannot be merged into a PDF; a merge takes PDFs, images and documents."
            )
    seconds = _BASE_SECONDS + _COMPRESS_SECONDS_PER_MB * sum(sizes) / 1e6 / 4
    in_request = not any(converted_first(fmt) for fmt in formats)
    return Plan("pdf", "pdf", units=len(formats), estimated_seconds=seconds, in_request=in_request)


EngineFor = Callable[[str, str | None], Engine]


def as_pdf(source: Source, tier: Tier, workspace: Workspace, *, seconds: float | None, engine_for: EngineFor) -> bytes:
    """A document made a PDF by the engine that converts it (`engine_for`: filegate.engines.engine_for, the
    document engine), with no options (as POST /v1/convert would)."""
    engine = engine_for(source.format, MERGE_TARGET)
    options = engine.parse_options({}, source=source.format, target=MERGE_TARGET)
    plan = engine.plan(source.format, MERGE_TARGET, options, tier, engine.probe(source, tier, workspace))
    output = engine.run(source, plan, options, tier, workspace, seconds=seconds)
    if output.data is not None:
        return output.data
    assert output.path is not None
    return output.path.read_bytes()


def run_merge(inputs: list[MergeInput], options: PdfOptions, tier: Tier, *, seconds: float | None) -> Output:
    limits = _limits(tier)

    def work() -> tuple[bytes, int]:
        merged = merge(inputs, page_size=options.page_size, limits=limits)
        try:
            check_page_count(len(merged.pages), limits.max_pdf_pages)
            return save(merged, password=options.password), len(merged.pages)
        finally:
            merged.close()

    return _output(*run_isolated(work, seconds))


class PdfMerger:
    """Merges (filegate.engines.Merger): PDFs, images and documents (converted first) in one PDF."""

    def __init__(self) -> None:
        # What makes a document a PDF first: filegate.engines.engine_for, handed over by filegate.engines.merger()
        # (the engines package imports this module, never the other way round: no import circle).
        self.engine_for: EngineFor | None = None

    def parse_options(self, raw: Mapping[str, Any] | None, *, form: bool = False, field: str = "") -> PdfOptions:
        return parse_merge_options(raw, form=form, field=field)

    def plan(self, formats: list[str], options: Options, sizes: list[int], *, field: str = "file") -> Plan:
        assert isinstance(options, PdfOptions)
        return plan_merge(formats, options, sizes, field=field)

    def run(
        self,
        inputs: list[tuple[Source, str]],
        options: Options,
        tier: Tier,
        workspace: Workspace,
        *,
        seconds: float | None,
    ) -> Output:
        assert isinstance(options, PdfOptions)
        deadline = None if seconds is None else time.monotonic() + seconds
        merged = []
        for source, title in inputs:
            if converted_first(source.format):
                if self.engine_for is None:
                    raise ConversionFailed(f"{title}: no engine to make this {source.format} a PDF here.")
                data = as_pdf(source, tier, workspace, seconds=_left(deadline), engine_for=self.engine_for)
                merged.append(MergeInput(MERGE_TARGET, data, title))
            else:
                merged.append(MergeInput(source.format, source.read(), title))
        return run_merge(merged, options, tier, seconds=_left(deadline))


def _left(deadline: float | None) -> float | None:
    """Seconds left before `deadline` (None: no deadline); past it, OverBudget."""
    if deadline is None:
        return None
    left = deadline - time.monotonic()
    if left <= 0:
        raise OverBudget("The merge did not fit its seconds.")
    return left


ENGINE = PdfEngine()
MERGER = PdfMerger()
