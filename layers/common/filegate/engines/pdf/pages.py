"""`pages` (keep these pages, in this order) and `rotate` (clockwise, on `pages` or every page): pages are
moved, never re-rendered."""

from __future__ import annotations

import pikepdf

from filegate.errors import InvalidParameter


def parse_pages(spec: str, count: int) -> list[int]:
    """0-based page indexes from a 1-based list such as "3,1-2" (a range may run backwards: "5-3");
    InvalidParameter naming `pages` for a page the PDF does not have."""
    chosen: list[int] = []
    for part in spec.replace(" ", "").split(","):
        first, _, last = part.partition("-")
        start, end = int(first), int(last or first)
        for page in (start, end):
            if not 1 <= page <= count:
                raise InvalidParameter(f"pages: page {page} is not in this PDF, which has pages 1 to {count}.")
        step = 1 if end >= start else -1
        chosen.extend(range(start - 1, end - 1 + step, step))
    return chosen


def keep_pages(pdf: pikepdf.Pdf, indexes: list[int]) -> None:
    """Only these pages, in this order (a page listed twice appears twice)."""
    originals = list(pdf.pages)
    while len(pdf.pages):
        del pdf.pages[-1]
    for index in indexes:  # qpdf copies a page added twice: one page object sits once in the page tree
        pdf.pages.append(originals[index])


def rotate(pdf: pikepdf.Pdf, degrees: int) -> None:
    """Turn every page (those `pages` kept) clockwise by `degrees`, on top of its own /Rotate."""
    for page in pdf.pages:
        page.rotate(degrees, relative=True)
