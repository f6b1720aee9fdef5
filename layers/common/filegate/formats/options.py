"""Every conversion option, written once: its name, its type and range, and which kinds of output take it.

The multipart form parser (strings: `/v1/convert`) and the JSON parser (jobs) are derived from this table, and
so are the option lists of ``GET /v1/formats`` (``filegate.formats.table``). Every bad value is
InvalidParameter whose message starts with the option's name (after the `prefix` that names the object it is
in: ``options.``, ``items[2].options.``). Pure: no imaging and no FFmpeg here.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field, fields
from typing import Any, Literal

from filegate.errors import InvalidParameter
from filegate.suggest import check_names, did_you_mean

Fit = Literal["contain", "cover"]
ValueType = Literal[
    "integer", "number", "boolean", "fit", "text", "pages", "rotation", "languages", "secret", "page_size"
]
# What an output is, for the options it takes: a raster image, a page of a paged source (PDF, multi-page
# TIFF), an audio/video target of one of FFmpeg's kinds, what LibreOffice makes of a document (a PDF, another
# office format, one sheet as CSV, one page as an image: a preview), or a PDF made by the PDF tools
# (docs/pdf-tools.md): a PDF from a PDF (`pdf_tool`), several inputs merged (`merged_pdf`) or a PDF
# compressed (`compressed_pdf`).
OutputKind = Literal[
    "image",
    "paged",
    "video",
    "gif",
    "audio",
    "thumbnail",
    "pdf",
    "office",
    "sheet",
    "preview",
    "pdf_tool",
    "merged_pdf",
    "compressed_pdf",
]

MAX_DIMENSION = 16_384  # requested width/height; the output pixel count is also held to the tier's limit
MAX_PAGE = 1_000_000
MAX_SECONDS = 24 * 3600.0  # start, duration and at: far past any tier's duration limit
_IMAGE_AND_FRAMES: frozenset[OutputKind] = frozenset({"image", "video", "gif", "thumbnail", "preview"})
_DOCUMENT_OUTPUTS: frozenset[OutputKind] = frozenset({"pdf", "office", "sheet", "preview"})
MAX_TEXT_OPTION = 256  # a page selection, a sheet's name, a password: never longer
_TIMED: frozenset[OutputKind] = frozenset({"video", "gif", "audio"})

_PDF_TOOLS: frozenset[OutputKind] = frozenset({"pdf_tool", "merged_pdf", "compressed_pdf"})
MAX_PAGES_SPEC = 1_000  # characters of a `pages` list ("3,1-2"): far more ranges than anyone types
MAX_SECRET = 1_024  # characters of a password
PAGE_SIZES = ("a4", "letter")
ROTATIONS = (90, 180, 270)
_PAGES_SPEC = re.compile(r"\d{1,7}(-\d{1,7})?(,\d{1,7}(-\d{1,7})?)*")
_LANGUAGES = re.compile(r"[a-z][a-z_]{1,15}(\+[a-z][a-z_]{1,15}){0,7}")

_TRUE = {"true", "1", "yes", "on"}
_FALSE = {"false", "0", "no", "off"}


@dataclass(frozen=True)
class Option:
    name: str
    type: ValueType
    outputs: frozenset[OutputKind]  # the kinds of output that take it
    low: float = 0
    high: float = 0
    above_low: bool = False  # the value must be more than `low`, not equal to it
    choices: tuple[str, ...] = ()  # a text option that takes only these values

    def check(self, value: object) -> None:
        """InvalidParameter naming the option unless `value` (typed) is None or within the option's range."""
        if value is None:
            return
        if self.type == "boolean":
            if not isinstance(value, bool):
                raise InvalidParameter(f"{self.name} must be true or false.")
            return
        if self.type == "fit":
            if value not in ("contain", "cover"):
                raise InvalidParameter(f"{self.name} must be 'contain' or 'cover'.")
            return
        if self.type == "text":
            self._check_text(value)
            return
        if self.type in _TEXT_TYPES:
            _check_text(self.name, self.type, value)
            return
        if self.type == "rotation":
            if isinstance(value, bool) or value not in ROTATIONS:
                raise InvalidParameter(f"{self.name} must be 90, 180 or 270 (degrees clockwise).")
            return
        integer = self.type == "integer"
        ok_type = isinstance(value, int) if integer else isinstance(value, int | float)
        number = float(value) if ok_type and not isinstance(value, bool) else math.nan  # type: ignore[arg-type]
        if not math.isfinite(number) or not self.low <= number <= self.high:
            what = "an integer" if integer else "a number"
            raise InvalidParameter(f"{self.name} must be {what} from {self.low:g} to {self.high:g}.")
        if self.above_low and number <= self.low:
            raise InvalidParameter(f"{self.name} must be more than {self.low:g} seconds.")

    def _check_text(self, value: object) -> None:
        if not isinstance(value, str) or not value or len(value) > MAX_TEXT_OPTION:
            raise InvalidParameter(f"{self.name} must be text of 1 to {MAX_TEXT_OPTION} characters.")
        if self.choices and value not in self.choices:
            raise InvalidParameter(f"{self.name} must be one of {', '.join(self.choices)}.")

    def from_text(self, text: str) -> object:
        """The typed value of a form field (already stripped, not empty)."""
        if self.type == "text":
            return text
        if self.type in _TEXT_TYPES:
            return text.lower() if self.type in ("page_size", "languages") else text
        if self.type == "rotation":
            if text not in {str(r) for r in ROTATIONS}:
                raise InvalidParameter(f"{self.name} must be 90, 180 or 270 (degrees clockwise), not {text[:20]!r}.")
            return int(text)
        if self.type == "integer":
            # int() alone would also take "1_000", " +5", or Unicode digits.
            if not text.isascii() or not text.isdigit() or len(text) > 9:
                raise InvalidParameter(f"{self.name} must be a positive integer, not {text[:20]!r}.")
            return int(text)
        if self.type == "number":
            whole, _, fraction = text.partition(".")
            if not text.isascii() or not whole.isdigit() or (fraction and not fraction.isdigit()) or len(text) > 15:
                raise InvalidParameter(f"{self.name} must be a number such as 2 or 1.5, not {text[:20]!r}.")
            return float(text)
        if self.type == "boolean":
            lowered = text.lower()
            if lowered in _TRUE:
                return True
            if lowered in _FALSE:
                return False
            raise InvalidParameter(f"{self.name} must be true or false, not {text[:20]!r}.")
        return _fit(text)

    def from_json(self, value: object) -> object:
        """The typed value of a JSON member (strict: no strings for numbers)."""
        if self.type in ("text", "pages"):
            # A sheet's number or a single page may come as a JSON integer.
            is_integer = isinstance(value, int) and not isinstance(value, bool)
            value = str(value) if is_integer else value
            if self.type == "text":
                return value
        if self.type == "fit":
            return _fit(value if isinstance(value, str) else "")
        if self.type in _TEXT_TYPES:
            if not isinstance(value, str):
                raise InvalidParameter(f"{self.name} must be a string.")
            return value.strip().lower() if self.type in ("page_size", "languages") else value.strip()
        if self.type == "rotation":
            return value
        if self.type == "boolean":
            if not isinstance(value, bool):
                raise InvalidParameter(f"{self.name} must be true or false.")
            return value
        integer = self.type == "integer"
        if isinstance(value, bool) or not isinstance(value, int if integer else int | float):
            raise InvalidParameter(f"{self.name} must be {'an integer' if integer else 'a number'}.")
        return value


