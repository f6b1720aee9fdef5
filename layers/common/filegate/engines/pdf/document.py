"""Opening a PDF (password, corrupt or truncated input, the tier's page limit) and saving the output."""

from __future__ import annotations

import io
from collections.abc import Iterator
from contextlib import contextmanager

import pikepdf

from filegate.errors import ConversionFailed, FileTooLarge, InvalidParameter


@contextmanager
def open_pdf(data: bytes, password: str | None = None) -> Iterator[pikepdf.Pdf]:
    """The PDF in `data`, opened with `password` when it is encrypted; 422 when it cannot be opened."""
    try:
        pdf = pikepdf.open(io.BytesIO(data), password=password or "", attempt_recovery=True)
    except pikepdf.PasswordError as exc:
        if password is None:
            raise InvalidParameter(
                "input_password: the PDF is encrypted; send its password as input_password."
            ) from exc
        raise InvalidParameter("input_password: the password does not open this PDF.") from exc
    except (pikepdf.PdfError, RecursionError, ValueError, OverflowError) as exc:
        raise ConversionFailed("The PDF could not be read: it is corrupt, truncated or not a PDF.") from exc
    if "/Size" not in pdf.trailer:
        # A trailer rebuilt by recovery (a truncated file) may lack /Size; qpdf then writes an xref stream
        # without it, which no reader opens. Any value will do: qpdf writes the right one.
        pdf.trailer.Size = 0
    try:
        if len(pdf.pages) == 0:
            raise ConversionFailed("The PDF has no pages.")
        yield pdf
    finally:
        pdf.close()


def check_page_count(pages: int, max_pages: int) -> None:
    """The tier's page limit holds for every PDF produced (docs/api.md "Documents": 413 with the limit)."""
    if pages > max_pages:
        raise FileTooLarge(
            f"The PDF would have {pages} pages; your plan allows at most {max_pages} pages per PDF. "
            "Keep fewer pages with the pages option, or upgrade."
        )


def save(pdf: pikepdf.Pdf, *, password: str | None = None) -> bytes:
    """The PDF's bytes: object streams always (smaller, and what compress promises), only the objects still
    reachable; AES-256 with `password`. Streams are written as they are read (never decoded: a bomb stays a
    small stream)."""
    out = io.BytesIO()
    common = {"object_stream_mode": pikepdf.ObjectStreamMode.generate, "compress_streams": True}
    if password is None:
        pdf.save(out, **common, stream_decode_level=pikepdf.StreamDecodeLevel.none, deterministic_id=True)
    else:  # qpdf re-encodes every stream it encrypts (Flate streams are copied as they are, still never inflated)
        pdf.save(out, **common, encryption=pikepdf.Encryption(owner=password, user=password, R=6, aes=True))
    return out.getvalue()
