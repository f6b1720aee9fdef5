"""Flate for compress (docs/pdf-tools.md): streams decoded only within a bound (a decompression bomb is never
inflated: zlib, asked for at most the bound, stops there), and re-deflated at zlib's highest level, as qpdf
does for the streams it writes itself while `max_flate_level` is on."""

from __future__ import annotations

import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Final

import pikepdf
from pikepdf import Array, Name
from pikepdf.models.image import UnsupportedImageTypeError
from PIL import Image

# A stream is re-deflated only when it inflates to at most this much, and all of them together to at most
# RECOMPRESS_BUDGET: time and memory stay bounded whatever the PDF holds.
MAX_RECOMPRESS_BYTES = 16 * 1024 * 1024
RECOMPRESS_BUDGET = 64 * 1024 * 1024  # zlib's level 9 runs at tens of MB a second: a few seconds at most
# Smaller streams gain a few bytes at most: not worth a decode.
MIN_RECOMPRESS_BYTES = 256
BEST: Final = 9
# What decoding an image stream into pixels may raise on a damaged, unsupported or oversized image: that
# image is then left as it is (compress and the 1-bit re-encoding alike).
UNDECODABLE_IMAGE = (
    pikepdf.PdfError,
    UnsupportedImageTypeError,
    NotImplementedError,
    ValueError,
    OSError,
    Image.DecompressionBombError,
)


def bounded_flate(stream: pikepdf.Stream, cap: int) -> bytes | None:
    """The stream's bytes decoded when they come to at most `cap` bytes; None for a larger (or bomb) stream
    and for filters other than one plain FlateDecode (or none). Predictors are not undone: the bytes are
    what zlib holds."""
    filters = stream.get("/Filter")
    raw = stream.read_raw_bytes()
    if filters is None:
        return raw if len(raw) <= cap else None
    if isinstance(filters, Array):
        filters = filters[0] if len(filters) == 1 else None
    if filters != Name.FlateDecode:
        return None
    return inflated(raw, cap)


def inflated(raw: bytes, cap: int) -> bytes | None:
    """zlib's output, asked for at most `cap` + 1 bytes (a bomb stops there); None past `cap` or when broken."""
    inflater = zlib.decompressobj()
    try:
        data = inflater.decompress(raw, cap + 1)
    except zlib.error:
        return None
    return data if len(data) <= cap else None


def recompress_flate(pdf: pikepdf.Pdf) -> int:
    """Re-deflate every Flate stream (fonts, content, forms, images kept lossless) at zlib's highest level when
    that is smaller; predictors and other parameters stay as they are (the zlib layer alone changes). XMP
    metadata is left as it is (PDF/A wants it readable unfiltered). How many streams shrank."""
    budget, shrank = RECOMPRESS_BUDGET, 0
    for obj in pdf.objects:
        if not isinstance(obj, pikepdf.Stream) or obj.get("/Type") == Name.Metadata or "/Filter" not in obj:
            continue
        raw = obj.read_raw_bytes()
        if len(raw) < MIN_RECOMPRESS_BYTES:
            continue
        data = bounded_flate(obj, min(MAX_RECOMPRESS_BYTES, budget))
        if data is None:
            continue
        budget -= len(data)
        smaller = zlib.compress(data, BEST)
        if len(smaller) < len(raw):
            obj.write(smaller, filter=Name.FlateDecode, decode_parms=_single(obj.get("/DecodeParms")))
            shrank += 1
    return shrank


def _single(parms: pikepdf.Object | None) -> pikepdf.Dictionary | None:
    """One filter's parameters (a one-element array is unwrapped, as the filter itself is)."""
    if isinstance(parms, Array) and len(parms) == 1:
        parms = parms[0]
    return parms if isinstance(parms, pikepdf.Dictionary) else None


@contextmanager
def max_flate_level() -> Iterator[None]:
    """qpdf deflates what it writes itself (object streams, streams that were not compressed) at zlib's highest
    level inside the block; its default after."""
    pikepdf.settings.set_flate_compression_level(BEST)
    try:
        yield
    finally:
        pikepdf.settings.set_flate_compression_level(-1)