OPTIONS: dict[str, Option] = {
    o.name: o
    for o in (
        Option("quality", "integer", frozenset({*_IMAGE_AND_FRAMES, "audio", "compressed_pdf"}), 1, 100),
        Option("width", "integer", _IMAGE_AND_FRAMES, 1, MAX_DIMENSION),
        Option("height", "integer", _IMAGE_AND_FRAMES, 1, MAX_DIMENSION),
        Option("fit", "fit", _IMAGE_AND_FRAMES),
        Option("enlarge", "boolean", _IMAGE_AND_FRAMES),
        Option("strip_metadata", "boolean", frozenset({"image"})),
        Option("page", "integer", frozenset({"paged", "preview"}), 1, MAX_PAGE),
        Option("start", "number", _TIMED, 0, MAX_SECONDS),
        Option("duration", "number", _TIMED, 0, MAX_SECONDS, above_low=True),
        Option("fps", "number", frozenset({"video", "gif"}), 1, 60),
        Option("audio_bitrate", "integer", frozenset({"video", "audio"}), 32, 320),  # kbps
        Option("mute", "boolean", frozenset({"video"})),
        Option("at", "number", frozenset({"thumbnail"}), 0, MAX_SECONDS),
        # Documents (docs/api.md "Documents") and the PDF tools (docs/pdf-tools.md), in the order the tools are
        # applied; `page` above also picks a document's page for a preview.
        Option("input_password", "secret", frozenset({*_DOCUMENT_OUTPUTS, "pdf_tool", "compressed_pdf"})),
        Option("pages", "pages", frozenset({"pdf", "pdf_tool"})),
        Option("rotate", "rotation", frozenset({"pdf_tool"})),
        Option("ocr", "boolean", frozenset({"pdf_tool"})),
        Option("ocr_languages", "languages", frozenset({"pdf_tool"})),
        Option("pdf_a", "boolean", frozenset({"pdf", "pdf_tool"})),
        Option("password", "secret", frozenset({"pdf_tool", "merged_pdf", "compressed_pdf"})),
        Option("page_size", "page_size", frozenset({"merged_pdf"})),
        Option("sheet", "text", frozenset({"sheet"})),
        Option("source_format", "text", _DOCUMENT_OUTPUTS, choices=("txt", "csv", "md", "html")),
        Option("dpi", "integer", frozenset({"compressed_pdf"}), 36, 1200),
    )
}
# Options that are never stored readable nor shown (docs/api.md: "never logged, never stored"): the passwords,
# sealed for the worker (conversions.records.seal_secret_options), dropped from answers.
SECRET_OPTIONS = frozenset(name for name, option in OPTIONS.items() if option.type == "secret")
_TEXT_TYPES = frozenset({"pages", "languages", "secret", "page_size"})


