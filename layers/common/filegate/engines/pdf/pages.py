"""`pages` (keep these pages, in this order) and `rotate` (clockwise, on `pages` or every page): pages are
moved, never re-rendered."""

from __future__ import annotations

import io

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


def keep_pages(pdf: pikepdf.Pdf, indexes: list[int]) -> bytes:
    """The PDF with only these pages, in this order (a page listed twice appears twice), as bytes to reopen:
    the page tree is rewritten at once (removing pages one by one is quadratic: seconds for 10,000 pages),
    which qpdf's cached page list does not see. Nothing else may still reach a page left out (an outline
    entry, a link, a named destination): its content must not travel in the output."""
    originals = [page.obj for page in pdf.pages]
    pdf.pages.append(pdf.pages[0])  # qpdf pushes inherited attributes (/Resources, /MediaBox...) down to pages
    del pdf.pages[-1]
    tree = pdf.Root.Pages
    chosen, seen = [], set()
    for index in indexes:
        page = originals[index]
        if index in seen:  # one page object sits once in the tree: a shallow copy, sharing its content
            page = pdf.make_indirect(pikepdf.Dictionary(dict(page.items())))
        seen.add(index)
        page.Parent = tree
        chosen.append(page)
    tree.Kids = pikepdf.Array(chosen)
    tree.Count = len(chosen)
    dropped = {page.objgen for index, page in enumerate(originals) if index not in seen}
    if dropped:
        for obj in pdf.objects:
            if isinstance(obj, pikepdf.Dictionary | pikepdf.Stream | pikepdf.Array) and obj.objgen not in dropped:
                _unlink(obj, dropped, 0)
    out = io.BytesIO()
    pdf.save(out, stream_decode_level=pikepdf.StreamDecodeLevel.none)
    return out.getvalue()


def _unlink(obj: pikepdf.Object, dropped: set[tuple[int, int]], depth: int) -> None:
    """Remove every reference to a dropped page from `obj` and its direct members."""

    def dropped_page(item: object) -> bool:
        return isinstance(item, pikepdf.Object) and item.is_indirect and item.objgen in dropped

    def direct_container(item: object) -> bool:
        return isinstance(item, pikepdf.Dictionary | pikepdf.Array) and not item.is_indirect and depth < 8

    if isinstance(obj, pikepdf.Array):
        for position, element in enumerate(obj):
            if dropped_page(element):
                obj[position] = None
            elif direct_container(element):
                _unlink(element, dropped, depth + 1)
        return
    for key in list(obj.keys()):
        item = obj.get(key)
        if dropped_page(item) or (isinstance(item, pikepdf.Array) and len(item) and dropped_page(item[0])):
            del obj[key]  # a page left out, or a destination on it: the entry or link keeps no target
        elif item is not None and direct_container(item):
            _unlink(item, dropped, depth + 1)


def rotate(pdf: pikepdf.Pdf, degrees: int) -> None:
    """Turn every page (those `pages` kept) clockwise by `degrees`, on top of its own /Rotate."""
    for page in pdf.pages:
        page.rotate(degrees, relative=True)
