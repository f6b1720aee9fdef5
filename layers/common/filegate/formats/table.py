"""The one table of formats: what each is, what it converts to, and which options each conversion takes.

Kinds: ``image`` (raster and vector images), ``document`` (PDF: paged; office files and text, each of a
``family`` that says what LibreOffice makes of it), ``audio`` and ``video`` (containers FFmpeg reads; the
probe tells what a given file holds). No imaging or FFmpeg imports here, so
`GET /v1/formats` and the files function (content types, extensions) use it without either layer.
tests/unit/engines converts a real file for every pair it lists.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from filegate.errors import InvalidParameter, UnsupportedConversion
from filegate.formats.options import OutputKind, taken_by
from filegate.suggest import did_you_mean

Kind = Literal["image", "document", "audio", "video"]
# What an office or text document is (docs/api.md "Documents"): which targets it has and which LibreOffice
# application opens it.
Family = Literal["word", "sheet", "slides", "text"]


@dataclass(frozen=True)
class FormatInfo:
    name: str
    content_type: str
    extensions: tuple[str, ...]  # the first is the one used for output file names
    readable: bool
    writable: bool
    kind: Kind = "image"
    compressible: bool = False  # POST /v1/compress can re-encode it in the same format
    animated: bool = False  # animation is kept when both source and target are animated formats
    # The FFmpeg demuxer forced for this input (-f), never guessed from the bytes by FFmpeg: audio, video, and
    # the animated images FFmpeg reads as a video source.
    demuxer: str | None = None
    family: Family | None = None  # office and text documents (converted by LibreOffice); None for PDF

    @property
    def extension(self) -> str:
        return self.extensions[0]

    @property
    def document(self) -> bool:
        return self.kind == "document"

    @property
    def office(self) -> bool:
        """An office or text document (the document engine converts it), not a PDF."""
        return self.family is not None

    @property
    def media(self) -> bool:
        """Audio or video (converted by FFmpeg)."""
        return self.kind in ("audio", "video")


def _audio(
    name: str, content_type: str, extensions: tuple[str, ...], demuxer: str, *, writable: bool = False
) -> FormatInfo:
    return FormatInfo(name, content_type, extensions, True, writable, kind="audio", demuxer=demuxer)


def _video(
    name: str, content_type: str, extensions: tuple[str, ...], demuxer: str, *, writable: bool = False
) -> FormatInfo:
    return FormatInfo(name, content_type, extensions, True, writable, kind="video", demuxer=demuxer)


def _document(
    name: str, content_type: str, extensions: tuple[str, ...], family: Family, *, writable: bool = True
) -> FormatInfo:
    return FormatInfo(name, content_type, extensions, True, writable, kind="document", family=family)


_OOXML = "application/vnd.openxmlformats-officedocument."
_ODF = "application/vnd.oasis.opendocument."

FORMATS: dict[str, FormatInfo] = {
    f.name: f
    for f in (
        FormatInfo("jpg", "image/jpeg", ("jpg", "jpeg", "jpe", "jfif"), True, True, compressible=True),
        FormatInfo("png", "image/png", ("png",), True, True, compressible=True),
        FormatInfo("webp", "image/webp", ("webp",), True, True, compressible=True, animated=True, demuxer="webp_anim"),
        FormatInfo("gif", "image/gif", ("gif",), True, True, compressible=True, animated=True, demuxer="gif"),
        FormatInfo("bmp", "image/bmp", ("bmp", "dib"), True, True, compressible=True),
        FormatInfo("tiff", "image/tiff", ("tiff", "tif"), True, True, compressible=True),
        FormatInfo("avif", "image/avif", ("avif",), True, True, compressible=True),
        FormatInfo("ico", "image/vnd.microsoft.icon", ("ico",), True, True),
        # HEIC/HEIF are input-only: libheif's HEVC encoder is far too slow for a request path.
        FormatInfo("heic", "image/heic", ("heic",), True, False),
        FormatInfo("heif", "image/heif", ("heif", "hif"), True, False),
        FormatInfo("pdf", "application/pdf", ("pdf",), True, True, kind="document", compressible=True),
        # Read-only image formats people send (a designer's PSD, a game texture, a camera's DNG, a logo's SVG),
        # each through a maintained decoder that never runs code from the file (EPS/PS are refused: sniff).
        FormatInfo("jxl", "image/jxl", ("jxl",), True, True),
        FormatInfo("psd", "image/vnd.adobe.photoshop", ("psd",), True, False),
        FormatInfo("tga", "image/x-tga", ("tga", "icb", "vda", "vst"), True, False),
        FormatInfo("jp2", "image/jp2", ("jp2", "j2k", "j2c", "jpf", "jpx"), True, False),
        FormatInfo("dds", "image/vnd-ms.dds", ("dds",), True, False),
        FormatInfo("sgi", "image/sgi", ("sgi", "rgb", "rgba", "bw"), True, False),
        FormatInfo("pcx", "image/vnd.zbrush.pcx", ("pcx",), True, False),
        FormatInfo("icns", "image/icns", ("icns",), True, False),
        FormatInfo("pnm", "image/x-portable-anymap", ("pnm", "pbm", "pgm", "ppm"), True, False),
        FormatInfo("pam", "image/x-portable-arbitrarymap", ("pam",), True, False),
        FormatInfo("xbm", "image/x-xbitmap", ("xbm",), True, False),
        FormatInfo("qoi", "image/qoi", ("qoi",), True, False),
        FormatInfo("dng", "image/x-adobe-dng", ("dng",), True, False),
        FormatInfo("svg", "image/svg+xml", ("svg",), True, False),
        # Audio and video: the container's usual content is its kind.
        _video("mp4", "video/mp4", ("mp4", "m4v"), "mov", writable=True),
        _video("mov", "video/quicktime", ("mov", "qt"), "mov"),
        _audio("m4a", "audio/mp4", ("m4a",), "mov", writable=True),
        _video("webm", "video/webm", ("webm",), "matroska", writable=True),
        _video("mkv", "video/x-matroska", ("mkv",), "matroska"),
        _video("avi", "video/x-msvideo", ("avi",), "avi"),
        _video("ts", "video/mp2t", ("ts", "m2ts", "mts"), "mpegts"),
        _video("flv", "video/x-flv", ("flv",), "flv"),
        _video("ogg", "audio/ogg", ("ogg", "oga", "ogv"), "ogg"),
        _audio("opus", "audio/ogg", ("opus",), "ogg", writable=True),
        _audio("wav", "audio/wav", ("wav", "wave"), "wav", writable=True),
        _audio("flac", "audio/flac", ("flac",), "flac", writable=True),
        _audio("mp3", "audio/mpeg", ("mp3",), "mp3", writable=True),
        _audio("aac", "audio/aac", ("aac", "adts"), "aac"),
        # Office documents and text (LibreOffice); the legacy binary formats and Markdown are input-only.
        _document("docx", _OOXML + "wordprocessingml.document", ("docx",), "word"),
        _document("doc", "application/msword", ("doc", "dot"), "word", writable=False),
        _document("odt", _ODF + "text", ("odt",), "word"),
        _document("rtf", "application/rtf", ("rtf",), "word"),
        _document("xlsx", _OOXML + "spreadsheetml.sheet", ("xlsx",), "sheet"),
        _document("xls", "application/vnd.ms-excel", ("xls", "xlt"), "sheet", writable=False),
        _document("ods", _ODF + "spreadsheet", ("ods",), "sheet"),
        _document("pptx", _OOXML + "presentationml.presentation", ("pptx",), "slides"),
        _document("ppt", "application/vnd.ms-powerpoint", ("ppt", "pps"), "slides", writable=False),
        _document("odp", _ODF + "presentation", ("odp",), "slides"),
        _document("txt", "text/plain", ("txt", "text"), "text"),
        _document("csv", "text/csv", ("csv",), "text"),
        _document("md", "text/markdown", ("md", "markdown"), "text", writable=False),
        _document("html", "text/html", ("html", "htm"), "text"),
    )
}

# Document targets (docs/api.md "Documents"): PDF from every one, the same family's office formats, and one page
# as an image (a preview).
PREVIEW_TARGETS = ("png", "jpg", "webp")
_DOCUMENT_TARGETS: dict[str, tuple[str, ...]] = {
    "word": ("pdf", "docx", "odt", "rtf", "txt"),
    "sheet": ("pdf", "xlsx", "ods", "csv"),
    "slides": ("pdf", "pptx", "odp"),
    "txt": ("pdf",),
    "csv": ("pdf", "xlsx", "ods"),
    "md": ("pdf", "docx", "html"),
    "html": ("pdf", "docx"),
}
# Text formats told apart by the file name's extension or the `source_format` field (sniff).
TEXT_FORMATS = tuple(f.name for f in FORMATS.values() if f.family == "text")

# A PDF page is rendered to a raster; these are the raster targets offered for it. A PDF also becomes a PDF
# through the PDF tools (engines/pdf), which need at least one of their options.
PDF_RASTER_TARGETS = ("png", "jpg")
PDF_TARGETS = ("pdf", *PDF_RASTER_TARGETS)
# What a merge (several inputs, target pdf) takes in: PDFs and every raster image the image engine reads.
MERGE_TARGET = "pdf"
# Multi-page raster inputs: `page` picks the page, as for a PDF.
PAGED_RASTERS = frozenset({"tiff"})
# What FFmpeg makes of audio and video (and of an animated image: a video).
VIDEO_TARGETS = ("mp4", "webm", "gif")
AUDIO_TARGETS = ("mp3", "m4a", "opus", "wav", "flac")
THUMBNAIL_TARGETS = ("jpg", "png", "webp")
ANIMATION_VIDEO_TARGETS = ("mp4", "webm")
# Lossless or uncompressed audio has no quality or bitrate to choose; a PNG thumbnail no quality.
_NO_QUALITY = frozenset({"wav", "flac", "png"})
_NO_BITRATE = frozenset({"wav", "flac"})

_ALIASES = {"jpeg": "jpg", "jpe": "jpg", "jfif": "jpg", "tif": "tiff", "dib": "bmp", "hif": "heif", "jpegxl": "jxl"}
_ALIASES.update({ext: f.name for f in FORMATS.values() if f.media or f.office for ext in f.extensions[1:]})


def normalize(name: str) -> str | None:
    """The canonical format name for a client-supplied target (`JPEG`, `tif`…), or None if unknown."""
    key = name.strip().lower().lstrip(".")
    key = _ALIASES.get(key, key)
    return key if key in FORMATS else None


def is_media_conversion(source: str | None, target: str | None) -> bool:
    """Whether FFmpeg does this conversion: any audio/video input, or an animated image made into a video."""
    info = FORMATS.get(source or "")
    if info is None:
        return False
    return info.media or (info.demuxer is not None and normalize(target or "") in ANIMATION_VIDEO_TARGETS)


def targets_for(source: str) -> tuple[str, ...]:
    """What `source` converts to, in a stable order."""
    info = FORMATS[source]
    if not info.readable:
        return ()
    if info.family is not None:
        own = _DOCUMENT_TARGETS[source if info.family == "text" else info.family]
        return (*own, *PREVIEW_TARGETS)
    if info.document:
        return PDF_TARGETS
    if info.kind == "audio":
        return AUDIO_TARGETS
    if info.kind == "video":
        return (*VIDEO_TARGETS, *AUDIO_TARGETS, *THUMBNAIL_TARGETS)
    images = tuple(f.name for f in FORMATS.values() if f.writable and not f.media and not f.office)
    return images + (ANIMATION_VIDEO_TARGETS if info.demuxer is not None else ())


def is_pdf_tool(source: str | None, target: str | None) -> bool:
    """Whether the PDF tools do this: a PDF made into a PDF, or a PDF compressed (target None)."""
    return source == "pdf" and normalize(target or "pdf") == "pdf"


def mergeable(source: str) -> bool:
    """Whether an input of this format can go into a merge: a PDF, or a still image the image engine reads."""
    info = FORMATS.get(source)
    return info is not None and info.readable and (info.name == "pdf" or info.kind == "image")


def output_kind(source: str, target: str) -> OutputKind:
    """What a conversion makes, for the options it takes (formats.options)."""
    if is_pdf_tool(source, target):
        return "pdf_tool"
    if FORMATS[source].office:
        return document_output_kind(source, target)
    if not is_media_conversion(source, target):
        return "paged" if FORMATS[source].document or source in PAGED_RASTERS else "image"
    return media_output_kind(target)


def document_output_kind(source: str, target: str) -> OutputKind:
    """What LibreOffice makes of an office or text document converted to `target`."""
    if target == "pdf":
        return "pdf"
    if target in PREVIEW_TARGETS:
        return "preview"
    if target == "csv" and FORMATS[source].family == "sheet":
        return "sheet"
    return "office"


def media_output_kind(target: str) -> OutputKind:
    """What FFmpeg makes of audio or video converted to `target`."""
    if target == "gif":
        return "gif"
    if target in VIDEO_TARGETS:
        return "video"
    if target in AUDIO_TARGETS:
        return "audio"
    return "thumbnail"


def options_for_pair(source: str, target: str) -> tuple[str, ...]:
    """The options that converting `source` to `target` takes."""
    kind = output_kind(source, target)
    if FORMATS[source].office:
        # Text cannot be encrypted; only text is told apart by `source_format`.
        dropped = {"source_format"} if source not in TEXT_FORMATS else {"input_password"}
        return tuple(o for o in taken_by(kind) if o not in dropped)
    if kind in ("image", "paged"):
        return taken_by("image", "paged") if kind == "paged" else taken_by("image")
    if kind == "pdf_tool":
        return taken_by("pdf_tool")
    dropped = {"quality"} if target in _NO_QUALITY else set()
    dropped |= {"audio_bitrate"} if target in _NO_BITRATE else set()
    return tuple(o for o in taken_by(kind) if o not in dropped)


def options_for(source: str) -> tuple[str, ...]:
    """Every option some target of `source` takes (the `options` list of GET /v1/formats)."""
    return tuple(dict.fromkeys(o for t in targets_for(source) for o in options_for_pair(source, t)))


def check_options_apply(given: list[str], source: str, target: str, *, prefix: str = "") -> None:
    """InvalidParameter naming (after `prefix`) the first option given that this pair does not take."""
    allowed = options_for_pair(source, target)
    for name in given:
        if name not in allowed:
            raise InvalidParameter(
                f"{prefix}{name} does not apply to converting {source} to {target} "
                f"(options for {target}: {', '.join(allowed) or 'none'})."
            )


def resolve_target(source: str, target: str) -> str:
    """The canonical target for a source, or UnsupportedConversion naming what is possible."""
    canonical = normalize(target)
    allowed = targets_for(source)
    if canonical is None or canonical not in allowed:
        shown = target.strip()[:20] or "(empty)"
        hint = did_you_mean(target.strip(), allowed)
        raise UnsupportedConversion(
            f"Converting {source} to {shown} is not supported{hint}; {source} converts to: {', '.join(allowed)}."
        )
    return canonical


def compress_target(source: str) -> str:
    """Compressing keeps the source's format: UnsupportedConversion for one that cannot be re-encoded."""
    if not FORMATS[source].compressible:
        raise UnsupportedConversion(f"Compressing {source} is not supported; convert it instead (see GET /v1/formats).")
    return source


