"""Options of an audio/video conversion (API.md "Media"): typed, range-checked, and held to the pair.

Multipart form values arrive as strings (`from_form`); jobs carry a JSON object (`from_json`). Every bad
value, and every option that does not apply to the pair, is InvalidParameter naming the option.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, fields
from typing import Any, Literal

from filegate.errors import InvalidParameter
from filegate.formats import avformats
from filegate.formats.options import MAX_DIMENSION

Fit = Literal["contain", "cover"]

MAX_SECONDS = 24 * 3600.0  # start, duration and at: far past any tier's duration limit
MIN_FPS, MAX_FPS = 1, 60
MIN_AUDIO_KBPS, MAX_AUDIO_KBPS = 32, 320
# Image-only options that a media conversion refuses by name (rather than ignoring).
IMAGE_ONLY_OPTIONS = ("strip_metadata", "page")

_TRUE = {"true", "1", "yes", "on"}
_FALSE = {"false", "0", "no", "off"}


@dataclass(frozen=True)
class MediaOptions:
    width: int | None = None
    height: int | None = None
    fit: Fit | None = None  # None: contain
    quality: int | None = None
    start: float | None = None
    duration: float | None = None
    fps: float | None = None
    audio_bitrate: int | None = None  # kbps
    mute: bool | None = None
    at: float | None = None

    def __post_init__(self) -> None:
        _check_number("width", self.width, 1, MAX_DIMENSION, integer=True)
        _check_number("height", self.height, 1, MAX_DIMENSION, integer=True)
        _check_number("quality", self.quality, 1, 100, integer=True)
        _check_number("start", self.start, 0, MAX_SECONDS)
        _check_number("duration", self.duration, 0, MAX_SECONDS)
        if self.duration is not None and self.duration <= 0:
            raise InvalidParameter("duration must be more than 0 seconds.")
        _check_number("fps", self.fps, MIN_FPS, MAX_FPS)
        _check_number("audio_bitrate", self.audio_bitrate, MIN_AUDIO_KBPS, MAX_AUDIO_KBPS, integer=True)
        _check_number("at", self.at, 0, MAX_SECONDS)
        if self.fit not in (None, "contain", "cover"):
            raise InvalidParameter("fit must be 'contain' or 'cover'.")
        if self.mute is not None and not isinstance(self.mute, bool):
            raise InvalidParameter("mute must be true or false.")

    def given(self) -> list[str]:
        return [f.name for f in fields(self) if getattr(self, f.name) is not None]

    def check_applies(self, source: str, target: str, *, prefix: str = "") -> None:
        """InvalidParameter naming (after `prefix`) the first option given that this pair does not take."""
        allowed = avformats.options_for_pair(target)
        for name in self.given():
            if name not in allowed:
                raise InvalidParameter(
                    f"{prefix}{name} does not apply to converting {source} to {target} "
                    f"(options for {target}: {', '.join(allowed) or 'none'})."
                )

    @property
    def cover(self) -> bool:
        return self.fit == "cover"

    @classmethod
    def from_form(cls, form: Mapping[str, str]) -> MediaOptions:
        """From multipart fields (strings); fields that are not options (file, target) are ignored."""
        values = {k: v.strip() for k, v in form.items() if isinstance(v, str) and v.strip()}
        for name in IMAGE_ONLY_OPTIONS:
            if name in values:
                raise InvalidParameter(f"{name} does not apply to audio or video.")
        return cls(
            width=_int_text("width", values.get("width")),
            height=_int_text("height", values.get("height")),
            fit=_fit(values.get("fit")),
            quality=_int_text("quality", values.get("quality")),
            start=_number_text("start", values.get("start")),
            duration=_number_text("duration", values.get("duration")),
            fps=_number_text("fps", values.get("fps")),
            audio_bitrate=_int_text("audio_bitrate", values.get("audio_bitrate")),
            mute=_bool_text("mute", values.get("mute")),
            at=_number_text("at", values.get("at")),
        )

    @classmethod
    def from_json(cls, obj: object, *, prefix: str = "options.") -> MediaOptions:
        """From a JSON object (jobs); strict types, unknown keys refused, `prefix` names the field."""
        if obj is None:
            return cls()
        if not isinstance(obj, Mapping):
            raise InvalidParameter(f"{prefix.rstrip('.') or 'options'} must be an object.")
        known = {f.name for f in fields(cls)}
        for key in obj:
            if key not in known:
                raise InvalidParameter(
                    f"{prefix}{key} is not an option of audio or video ({', '.join(avformats.MEDIA_OPTIONS)})."
                )
        try:
            values: dict[str, Any] = {}
            for key, value in obj.items():
                if value is None:
                    continue
                if key == "fit":
                    values[key] = _fit(value if isinstance(value, str) else "")
                elif key == "mute":
                    if not isinstance(value, bool):
                        raise InvalidParameter("mute must be true or false.")
                    values[key] = value
                else:
                    if isinstance(value, bool) or not isinstance(value, int | float):
                        raise InvalidParameter(f"{key} must be a number.")
                    values[key] = value
            return cls(**values)
        except InvalidParameter as exc:
            raise InvalidParameter(f"{prefix}{exc.message}") from None

    def to_json(self) -> dict[str, object]:
        """The JSON form (a queued job's options), round-tripping through from_json."""
        return {name: getattr(self, name) for name in self.given()}


def _check_number(name: str, value: object, low: float, high: float, *, integer: bool = False) -> None:
    if value is None:
        return
    ok_type = isinstance(value, int) if integer else isinstance(value, int | float)
    if isinstance(value, bool) or not ok_type or not math.isfinite(float(value)) or not low <= float(value) <= high:  # type: ignore[arg-type]
        kind = "an integer" if integer else "a number"
        raise InvalidParameter(f"{name} must be {kind} from {low:g} to {high:g}.")


def _int_text(name: str, value: str | None) -> int | None:
    if value is None:
        return None
    if not value.isascii() or not value.isdigit() or len(value) > 9:
        raise InvalidParameter(f"{name} must be a positive integer, not {value[:20]!r}.")
    return int(value)


def _number_text(name: str, value: str | None) -> float | None:
    if value is None:
        return None
    whole, _, fraction = value.partition(".")
    if not value.isascii() or not whole.isdigit() or (fraction and not fraction.isdigit()) or len(value) > 15:
        raise InvalidParameter(f"{name} must be a number such as 2 or 1.5, not {value[:20]!r}.")
    return float(value)


def _bool_text(name: str, value: str | None) -> bool | None:
    if value is None:
        return None
    lowered = value.lower()
    if lowered in _TRUE:
        return True
    if lowered in _FALSE:
        return False
    raise InvalidParameter(f"{name} must be true or false, not {value[:20]!r}.")


def _fit(value: str | None) -> Fit | None:
    if value is None:
        return None
    lowered = value.strip().lower()
    if lowered == "contain":
        return "contain"
    if lowered == "cover":
        return "cover"
    raise InvalidParameter("fit must be 'contain' or 'cover'.")
