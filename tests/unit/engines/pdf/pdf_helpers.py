"""Running the PDF engine as the functions do, and reading what it made."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import pikepdf
import pypdfium2 as pdfium

from filegate.engines import Output, Plan, Source, Workspace
from filegate.engines.pdf.engine import ENGINE
from filegate.tiers import TIERS, Tier

PRO = TIERS["pro"]


def plan_of(data: bytes, raw: dict[str, Any], *, target: str | None = "pdf", tier: Tier = PRO) -> Plan:
    options = ENGINE.parse_options(raw, source="pdf", target=target)
    return ENGINE.plan("pdf", target, options, tier, ENGINE.probe(Source("pdf", data=data), tier, None))


def run(
    data: bytes,
    raw: dict[str, Any],
    workdir: Path,
    *,
    target: str | None = "pdf",
    tier: Tier = PRO,
    seconds: float = 60,
) -> Output:
    """A PDF tool (target pdf) or a compress (target None) with JSON options, as a worker or a request runs it."""
    options = ENGINE.parse_options(raw, source="pdf", target=target)
    source = Source("pdf", data=data)
    plan = ENGINE.plan("pdf", target, options, tier, ENGINE.probe(source, tier, None))
    return ENGINE.run(source, plan, options, tier, Workspace(workdir), seconds=seconds)


def page_texts(data: bytes, password: str | None = None) -> list[str]:
    document = pdfium.PdfDocument(data, password=password)
    try:
        texts = []
        for index in range(len(document)):
            page = document[index]
            textpage = page.get_textpage()
            texts.append(textpage.get_text_range())
            textpage.close()
            page.close()
        return texts
    finally:
        document.close()


def opened(data: bytes, password: str = "") -> pikepdf.Pdf:
    return pikepdf.open(io.BytesIO(data), password=password)


def every_object(pdf: pikepdf.Pdf) -> list[pikepdf.Object]:
    """Every object `pdf` holds (its indirect objects, and their direct members, recursively); valid while
    `pdf` is open."""
    found: list[pikepdf.Object] = []

    def walk(obj: pikepdf.Object, depth: int) -> None:
        found.append(obj)
        if depth > 20:
            return
        if isinstance(obj, pikepdf.Dictionary | pikepdf.Stream):
            for _, value in obj.items():
                if isinstance(value, pikepdf.Object) and not value.is_indirect:
                    walk(value, depth + 1)
        elif isinstance(obj, pikepdf.Array):
            for value in obj:
                if isinstance(value, pikepdf.Object) and not value.is_indirect:
                    walk(value, depth + 1)

    for obj in pdf.objects:
        walk(obj, 0)
    walk(pdf.trailer, 0)
    return found


def names_in(data: bytes) -> set[str]:
    """Every dictionary key and name value anywhere in the output."""
    names: set[str] = set()
    pdf = opened(data)
    for obj in every_object(pdf):
        if isinstance(obj, pikepdf.Dictionary | pikepdf.Stream):
            for key, value in obj.items():
                names.add(key)
                if isinstance(value, pikepdf.Name):
                    names.add(str(value))
    return names
