"""Decoding helpers for assertions on engine output."""

from __future__ import annotations

import io

import pypdfium2 as pdfium
from PIL import Image

from filegate.engines.image.decode import PIL_FORMAT

PIL_NAME = PIL_FORMAT


def decode(data: bytes) -> Image.Image:
    image = Image.open(io.BytesIO(data))
    image.load()
    return image


def pdf_pages(data: bytes) -> list[tuple[float, float]]:
    pdf = pdfium.PdfDocument(data)
    try:
        return [pdf[i].get_size() for i in range(len(pdf))]
    finally:
        pdf.close()


def output_size(data: bytes, fmt: str) -> tuple[int, int]:
    """Pixel size of an output; for a PDF, the page size in points (the writer maps 1 px to 1 pt)."""
    if fmt == "pdf":
        (width, height), *_ = pdf_pages(data)
        return round(width), round(height)
    image = decode(data)
    assert image.format == PIL_NAME[fmt]
    return image.size