def _check_text(name: str, kind: ValueType, value: object) -> None:
    """InvalidParameter naming the option unless `value` is a string of its shape."""
    if not isinstance(value, str):
        raise InvalidParameter(f"{name} must be a string.")
    if kind == "pages":
        if len(value) > MAX_PAGES_SPEC or not _PAGES_SPEC.fullmatch(value.replace(" ", "")):
            raise InvalidParameter(f'{name} must list pages and ranges such as "3,1-2" (1-based).')
    elif kind == "languages":
        if not _LANGUAGES.fullmatch(value):
            raise InvalidParameter(f'{name} must be Tesseract language codes joined by "+", such as "eng+deu".')
    elif kind == "page_size":
        if value not in PAGE_SIZES:
            raise InvalidParameter(f"{name} must be one of: {', '.join(PAGE_SIZES)}.")
    elif not 1 <= len(value) <= MAX_SECRET:
        raise InvalidParameter(f"{name} must be from 1 to {MAX_SECRET} characters.")


def within_source(size: tuple[float, float], source: tuple[int, int], enlarge: bool | None) -> tuple[float, float]:
    """`width`/`height` never enlarge an image or a video frame beyond its own size unless `enlarge` is true
    (docs/api.md §4): the asked size, scaled down (its aspect kept) until it fits within the source's."""
    if enlarge:
        return size
    scale = min(1.0, source[0] / size[0], source[1] / size[1]) if size[0] > 0 and size[1] > 0 else 1.0
    return size[0] * scale, size[1] * scale


def taken_by(*outputs: OutputKind) -> tuple[str, ...]:
    """The options that outputs of these kinds take, in the table's order."""
    return tuple(name for name, option in OPTIONS.items() if option.outputs & set(outputs))


IMAGE_OPTIONS = taken_by("image", "paged")
MEDIA_OPTIONS = taken_by("video", "gif", "audio", "thumbnail")
PDF_TOOL_OPTIONS = taken_by("pdf_tool")
MERGE_OPTIONS = taken_by("merged_pdf")
PDF_COMPRESS_OPTIONS = taken_by("compressed_pdf")
DOCUMENT_OPTIONS = taken_by("pdf", "office", "sheet", "preview")


def check(options: object) -> None:
    """Each field of an options dataclass held to its row of the table."""
    for f in fields(options):  # type: ignore[arg-type]
        OPTIONS[f.name].check(getattr(options, f.name))


def from_form(form: Mapping[str, str], names: tuple[str, ...], *, what: str) -> dict[str, Any]:
    """The typed values of the form fields named in `names`; empty fields are unset, fields that are not
    options (file, target) are ignored, and an option of another kind of conversion is refused by name."""
    values: dict[str, Any] = {}
    for key, raw in form.items():
        text = raw.strip() if isinstance(raw, str) else ""
        if not text or key not in OPTIONS:
            continue
        if key not in names:
            raise InvalidParameter(f"{key} does not apply to {what}.")
        values[key] = OPTIONS[key].from_text(text)
    return values


