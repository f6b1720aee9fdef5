"""FileGate's conversion engine (see engine.py) and its format matrix (formats.py).

`formats`, `options` and `sniff` import no imaging library, so they are usable without the imaging layer.
The engine's names are loaded on first use, so importing this package alone costs nothing.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from filegate.conversion.formats import FORMATS, content_type, extension, formats_document, normalize
from filegate.conversion.options import ConversionOptions, EngineLimits, parse_quality
from filegate.conversion.sniff import sniff

if TYPE_CHECKING:
    from filegate.conversion.engine import ConversionResult, compress, convert, probe

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
        from filegate.conversion import engine

        return getattr(engine, name)
    raise AttributeError(name)
