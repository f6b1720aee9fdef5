"""The document engine (filegate.engines.Engine for office documents and text; docs/api.md "Documents").

Pipeline: the input is inspected and defused (inspection: zip limits, external references, DDE, DTDs;
text: decoded, Markdown rendered, HTML defused) → written into a job directory of the warm LibreOffice's
sandbox (office) → loaded with its format's own import filter (never LibreOffice's guess), macros never run,
links never updated → stored with the target's export filter (PDF: fonts embedded, `pages`, `pdf_a` as
PDF/A-2b) → the PDF's pages held to the tier's page limit → a preview page rendered by pdfium and encoded by
the image engine, so `width`/`height`/`fit`/`quality` behave as for images. Markdown → HTML needs no
LibreOffice. Runs only in the documents worker (the plan is never in a request).
"""

from __future__ import annotations

import dataclasses
import shutil
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from filegate.engines.document import inspection, text
from filegate.engines.document.office import Office, OfficeCrashed, OfficeTimeout
from filegate.engines.interface import EngineName, Options, Output, OverBudget, Plan, Source, Workspace
from filegate.errors import ConversionFailed, FileTooLarge, InvalidParameter
from filegate.formats.options import DocumentOptions, ImageOptions
from filegate.formats.table import (
    FORMATS,
    PDF_RASTER_TARGETS,
    PREVIEW_TARGETS,
    check_options_apply,
    compress_target,
    normalize,
    resolve_target,
    targets_for,
)
from filegate.tiers import Tier

DEFAULT_TIME_LIMIT_SECONDS = 120.0  # a conversion's time limit where the worker sets none (Workspace.limits)

# The import filter of each input format: LibreOffice never guesses a format from the bytes.
_IMPORT_FILTERS = {
    "docx": "MS Word 2007 XML",
    "doc": "MS Word 97",
    "odt": "writer8",
    "rtf": "Rich Text Format",
    "xlsx": "Calc MS Excel 2007 XML",
    "xls": "MS Excel 97",
    "ods": "calc8",
    "pptx": "Impress MS PowerPoint 2007 XML",
    "ppt": "MS PowerPoint 97",
    "odp": "impress8",
    "txt": "Text (encoded)",
    "csv": "Text - txt - csv (StarCalc)",
    "html": "HTML (StarWriter)",
    "md": "HTML (StarWriter)",  # rendered to HTML first
}
# CSV: comma-separated, double-quoted, UTF-8 (76), from line 1. Text: UTF-8.
_CSV_OPTIONS = "44,34,76,1"
_IMPORT_OPTIONS = {"txt": "UTF8", "csv": _CSV_OPTIONS}
_PDF_EXPORT = {"word": "writer_pdf_Export", "text": "writer_pdf_Export", "sheet": "calc_pdf_Export"}
_PDF_EXPORT["slides"] = "impress_pdf_Export"
_EXPORTS = {
    "docx": ("MS Word 2007 XML", ""),
    "odt": ("writer8", ""),
    "rtf": ("Rich Text Format", ""),
    "txt": ("Text (encoded)", "UTF8"),
    "xlsx": ("Calc MS Excel 2007 XML", ""),
    "ods": ("calc8", ""),
    "csv": ("Text - txt - csv (StarCalc)", _CSV_OPTIONS),
    "pptx": ("Impress MS PowerPoint 2007 XML", ""),
    "odp": ("impress8", ""),
}
_PDF_A_2B = 2  # the PDF export filter's SelectPdfVersion for PDF/A-2b


@dataclass(frozen=True)
class DocumentProbe:
    """What inspection found before any conversion (pages are counted only by converting)."""

    format: str
    encrypted: bool