def from_json(obj: object, names: tuple[str, ...], *, prefix: str, what: str) -> dict[str, Any]:
    """The typed values of a JSON object's members; strict types, unknown members refused, each error
    naming its member after `prefix`."""
    if obj is None:
        return {}
    if not isinstance(obj, Mapping):
        raise InvalidParameter(f"{prefix.rstrip('.') or 'options'} must be an object.")
    for key in obj:
        if key in OPTIONS and key not in names:  # as in a form: a real option, of another kind of conversion
            raise InvalidParameter(f"{prefix}{key} does not apply to {what}.")
    check_names(obj, names, kind=f"option of {what}", prefix=prefix)
    with _named_after(prefix):
        return {key: OPTIONS[key].from_json(value) for key, value in obj.items() if value is not None}


def _fit(value: str) -> Fit:
    lowered = value.strip().lower()
    if lowered == "contain":
        return "contain"
    if lowered == "cover":
        return "cover"
    raise InvalidParameter(f"fit must be 'contain' or 'cover'{did_you_mean(value.strip(), ('contain', 'cover'))}.")


@contextmanager
def _named_after(prefix: str) -> Iterator[None]:
    """Range errors raised while building options name the option after `prefix`."""
    try:
        yield
    except InvalidParameter as exc:
        raise InvalidParameter(f"{prefix}{exc.message}") from None


# ------------------------------------------------------------------ the two shapes of options


@dataclass(frozen=True)
class ImageOptions:
    """Options of an image or PDF conversion (unset: the target's default)."""

    quality: int | None = None
    width: int | None = None
    height: int | None = None
    fit: Fit = "contain"
    strip_metadata: bool = True
    page: int = 1  # PDF and multi-page TIFF input, 1-based
    enlarge: bool = False  # width/height may make it larger than it is

    def __post_init__(self) -> None:
        check(self)

    @classmethod
    def from_form(cls, form: Mapping[str, str]) -> ImageOptions:
        # An audio/video option on an image is refused by name (mistakes are loud), never ignored.
        return cls(**from_form(form, IMAGE_OPTIONS, what="images"))

    @classmethod
    def from_json(cls, obj: object, *, prefix: str = "options.") -> ImageOptions:
        values = from_json(obj, IMAGE_OPTIONS, prefix=prefix, what="images")
        with _named_after(prefix):
            return cls(**values)

    def to_json(self) -> dict[str, object]:
        """The JSON form (a queued job's options), round-tripping through from_json."""
        out: dict[str, object] = {"fit": self.fit, "strip_metadata": self.strip_metadata, "page": self.page}
        if self.enlarge:
            out["enlarge"] = True
        out.update({k: v for k in ("quality", "width", "height") if (v := getattr(self, k)) is not None})
        return out


@dataclass(frozen=True)
class MediaOptions:
    """Options of an audio/video conversion; which apply depends on the pair (formats.table)."""

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
    enlarge: bool | None = None

    def __post_init__(self) -> None:
        check(self)

    def given(self) -> list[str]:
        return [f.name for f in fields(self) if getattr(self, f.name) is not None]

    @property
    def cover(self) -> bool:
        return self.fit == "cover"

    @classmethod
    def from_form(cls, form: Mapping[str, str]) -> MediaOptions:
        return cls(**from_form(form, MEDIA_OPTIONS, what="audio or video"))

    @classmethod
    def from_json(cls, obj: object, *, prefix: str = "options.") -> MediaOptions:
        values = from_json(obj, MEDIA_OPTIONS, prefix=prefix, what="audio or video")
        with _named_after(prefix):
            return cls(**values)

    def to_json(self) -> dict[str, object]:
        """The JSON form (a queued job's options), round-tripping through from_json."""
        return {name: getattr(self, name) for name in self.given()}