def kind(fmt: str | None) -> str:
    """What a format holds, for metrics: ``image``, ``document``, ``audio``, ``video``, or ``unknown``."""
    info = FORMATS.get(normalize(fmt or "") or "")
    return "unknown" if info is None else info.kind


def content_type(fmt: str) -> str:
    return FORMATS[fmt].content_type


def extension(fmt: str) -> str:
    return FORMATS[fmt].extension


def demuxer(source: str) -> str:
    """The FFmpeg demuxer forced for an input FFmpeg reads."""
    found = FORMATS[source].demuxer
    assert found is not None, source
    return found


def compress_options(source: str) -> tuple[str, ...]:
    """What POST /v1/compress takes for `source`: a quality, and for a PDF its own (engines/pdf)."""
    if not FORMATS[source].compressible:
        return ()
    return taken_by("compressed_pdf") if source == "pdf" else ("quality",)


def formats_document() -> dict[str, Any]:
    """The body of `GET /v1/formats`."""
    return {
        "formats": {
            f.name: {
                "kind": f.kind,
                "to": list(targets_for(f.name)),
                "options": list(options_for(f.name)),
                "content_type": f.content_type,
                "extensions": list(f.extensions),
                "compress": f.compressible,
                "compress_options": list(compress_options(f.name)),
            }
            for f in FORMATS.values()
            if f.readable
        },
        # Several inputs in one PDF: several `file` parts on /v1/convert, or `file_ids` on /v1/conversions.
        "merge": {
            "target": MERGE_TARGET,
            "from": [f.name for f in FORMATS.values() if mergeable(f.name)],
            "options": list(taken_by("merged_pdf")),
        },
    }