class DocumentEngine:
    """Office documents and text (filegate.engines.Engine), converted by the warm LibreOffice of this process."""

    name: EngineName = "document"
    reads_memory = False

    def __init__(self, office: Office | None = None) -> None:
        self.office = office or Office()

    def parse_options(
        self, raw: Mapping[str, Any] | None, *, source: str, target: str | None, form: bool = False, field: str = ""
    ) -> DocumentOptions:
        prefix = field or "options."
        options = DocumentOptions.from_form(raw or {}) if form else DocumentOptions.from_json(raw, prefix=prefix)
        canonical = normalize(target or "")
        if canonical in targets_for(source):  # otherwise planning says the pair is not supported
            check_options_apply(options.given(), source, str(canonical), prefix=field)
        return options

    def probe(self, source: Source, tier: Tier, workspace: Workspace | None) -> DocumentProbe | None:
        """Inspection's verdict when the whole input is at hand (None when only its head is: the worker
        inspects it again before converting anyway)."""
        if source.data is None and source.path is None:
            return None
        return DocumentProbe(source.format, inspection.inspect(source.format, source.read()).encrypted)

    def plan(self, source_format: str, target: str | None, options: Options, tier: Tier, probe: Any = None) -> Plan:
        if target is None:
            compress_target(source_format)  # UnsupportedConversion: documents are converted, not compressed
        output = resolve_target(source_format, target or "")
        return Plan(source_format, output, units=1, estimated_seconds=None, in_request=False, probe=probe)

    def run(
        self, source: Source, plan: Plan, options: Options, tier: Tier, workspace: Workspace, *, seconds: float | None
    ) -> Output:
        assert isinstance(options, DocumentOptions)
        fmt, target = source.format, plan.target
        if fmt == "md" and target == "html":
            page = text.markdown_to_html(text.decoded(source.read())).encode()
            return Output("html", FORMATS["html"].content_type, data=page, metadata=_metadata("html", None))
        limit = seconds if seconds is not None else DEFAULT_TIME_LIMIT_SECONDS
        if seconds is None and workspace.limits is not None:
            limit = workspace.limits.wall_seconds
        produced = self._convert(fmt, source.read(), target, options, limit, seconds is not None, workspace.workdir)
        if target in PREVIEW_TARGETS:
            return _preview(produced, target, options, tier)
        pages = _pdf_pages(produced) if target == "pdf" else None
        if pages is not None and pages > tier.max_document_pages:
            raise FileTooLarge(
                f"The document makes a PDF of {pages:,} pages; your plan allows at most {tier.max_document_pages:,} "
                "(pages of the PDF produced)."
            )
        return Output(target, FORMATS[target].content_type, path=produced, metadata=_metadata(target, pages))

    def metadata(self, source: Source, workspace: Workspace, probe: Any = None) -> dict[str, Any]:
        """Office files have pages only once converted (docs/api.md "Files"): kind and format here."""
        return _metadata(source.format, None)

    # ------------------------------------------------------------------------------------------ conversion

    def _convert(
        self, fmt: str, data: bytes, target: str, options: DocumentOptions, limit: float, budget: bool, out: Path
    ) -> Path:
        """The LibreOffice output (a PDF for a preview) as a file in `out`."""
        prepared, encrypted = _prepared(fmt, data, options)
        exported = "pdf" if target in PREVIEW_TARGETS else target
        with self.office.job() as job:
            source_path = job / f"input.{_input_extension(fmt)}"
            source_path.write_bytes(prepared)
            result_path = job / f"output.{FORMATS[exported].extension}"
            request = _request(fmt, source_path, result_path, target, options)
            try:
                answer = self.office.convert(request, limit)
            except OfficeTimeout as exc:
                if budget:
                    raise OverBudget from exc
                raise ConversionFailed(
                    f"The document could not be converted within {limit:g} seconds: it was stopped."
                ) from exc
            except OfficeCrashed as exc:
                raise ConversionFailed("The converter stopped while converting this document.") from exc
            _raise_for(answer, options, target, encrypted=encrypted)
            if not result_path.exists() or result_path.stat().st_size == 0:
                raise ConversionFailed("The document could not be converted: the converter produced nothing.")
            kept = out / result_path.name
            shutil.move(result_path, kept)
        return kept


def _prepared(fmt: str, data: bytes, options: DocumentOptions) -> tuple[bytes, bool]:
    """The bytes LibreOffice gets (text as UTF-8, Markdown as HTML, HTML defused, office files inspected), and
    whether the document is encrypted."""
    if fmt == "md":
        return text.markdown_to_html(text.decoded(data)).encode(), False
    if fmt == "html":
        return text.defused_html(text.decoded(data)).encode(), False
    if fmt in ("txt", "csv"):
        return text.decoded(data).encode(), False
    inspected = inspection.inspect(fmt, data)
    if inspected.encrypted and options.input_password is None:
        raise InvalidParameter("input_password is needed: the document is encrypted.")
    return inspected.data, inspected.encrypted