def parse_quality(value: str | int | None) -> int | None:
    """A compress `quality` from a form string or a JSON int; None when absent or empty."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    option = OPTIONS["quality"]
    number = option.from_text(value.strip()) if isinstance(value, str) else value
    if isinstance(number, bool) or not isinstance(number, int):
        raise InvalidParameter(f"{option.name} must be an integer from 1 to 100.")
    option.check(number)
    return number


@dataclass(frozen=True)
class PageRanges:
    """A `pages` selection ("1-3,7"): 1-based, inclusive ranges in the order given."""

    ranges: tuple[tuple[int, int], ...]

    @classmethod
    def parse(cls, text: str) -> PageRanges:
        ranges: list[tuple[int, int]] = []
        for part in text.replace(" ", "").split(","):
            first, dash, last = part.partition("-")
            bounds = (first, last if dash else first)
            if not all(b.isascii() and b.isdigit() and len(b) <= 7 for b in bounds):
                raise InvalidParameter(f'pages must be page numbers and ranges such as "1-3,7", not {text[:20]!r}.')
            low, high = int(bounds[0]), int(bounds[1])
            if not 1 <= low <= high:
                raise InvalidParameter(f"pages: the range {part!r} must go from a page (1 or more) up to a later one.")
            ranges.append((low, high))
        return cls(tuple(ranges))

    def highest(self) -> int:
        return max(high for _, high in self.ranges)

    def __str__(self) -> str:
        return ",".join(str(low) if low == high else f"{low}-{high}" for low, high in self.ranges)


@dataclass(frozen=True)
class DocumentOptions:
    """Options of an office or text document's conversion; which apply depends on the pair (formats.table)."""

    pages: str | None = None  # PDF output: the pages kept ("1-3,7")
    pdf_a: bool | None = None  # PDF output: PDF/A-2b
    page: int | None = None  # preview: which page becomes the image (default 1)
    width: int | None = None
    height: int | None = None
    fit: Fit | None = None
    quality: int | None = None
    sheet: str | None = None  # CSV output: the sheet's name or 1-based number (default the first)
    input_password: str | None = field(default=None, repr=False)  # never logged
    source_format: str | None = None  # a text input's format when its name does not say (sniff)

    def __post_init__(self) -> None:
        check(self)
        if self.pages is not None:
            PageRanges.parse(self.pages)

    def given(self) -> list[str]:
        return [f.name for f in fields(self) if getattr(self, f.name) is not None]

    @property
    def page_ranges(self) -> PageRanges | None:
        return None if self.pages is None else PageRanges.parse(self.pages)

    @classmethod
    def from_form(cls, form: Mapping[str, str]) -> DocumentOptions:
        return cls(**from_form(form, DOCUMENT_OPTIONS, what="documents"))

    @classmethod
    def from_json(cls, obj: object, *, prefix: str = "options.") -> DocumentOptions:
        values = from_json(obj, DOCUMENT_OPTIONS, prefix=prefix, what="documents")
        with _named_after(prefix):
            return cls(**values)

    def to_json(self) -> dict[str, object]:
        """The JSON form (a queued job's options, `input_password` included: whoever stores it seals it)."""
        return {name: getattr(self, name) for name in self.given()}


@dataclass(frozen=True)
class PdfOptions:
    """Options of the PDF tools (docs/pdf-tools.md): a PDF from a PDF (`tools`), a merge, or a compress. Each
    kind takes its own subset (PDF_TOOL_OPTIONS, MERGE_OPTIONS, PDF_COMPRESS_OPTIONS); the rest stay unset."""

    input_password: str | None = field(default=None, repr=False)  # never logged
    pages: str | None = None
    rotate: int | None = None
    ocr: bool | None = None
    ocr_languages: str | None = None
    pdf_a: bool | None = None
    password: str | None = field(default=None, repr=False)  # never logged
    page_size: str | None = None
    quality: int | None = None
    dpi: int | None = None

    def __post_init__(self) -> None:
        check(self)
        if self.ocr_languages is not None and not self.ocr:
            raise InvalidParameter("ocr_languages applies only with ocr=true.")
        if self.pdf_a and self.password is not None:
            raise InvalidParameter("password cannot be combined with pdf_a: PDF/A forbids encryption.")

    def given(self) -> list[str]:
        return [f.name for f in fields(self) if getattr(self, f.name) is not None]

    def has_tool(self) -> bool:
        """Whether a PDF → PDF conversion has something to do (docs/api.md: none of them is a mistake)."""
        return any(getattr(self, name) for name in ("pages", "rotate", "ocr", "pdf_a", "password"))

    @classmethod
    def from_form(cls, form: Mapping[str, str], names: tuple[str, ...], *, what: str) -> PdfOptions:
        return cls(**from_form(form, names, what=what))

    @classmethod
    def from_json(cls, obj: object, names: tuple[str, ...], *, prefix: str = "options.", what: str) -> PdfOptions:
        values = from_json(obj, names, prefix=prefix, what=what)
        with _named_after(prefix):
            return cls(**values)

    def to_json(self) -> dict[str, object]:
        """The JSON form (a queued job's options, the passwords included: whoever stores it seals them,
        conversions.records.seal_secret_options)."""
        return {name: getattr(self, name) for name in self.given()}
