"""Decoding what the API returns, to check conversions for real (format and dimensions)."""

from __future__ import annotations

import io

import pillow_heif
import pypdfium2
from PIL import Image

from filegate.engines.image.decode import PIL_FORMAT

pillow_heif.register_heif_opener()


def decode(data: bytes, fmt: str) -> tuple[str, int, int]:
    """(format, width, height) of a real decode of ``data``; PDFs report their first page in points."""
    if fmt == "pdf":
        assert data.startswith(b"%PDF"), data[:16]
        document = pypdfium2.PdfDocument(data)
        width, height = document[0].get_size()
        return "pdf", round(width), round(height)
    with Image.open(io.BytesIO(data)) as image:
        image.load()
        assert image.format == PIL_FORMAT[fmt], (image.format, fmt)
        return fmt, image.width, image.height
