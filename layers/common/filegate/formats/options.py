"""Conversion options and engine limits: parsing and validation, no imaging imports.

Multipart form values arrive as strings (`from_form`); async jobs carry a JSON object (`from_json`).
Every bad value is InvalidParameter whose message starts with the field's name.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

from filegate.errors import InvalidParameter
from filegate.tiers import Tier

Fit = Literal["contain", "cover"]

OPTION_FIELDS = ("quality", "width", "height", "fit", "strip_metadata", "page")
MAX_DIMENSION = 16_384  # requested width/height; the output pixel count is also held to the tier's limit
MAX_PAGE = 1_000_000
# A rendered PDF page never exceeds this many pixels, whatever its page size or the requested size.
PDF_MAX_RENDER_PIXELS = 25_000_000
MAX_FRAMES = 1_000  # animated GIF/WebP

_TRUE = {"true", "1", "yes", "on"}
_FALSE = {"false", "0", "no", "off"}


@dataclass(frozen=True)
class ConversionOptions:
    quality: int | None = None  # None: the target's default
    width: int | None = None
    height: int | None = None
    fit: Fit = "contain"
    strip_metadata: bool = True
    page: int = 1  # PDF input, 1-based

    def __post_init__(self) -> None:
        _check_int("quality", self.quality, 1, 100, optional=True)
        _check_int("width", self.width, 1, MAX_DIMENSION, optional=True)
        _check_int("height", self.height, 1, MAX_DIMENSION, optional=True)
        _check_int("page", self.page, 1, MAX_PAGE, optional=False)
        if self.fit not in ("contain", "cover"):
            raise InvalidParameter("fit must be 'contain' or 'cover'.")
        if not isinstance(self.strip_metadata, bool):
            raise InvalidParameter("strip_metadata must be true or false.")

    @classmethod
    def from_form(cls, form: Mapping[str, str]) -> ConversionOptions:
        """From multipart form fields (strings); other fields (file, target…) are ignored, empty is unset."""
        values = {k: v.strip() for k in OPTION_FIELDS if isinstance(v := form.get(k), str) and v.strip()}
        page = _int_from_str("page", values.get("page"))
        return cls(
            quality=_int_from_str("quality", values.get("quality")),
            width=_int_from_str("width", values.get("width")),
            height=_int_from_str("height", values.get("height")),
            fit=_fit(values.get("fit", "contain")),
            strip_metadata=_bool_from_str("strip_metadata", values.get("strip_metadata", "true")),
            page=1 if page is None else page,
        )

    @classmethod
    def from_json(cls, obj: object, *, prefix: str = "options.") -> ConversionOptions:
        """From a JSON object (async jobs); strict types, unknown keys refused. `prefix` names the field."""
        if obj is None:
            return cls()
        if not isinstance(obj, Mapping):
            raise InvalidParameter(f"{prefix.rstrip('.') or 'options'} must be an object.")
        for key in obj:
            if key not in OPTION_FIELDS:
                raise InvalidParameter(f"{prefix}{key} is not a known option ({', '.join(OPTION_FIELDS)}).")

        def integer(name: str) -> int | None:
            value = obj.get(name)
            if value is None:
                return None
            if isinstance(value, bool) or not isinstance(value, int):
                raise InvalidParameter(f"{name} must be an integer.")
            return value

        try:
            fit = obj.get("fit", "contain")
            strip = obj.get("strip_metadata", True)
            if not isinstance(strip, bool):
                raise InvalidParameter("strip_metadata must be true or false.")
            page = integer("page")
            return cls(
                quality=integer("quality"),
                width=integer("width"),
                height=integer("height"),
                fit=_fit(fit if isinstance(fit, str) else ""),
                strip_metadata=strip,
                page=1 if page is None else page,
            )
        except InvalidParameter as exc:
            raise InvalidParameter(f"{prefix}{exc.message}") from None

    def to_json(self) -> dict[str, object]:
        """The JSON form (for a queued job), round-tripping through from_json."""
        out: dict[str, object] = {"fit": self.fit, "strip_metadata": self.strip_metadata, "page": self.page}
        for name in ("quality", "width", "height"):
            if (value := getattr(self, name)) is not None:
                out[name] = value
        return out


@dataclass(frozen=True)
class EngineLimits:
    max_pixels: int  # decoded pixels of one image (header-checked before decoding) and of an output
    max_pdf_pages: int
    max_render_pixels: int = PDF_MAX_RENDER_PIXELS
    max_frames: int = MAX_FRAMES

    @classmethod
    def for_tier(cls, tier: Tier) -> EngineLimits:
        return cls(
            max_pixels=tier.max_pixels,
            max_pdf_pages=tier.max_pdf_pages,
            max_render_pixels=min(PDF_MAX_RENDER_PIXELS, tier.max_pixels),
        )


def parse_quality(value: str | int | None, *, field: str = "quality") -> int | None:
    """A `quality` from a form string or a JSON int (POST /v1/compress); None when absent or empty."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    number = _int_from_str(field, value) if isinstance(value, str) else value
    if isinstance(number, bool) or not isinstance(number, int):
        raise InvalidParameter(f"{field} must be an integer from 1 to 100.")
    _check_int(field, number, 1, 100, optional=True)
    return number


def _check_int(name: str, value: object, low: int, high: int, *, optional: bool) -> None:
    if value is None and optional:
        return
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise InvalidParameter(f"{name} must be an integer from {low} to {high}.")


def _int_from_str(name: str, value: str | None) -> int | None:
    if value is None:
        return None
    text = value.strip()
    # int() alone would also take "1_000", " +5", or Unicode digits.
    if not text.isascii() or not text.isdigit() or len(text) > 9:
        raise InvalidParameter(f"{name} must be a positive integer, not {value[:20]!r}.")
    return int(text)


def _bool_from_str(name: str, value: str) -> bool:
    lowered = value.strip().lower()
    if lowered in _TRUE:
        return True
    if lowered in _FALSE:
        return False
    raise InvalidParameter(f"{name} must be true or false, not {value[:20]!r}.")


def _fit(value: str) -> Fit:
    lowered = value.strip().lower()
    if lowered == "contain":
        return "contain"
    if lowered == "cover":
        return "cover"
    raise InvalidParameter("fit must be 'contain' or 'cover'.")
