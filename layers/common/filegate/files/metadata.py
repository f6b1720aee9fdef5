"""A file's `metadata` (API.md "Files"): what it is, read from the file itself.

Images through Pillow (header only: no decode), PDFs through pypdfium2 (page count), audio and video
through the media probe (FFmpeg in its sandbox). Each library loads on first use.
"""

from __future__ import annotations

import importlib.util
import io
import tempfile
from pathlib import Path
from typing import Any

from filegate import errors
from filegate.files.storage import Bucket
from filegate.formats import avformats
from filegate.formats.table import FORMATS, PIL_FORMAT

# Files up to this size are copied to local storage at completion to read their metadata; larger media
# gets its metadata from the media worker's probe.
METADATA_COPY_MAX_BYTES = 512 * 1024 * 1024


def image_metadata(data: bytes, fmt: str) -> dict[str, Any]:
    """Width and height as the engine reads them (every image format it takes, SVG and RAW included, from
    the header only), and the page/frame count where Pillow reads the format."""
    from filegate.engines.image import engine

    try:
        _, width, height = engine.probe(data)
    except errors.ApiError as exc:
        raise errors.ConversionFailed("The image's header could not be read.") from exc
    meta: dict[str, Any] = {"kind": "image", "format": fmt, "width": width, "height": height}
    if fmt in PIL_FORMAT:
        from PIL import Image

        try:
            with Image.open(io.BytesIO(data), formats=[PIL_FORMAT[fmt]]) as image:
                frames = int(getattr(image, "n_frames", 1))
        except Exception:  # the engine read it; a frame count is a detail
            frames = 1
        if frames > 1:
            meta["pages"] = frames
    return meta


def document_metadata(data: bytes) -> dict[str, Any]:
    import pypdfium2

    try:
        document = pypdfium2.PdfDocument(data)
    except pypdfium2.PdfiumError as exc:
        raise errors.ConversionFailed("The PDF could not be read.") from exc
    try:
        return {"kind": "document", "format": "pdf", "pages": len(document)}
    finally:
        document.close()


def media_metadata(path: Path, fmt: str, *, binary: str = "") -> dict[str, Any]:
    from filegate.engines.av import probe as media_probe

    with tempfile.TemporaryDirectory(prefix="probe-") as workdir:
        info = media_probe.probe(path, fmt, avformats.demuxer(fmt), workdir=Path(workdir), binary=binary)
    return info.to_json()


def metadata_of(path: Path, fmt: str, *, ffmpeg_binary: str = "") -> dict[str, Any]:
    """The metadata of the file at `path`, whose sniffed format is `fmt`."""
    if avformats.is_media(fmt):
        return media_metadata(path, fmt, binary=ffmpeg_binary)
    if FORMATS[fmt].document:
        return document_metadata(path.read_bytes())
    return image_metadata(path.read_bytes(), fmt)


# Formats whose header only their own decoder reads, in a layer of its own that the files function does not
# carry (layers/raw: LibRaw and numpy would take it past Lambda's 250 MB with the imaging and FFmpeg layers).
RAW_FORMATS = frozenset({"dng"})


def can_read_here(fmt: str) -> bool:
    """Whether this function carries the reader for `fmt`'s metadata."""
    return fmt not in RAW_FORMATS or importlib.util.find_spec("rawpy") is not None


def metadata_of_object(bucket: Bucket, key: str, fmt: str, size: int) -> dict[str, Any] | None:
    """The metadata of a stored object, read from a local copy; None when it is too large to copy here
    (the media worker records it when it probes the file), when this function has no reader for it (the
    image worker records it at the first conversion) or when it cannot be read (a conversion will say why)."""
    if size > METADATA_COPY_MAX_BYTES or not can_read_here(fmt):
        return None
    with tempfile.TemporaryDirectory(prefix="metadata-") as workdir:
        path = Path(workdir) / "file"
        bucket.download(key, path)
        try:
            return metadata_of(path, fmt)
        except errors.ApiError:
            return None
