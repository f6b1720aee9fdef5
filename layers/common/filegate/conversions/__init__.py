"""Conversion: the engine that turns bytes into other bytes, and the jobs that run it (API.md "Conversion").

Pure: ``options`` (typed options and engine limits), ``engine`` (the public convert/compress/probe, loaded on
first use, so importing this package costs nothing) over its parts: ``decode``, ``raster``, ``colour``,
``encode``, ``pdf``, ``compression``. Touch storage: ``jobs`` (sync conversions, queued
jobs, the conversions table, quota reservations). Formats and sniffing live in ``filegate.media``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from filegate.formats.options import ConversionOptions, EngineLimits, parse_quality
from filegate.formats.sniff import sniff
from filegate.formats.table import FORMATS, content_type, extension, formats_document, normalize

if TYPE_CHECKING:
    from filegate.engines.image.engine import ConversionResult, compress, convert, probe

__all__ = [
    "FORMATS",
    "ConversionOptions",
    "ConversionResult",
    "EngineLimits",
    "compress",
    "content_type",
    "convert",
    "extension",
    "formats_document",
    "normalize",
    "parse_quality",
    "probe",
    "sniff",
]

_ENGINE_NAMES = {"ConversionResult", "compress", "convert", "probe"}


def __getattr__(name: str) -> Any:
    if name in _ENGINE_NAMES:
        from filegate.engines.image import engine

        return getattr(engine, name)
    raise AttributeError(name)
