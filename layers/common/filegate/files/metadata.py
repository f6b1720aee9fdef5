"""A file's `metadata` (docs/api.md "Files"): what it is, read from the file itself by the engine that converts
it (``engine_for``): images from their header, PDFs their page count, audio and video their probe."""

from __future__ import annotations

import importlib.util
import tempfile
from pathlib import Path
from typing import Any

from filegate import errors
from filegate.engines import Source, Workspace, engine_for
from filegate.files.storage import Bucket

# Files up to this size are copied to local storage at completion to read their metadata; larger media
# gets its metadata from the media worker's probe.
METADATA_COPY_MAX_BYTES = 512 * 1024 * 1024
# Formats whose header only their own decoder reads, in a layer of its own that the files function does not
# carry (layers/raw: LibRaw and numpy would take it past Lambda's 250 MB with the imaging and FFmpeg layers).
RAW_FORMATS = frozenset({"dng"})


def metadata_of(path: Path, fmt: str, *, ffmpeg_binary: str = "") -> dict[str, Any]:
    """The metadata of the file at `path`, whose sniffed format is `fmt`."""
    workspace = Workspace(path.parent, ffmpeg_path=ffmpeg_binary)
    return engine_for(fmt, None).metadata(Source(fmt, path=path), workspace)


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
