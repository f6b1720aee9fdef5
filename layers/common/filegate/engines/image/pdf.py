"""PDF input: pdfium renders the page straight at the needed scale; the raster pipeline does the rest."""

from __future__ import annotations

from typing import TYPE_CHECKING

from filegate.engines.image.decode import NO_META
from filegate.engines.image.encode import ConversionResult, encode, result
from filegate.engines.image.geometry import plan_output
from filegate.engines.image.raster import for_target, resize

if TYPE_CHECKING:
    import pypdfium2 as pdfium

import math
from collections.abc import Iterator
from contextlib import contextmanager

from filegate.engines.image.limits import EngineLimits
from filegate.errors import ConversionFailed, InvalidParameter
from filegate.formats.options import ImageOptions

PDF_RENDER_DPI = 150
PDF_MAX_RENDER_SIDE = 30_000  # a 200-inch page (the spec's maximum) at 150 dpi


@contextmanager
def open_pdf(data: bytes, limits: EngineLimits) -> Iterator[pdfium.PdfDocument]:
    import pypdfium2 as pdfium

    try:
        pdf = pdfium.PdfDocument(data)
    except pdfium.PdfiumError as exc:
        raise ConversionFailed("The PDF could not be read: it is corrupt, truncated or encrypted.") from exc
    try:
        pages = len(pdf)
        if pages == 0:
            raise ConversionFailed("The PDF has no pages.")
        if pages > limits.max_pdf_pages:
            raise ConversionFailed(f"The PDF has {pages} pages; your plan allows at most {limits.max_pdf_pages}.")
        yield pdf
    finally:
        pdf.close()


def convert_pdf(data: bytes, target: str, opts: ImageOptions, limits: EngineLimits) -> ConversionResult:
    with open_pdf(data, limits) as pdf:
        pages = len(pdf)
        if opts.page > pages:
            raise InvalidParameter(f"page must be from 1 to {pages} for this PDF.")
        page = pdf[opts.page - 1]
        try:
            width_pt, height_pt = page.get_size()  # points, with the page's /Rotate applied
            if not (math.isfinite(width_pt) and math.isfinite(height_pt)) or width_pt <= 0 or height_pt <= 0:
                raise ConversionFailed("The PDF page has no area.")
            scale = _render_scale(width_pt, height_pt, opts, limits)
            bitmap = page.render(scale=scale, fill_color=(255, 255, 255, 255), may_draw_forms=True)
            try:
                rendered = bitmap.to_pil()
                rendered = rendered.convert("RGB") if rendered.mode != "RGB" else rendered.copy()
            finally:
                bitmap.close()
        finally:
            page.close()
    plan = plan_output(rendered.size, opts, target, limits)
    work = for_target(resize(rendered, plan.size, plan.cover), target)
    return result(encode(work, target, opts.quality, NO_META), target, work.size)


def _render_scale(width_pt: float, height_pt: float, opts: ImageOptions, limits: EngineLimits) -> float:
    """Render straight at the requested size (sharp text, no second resample), else at PDF_RENDER_DPI;
    always within the render pixel cap, whatever the page size claims."""
    scale = PDF_RENDER_DPI / 72
    if opts.width and opts.height:
        ratios = (opts.width / width_pt, opts.height / height_pt)
        scale = max(ratios) if opts.fit == "cover" else min(ratios)
    elif opts.width:
        scale = opts.width / width_pt
    elif opts.height:
        scale = opts.height / height_pt
    cap = min(limits.max_render_pixels, limits.max_pixels)
    if width_pt * height_pt * scale * scale > cap:
        scale = math.sqrt(cap / (width_pt * height_pt))
    scale = min(scale, PDF_MAX_RENDER_SIDE / max(width_pt, height_pt))
    if min(width_pt, height_pt) * scale < 1:
        raise ConversionFailed("The PDF page's proportions are too extreme to render.")
    return scale
