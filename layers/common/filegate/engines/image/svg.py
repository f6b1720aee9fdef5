"""SVG input, rasterised by resvg (Rust; no scripting, no network code) after a sanitising pass.

What guarantees "no network, no file access, no entity expansion":
- the document is parsed first with defusedxml, which refuses any DTD entity declaration (no billion laughs,
  no external entities) and any external DTD;
- every reference that is not a fragment (#id) or an embedded raster image (data:image/png|jpeg|gif|webp)
  is removed before rendering: resvg would otherwise read absolute paths from disk for <image>, and an
  embedded SVG image would bring its own references;
- resvg is given no resources directory and no system fonts (it never opens a file of ours), and has no
  HTTP client at all.
Text therefore renders only when its glyphs are paths (as in exported logos); <text> without fonts is blank.
"""

from __future__ import annotations

import math
import re
from xml.etree import ElementTree

from filegate.engines.image.limits import EngineLimits
from filegate.errors import ConversionFailed
from filegate.formats.options import ImageOptions

_SVG_NS = "http://www.w3.org/2000/svg"
_XLINK_NS = "http://www.w3.org/1999/xlink"
_SAFE_DATA_IMAGE = re.compile(r"^\s*data:image/(png|jpeg|jpg|gif|webp)[;,]", re.IGNORECASE)
_LENGTH = re.compile(r"^\s*([0-9]*\.?[0-9]+(?:[eE][-+]?[0-9]+)?)\s*(px|pt|pc|mm|cm|in)?\s*$")
_PX_PER_UNIT = {None: 1.0, "px": 1.0, "pt": 96 / 72, "pc": 16.0, "mm": 96 / 25.4, "cm": 96 / 2.54, "in": 96.0}
_DEFAULT_SIDE = 100.0  # what browsers and resvg use when an SVG gives no size at all
_MAX_DOCUMENT_BYTES = 4 * 1024 * 1024

ElementTree.register_namespace("", _SVG_NS)
ElementTree.register_namespace("xlink", _XLINK_NS)


def intrinsic_size(data: bytes) -> tuple[float, float]:
    """The SVG's own size in CSS pixels: width/height, else its viewBox, else 100x100."""
    return _size(_parse(data))


def rasterise(data: bytes, opts: ImageOptions, limits: EngineLimits) -> bytes:
    """PNG bytes of the sanitised SVG, rendered straight at the size the options ask for (sharp edges,
    no second resample), within the pixel limit."""
    import resvg_py

    root = _parse(data)
    width, height = _size(root)
    zoom = _zoom(width, height, opts)
    if width * height * zoom * zoom > limits.max_pixels:
        raise ConversionFailed(
            f"The SVG would render at {math.ceil(width * zoom)}x{math.ceil(height * zoom)} pixels; "
            f"your plan allows at most {limits.max_pixels:,}."
        )
    _strip_external_references(root)
    document = ElementTree.tostring(root, encoding="unicode")
    try:
        return resvg_py.svg_to_bytes(svg_string=document, zoom=zoom, skip_system_fonts=True)
    except ValueError as exc:
        raise ConversionFailed("The SVG could not be rendered: it is malformed or draws nothing.") from exc


def _parse(data: bytes) -> ElementTree.Element:
    from defusedxml import DefusedXmlException
    from defusedxml.ElementTree import fromstring

    if len(data) > _MAX_DOCUMENT_BYTES:
        raise ConversionFailed("The SVG document is too large.")
    try:
        root: object = fromstring(data, forbid_dtd=False, forbid_entities=True, forbid_external=True)
    except DefusedXmlException as exc:
        raise ConversionFailed("The SVG declares XML entities, which are refused (no entity expansion).") from exc
    except ElementTree.ParseError as exc:
        raise ConversionFailed("The SVG is not well-formed XML.") from exc
    if not isinstance(root, ElementTree.Element) or root.tag not in (f"{{{_SVG_NS}}}svg", "svg"):
        raise ConversionFailed("The document's root element is not <svg>.")
    return root


def _strip_external_references(root: ElementTree.Element) -> None:
    """Keep only #fragment links and embedded raster images; drop everything that names another resource."""
    href_names = ("href", f"{{{_XLINK_NS}}}href")
    for element in root.iter():
        for name in href_names:
            value = element.get(name)
            if value is None:
                continue
            if not (value.strip().startswith("#") or _SAFE_DATA_IMAGE.match(value)):
                del element.attrib[name]


def _length(value: str | None) -> float | None:
    if not value:
        return None
    match = _LENGTH.match(value)
    if match is None:
        return None  # percentages, em/ex: no absolute size
    number = float(match.group(1)) * _PX_PER_UNIT[match.group(2)]
    return number if math.isfinite(number) and number > 0 else None


def _size(root: ElementTree.Element) -> tuple[float, float]:
    width, height = _length(root.get("width")), _length(root.get("height"))
    box = _view_box(root.get("viewBox"))
    if width and height:
        return width, height
    if box:
        box_w, box_h = box
        if width:
            return width, width * box_h / box_w
        if height:
            return height * box_w / box_h, height
        return box_w, box_h
    return width or _DEFAULT_SIDE, height or _DEFAULT_SIDE


def _view_box(value: str | None) -> tuple[float, float] | None:
    if not value:
        return None
    parts = value.replace(",", " ").split()
    try:
        numbers = [float(p) for p in parts]
    except ValueError:
        return None
    if len(numbers) != 4 or not all(math.isfinite(n) for n in numbers) or numbers[2] <= 0 or numbers[3] <= 0:
        return None
    return numbers[2], numbers[3]


def _zoom(width: float, height: float, opts: ImageOptions) -> float:
    if opts.width and opts.height:
        ratios = (opts.width / width, opts.height / height)
        return max(ratios) if opts.fit == "cover" else min(ratios)
    if opts.width:
        return opts.width / width
    if opts.height:
        return opts.height / height
    return 1.0