def _input_extension(fmt: str) -> str:
    return "html" if fmt == "md" else FORMATS[fmt].extension


def _request(fmt: str, source: Path, result: Path, target: str, options: DocumentOptions) -> dict[str, Any]:
    request: dict[str, Any] = {
        "input": str(source),
        "output": str(result),
        "input_filter": _IMPORT_FILTERS[fmt],
        "input_options": _IMPORT_OPTIONS.get(fmt, ""),
    }
    if options.input_password is not None and fmt not in ("txt", "csv", "md", "html"):
        request["password"] = options.input_password
    if target in ("pdf", *PREVIEW_TARGETS):
        family = FORMATS[fmt].family
        assert family is not None
        # A csv is opened by Calc, so it prints as a sheet.
        request["export_filter"] = _PDF_EXPORT["sheet" if fmt == "csv" else family]
        request["filter_data"] = _pdf_filter_data(target, options)
        return request
    request["export_filter"], request["export_options"] = _EXPORTS[target]
    if target == "csv" and FORMATS[fmt].family == "sheet":
        request["sheet"] = options.sheet or "1"
    return request


def _pdf_filter_data(target: str, options: DocumentOptions) -> dict[str, Any]:
    data: dict[str, Any] = {"EmbedStandardFonts": True, "ExportNotes": False, "ExportNotesPages": False}
    if target in PREVIEW_TARGETS:
        data["PageRange"] = str(options.page or 1)
        return data
    ranges = options.page_ranges
    if ranges is not None:
        data["PageRange"] = str(ranges)
    if options.pdf_a:
        data["SelectPdfVersion"] = _PDF_A_2B
    return data


def _raise_for(answer: dict[str, Any], options: DocumentOptions, target: str, *, encrypted: bool) -> None:
    """The converter's refusal as the error the user gets."""
    if answer.get("ok"):
        return
    error = answer.get("error")
    if error == "password" or (error == "load" and encrypted):
        if options.input_password is None:
            raise InvalidParameter("input_password is needed: the document is encrypted.")
        raise InvalidParameter("input_password is wrong: the document could not be opened with it.")
    if error == "sheet":
        raise InvalidParameter(
            f"sheet {options.sheet!r} is not in the workbook; its sheets are: {answer.get('detail', '')}."
        )
    if error == "load":
        raise ConversionFailed("The document could not be read: it is corrupt, truncated or not what it claims.")
    # LibreOffice's PDF export fails when the pages asked for are all past the end.
    if error == "export" and target in PREVIEW_TARGETS:
        raise InvalidParameter(f"page {options.page or 1} is past the document's last page.")
    if error == "export" and target == "pdf" and options.pages is not None:
        raise InvalidParameter(f"pages {options.pages!r} are past the document's last page.")
    raise ConversionFailed("The document could not be converted to the requested format.")


def _pdf_pages(path: Path) -> int:
    import pypdfium2

    try:
        document = pypdfium2.PdfDocument(path)
    except pypdfium2.PdfiumError as exc:
        raise ConversionFailed("The converter produced an unreadable PDF.") from exc
    try:
        return len(document)
    finally:
        document.close()


def _preview(pdf: Path, target: str, options: DocumentOptions, tier: Tier) -> Output:
    """The one page LibreOffice exported, rendered and encoded by the image engine."""
    from filegate.engines.image.engine import convert
    from filegate.engines.image.limits import EngineLimits

    limits = EngineLimits.for_tier(tier)
    sized = ImageOptions(width=options.width, height=options.height, fit=options.fit or "contain", page=1)
    if target in PDF_RASTER_TARGETS:
        sized = dataclasses.replace(sized, quality=options.quality)
        result = convert(pdf.read_bytes(), target, sized, limits)
    else:  # the image engine renders a PDF page to a raster only: then from that raster, losslessly rendered
        page = convert(pdf.read_bytes(), "png", sized, limits)
        result = convert(page.data, target, ImageOptions(quality=options.quality), limits)
    return Output(result.format, result.content_type, data=result.data)


def _metadata(fmt: str, pages: int | None) -> dict[str, Any]:
    meta: dict[str, Any] = {"kind": "document", "format": fmt}
    if pages is not None:
        meta["pages"] = pages
    return meta


ENGINE = DocumentEngine()
