"""Merge (docs/pdf-tools.md): PDFs, images and (converted first) documents into one PDF, in order. A PDF's
pages are moved as they are; an image becomes one page, at its own size or fitted to `page_size`. The
output's outline has one top-level entry per input, holding that input's own outline."""

from __future__ import annotations

import io
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pikepdf
from pikepdf import Array, Dictionary, Name, NameTree, String
from PIL import Image

from filegate.engines.image.engine import convert as convert_image
from filegate.engines.image.limits import EngineLimits
from filegate.engines.pdf.defuse import defuse
from filegate.engines.pdf.document import open_pdf

# Page sizes in points, portrait; a landscape image gets the page turned.
PAGE_SIZES = {"a4": (595.276, 841.89), "letter": (612.0, 792.0)}
# An image without a resolution of its own is placed at 1 pixel per point (72 dpi)...
DEFAULT_IMAGE_DPI = 72.0
# ...raised so the page stays within the PDF spec's 200-inch limit.
MAX_PAGE_POINTS = 14_400.0
# An input's outline is copied this deep and this long at most (a hostile outline may be a cycle or huge).
MAX_OUTLINE_DEPTH = 8
MAX_OUTLINE_ITEMS = 10_000


@dataclass(frozen=True)
class MergeInput:
    format: str  # "pdf" or an image format (documents are PDFs by the time they get here)
    data: bytes
    title: str  # the top-level outline entry: the input's file name


@dataclass
class _Entry:
    title: str
    page: int | None  # 0-based, in its own input
    children: list[_Entry] = field(default_factory=list)


def merge(inputs: list[MergeInput], *, page_size: str | None, limits: EngineLimits) -> pikepdf.Pdf:
    """One PDF of every input in order (the caller saves it)."""
    merged = pikepdf.new()
    with merged.open_outline() as outline:
        for item in inputs:
            first = len(merged.pages)
            if item.format == "pdf":
                entries = _append_pdf(merged, item.data)
            else:
                _append_image(merged, item.data, item.format, page_size, limits)
                entries = []
            top = pikepdf.OutlineItem(item.title, first)
            top.children.extend(_outline_items(entries, first))
            outline.root.append(top)
    return merged


def _append_pdf(merged: pikepdf.Pdf, data: bytes) -> list[_Entry]:
    with open_pdf(data) as source:
        defuse(source)
        entries = _outline_of(source)
        merged.pages.extend(source.pages)
    return entries


def _outline_items(entries: list[_Entry], first: int) -> Iterator[pikepdf.OutlineItem]:
    for entry in entries:
        item = pikepdf.OutlineItem(entry.title, first + (entry.page or 0))
        item.children.extend(_outline_items(entry.children, first))
        yield item


def _outline_of(pdf: pikepdf.Pdf) -> list[_Entry]:
    """The PDF's outline as titles and page indexes (entries whose target is not one of its pages point at its
    first page); bounded in depth and length."""
    pages = {page.obj.objgen: index for index, page in enumerate(pdf.pages)}
    named = _named_destinations(pdf)
    budget = [MAX_OUTLINE_ITEMS]

    def walk(items: list[pikepdf.OutlineItem], depth: int) -> list[_Entry]:
        entries = []
        for item in items:
            if budget[0] <= 0:
                break
            budget[0] -= 1
            children = walk(list(item.children), depth + 1) if depth < MAX_OUTLINE_DEPTH else []
            entries.append(_Entry(str(item.title or "")[:500], _target(item, pages, named), children))
        return entries

    try:
        with pdf.open_outline(max_depth=MAX_OUTLINE_DEPTH, strict=False) as outline:
            return walk(list(outline.root), 0)
    except (pikepdf.PdfError, pikepdf.OutlineStructureError, RecursionError, ValueError):
        return []


def _named_destinations(pdf: pikepdf.Pdf) -> dict[str, pikepdf.Object]:
    names = pdf.Root.get("/Names")
    found: dict[str, pikepdf.Object] = {}
    if isinstance(names, Dictionary) and isinstance(names.get("/Dests"), Dictionary):
        try:
            for index, (key, value) in enumerate(NameTree(names.Dests).items()):
                if index >= MAX_OUTLINE_ITEMS:
                    break
                found[str(key)] = value
        except (pikepdf.PdfError, RecursionError, ValueError):
            pass
    dests = pdf.Root.get("/Dests")
    if isinstance(dests, Dictionary):
        found.update({str(k)[1:]: v for k, v in list(dests.items())[:MAX_OUTLINE_ITEMS]})
    return found


