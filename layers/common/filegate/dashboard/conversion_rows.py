"""The conversions page's rows: each conversion with what it was made from and into, as people read it.

A job's input and output are files (their names, formats and sizes are on the file records, read in one
batch); a sync conversion keeps no input file, so its record carries what it was given, and its output
went back in the response (unless it was too large and was stored).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from filegate.conversions.records import MERGE_OPTION, conversion_json
from filegate.db import conversions as conversions_table
from filegate.db import files as files_table
from filegate.db.files import FileRecord
from filegate.listing import fetch_page


def human_bytes(size: float | None) -> str:
    if size is None:
        return "—"
    for unit, scale in (("GB", 1_000_000_000), ("MB", 1_000_000), ("kB", 1_000)):
        if size >= scale:
            return f"{size / scale:.1f} {unit}"
    return f"{int(size)} B"


def human_duration(start: datetime | None, end: datetime | None) -> str:
    if start is None or end is None:
        return "—"
    seconds = max((end - start).total_seconds(), 0.0)
    if seconds < 60:
        return f"{seconds:.1f} s"
    minutes, rest = divmod(round(seconds), 60)
    return f"{minutes} min {rest} s"


# The PDF tools a conversion applied, named as docs/pdf-tools.md names them, in the order they are applied
# (passwords are sealed, never on the record, so never here).
_PDF_TOOLS = {"pages": "pages", "rotate": "rotated", "ocr": "OCR", "pdf_a": "PDF/A"}


def pdf_tools_applied(options: dict[str, Any]) -> str:
    """``"pages, OCR"``: what a PDF tool did besides converting, for the row's formats cell ('' if nothing)."""
    return ", ".join(label for name, label in _PDF_TOOLS.items() if options.get(name))


def _row(record: conversions_table.ConversionRecord, files: dict[str, FileRecord]) -> dict[str, Any]:
    source = files.get(record.source_file_id or "")
    output = files.get(record.output_file_id or "")
    sync_answer = record.mode == "sync" and record.status == "succeeded" and not record.output_file_id
    options = record.options or {}
    name = (source.filename if source else record.source_name) or "—"
    from_format = (source.format if source else record.source_format) or "?"
    merged = options.get(MERGE_OPTION)
    if isinstance(merged, list) and len(merged) > 1:  # a merge job: its first input names it
        name, from_format = f"{name} and {len(merged) - 1} more", f"{len(merged)} files"
    return {
        **conversion_json(record),
        "name": name,
        "from_format": from_format,
        "tools": pdf_tools_applied(options),
        "to_format": record.target,
        "in_size": human_bytes(int(source.size) if source and source.size is not None else record.source_bytes),
        "out_size": human_bytes(int(output.size) if output and output.size is not None else record.output_bytes),
        "units": int(record.units or 0),
        "duration": human_duration(record.started_at or record.created_at, record.completed_at),
        "returned_in_response": sync_answer,
    }


def rows(account_id: str, *, limit: int, cursor: str | None) -> dict[str, Any]:
    """A page of the account's conversions, newest first (``data``, ``next_cursor``, as the API lists)."""
    page = fetch_page(lambda: conversions_table.list_for_account(account_id, limit=limit, cursor=cursor))
    file_ids = [i for r in page.items for i in (r.source_file_id, r.output_file_id) if i]
    files = {i: f for i, f in files_table.get_many(file_ids).items() if f.account_id == account_id}
    return {"data": [_row(record, files) for record in page.items], "next_cursor": page.next_cursor}