def _target(
    item: pikepdf.OutlineItem, pages: dict[tuple[int, int], int], named: dict[str, pikepdf.Object]
) -> int | None:
    destination: Any = item.destination
    if destination is None and isinstance(item.action, Dictionary) and item.action.get("/S") == Name.GoTo:
        destination = item.action.get("/D")
    if isinstance(destination, String | Name):
        destination = named.get(str(destination).lstrip("/"))
    if isinstance(destination, Dictionary):
        destination = destination.get("/D")
    if isinstance(destination, Array) and len(destination) and isinstance(destination[0], Dictionary):
        return pages.get(destination[0].objgen)
    return None


def _append_image(merged: pikepdf.Pdf, data: bytes, fmt: str, page_size: str | None, limits: EngineLimits) -> None:
    """One page holding the image: a JPEG as it is, any other image decoded by the image engine (orientation
    and colour applied) and stored losslessly."""
    picture, stream = _image_stream(merged, data, fmt, limits)
    width_px, height_px = picture.size
    dpi = picture.info.get("dpi", (DEFAULT_IMAGE_DPI, DEFAULT_IMAGE_DPI))
    width, height = width_px * 72 / _positive(dpi[0]), height_px * 72 / _positive(dpi[1])
    grow = max(1.0, max(width, height) / MAX_PAGE_POINTS)
    width, height = width / grow, height / grow
    if page_size is None:
        page_width, page_height = width, height
        x, y, w, h = 0.0, 0.0, width, height
    else:
        page_width, page_height = PAGE_SIZES[page_size]
        if width > height:
            page_width, page_height = page_height, page_width
        scale = min(page_width / width, page_height / height)
        w, h = width * scale, height * scale
        x, y = (page_width - w) / 2, (page_height - h) / 2
    content = f"q {w:.4f} 0 0 {h:.4f} {x:.4f} {y:.4f} cm /Im0 Do Q".encode()
    page = Dictionary(
        Type=Name.Page,
        MediaBox=Array([0, 0, round(page_width, 4), round(page_height, 4)]),
        Resources=Dictionary(XObject=Dictionary(Im0=stream)),
        Contents=merged.make_stream(content),
    )
    merged.pages.append(pikepdf.Page(page))


def _positive(value: object) -> float:
    number = float(value) if isinstance(value, int | float) else 0.0
    return number if number >= 1 else DEFAULT_IMAGE_DPI


def _image_stream(
    merged: pikepdf.Pdf, data: bytes, fmt: str, limits: EngineLimits
) -> tuple[Image.Image, pikepdf.Stream]:
    if fmt == "jpg":
        with Image.open(io.BytesIO(data), formats=["JPEG"]) as header:
            plain = header.mode in ("RGB", "L") and header.getexif().get(0x0112, 1) == 1
            if plain:
                colour = Name.DeviceRGB if header.mode == "RGB" else Name.DeviceGray
                stream = merged.make_stream(data)
                _describe(stream, header.size, colour, Name.DCTDecode)
                header.info = {"dpi": header.info.get("dpi", (DEFAULT_IMAGE_DPI,) * 2)}
                return header, stream
    png = convert_image(data, "png", limits=limits).data  # orientation applied, colour made sRGB
    with Image.open(io.BytesIO(png), formats=["PNG"]) as decoded:
        dpi = decoded.info.get("dpi") or _source_dpi(data)
        picture = decoded.convert("RGBA" if decoded.mode in ("RGBA", "LA", "PA", "P") else "RGB")
    if picture.mode == "RGBA" and picture.getchannel("A").getextrema() == (255, 255):
        picture = picture.convert("RGB")
    colour_pixels = picture.convert("RGB") if picture.mode == "RGBA" else picture
    stream = merged.make_stream(zlib.compress(colour_pixels.tobytes(), 6))
    _describe(stream, picture.size, Name.DeviceRGB, Name.FlateDecode)
    if picture.mode == "RGBA":
        mask = merged.make_stream(zlib.compress(picture.getchannel("A").tobytes(), 6))
        _describe(mask, picture.size, Name.DeviceGray, Name.FlateDecode)
        stream.SMask = mask
    picture.info = {"dpi": dpi or (DEFAULT_IMAGE_DPI,) * 2}
    return picture, stream


def _source_dpi(data: bytes) -> tuple[float, float] | None:
    try:
        with Image.open(io.BytesIO(data)) as header:
            dpi = header.info.get("dpi")
    except Exception:  # a format Pillow reads only through a plugin: no resolution, the default
        return None
    return dpi if isinstance(dpi, tuple) and len(dpi) == 2 else None


def _describe(stream: pikepdf.Stream, size: tuple[int, int], colour: Name, codec: Name) -> None:
    stream.Type, stream.Subtype = Name.XObject, Name.Image
    stream.Width, stream.Height = size
    stream.ColorSpace, stream.BitsPerComponent, stream.Filter = colour, 8, codec
