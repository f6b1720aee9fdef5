"""Small pieces every resource of the client shares: request bodies, path segments, local files."""

from __future__ import annotations

import mimetypes
import os
import warnings
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote

Source = str | os.PathLike[str] | bytes


def form_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def output_of(
    output: str | os.PathLike[str] | None, to: str | os.PathLike[str] | None
) -> str | os.PathLike[str] | None:
    """One keyword for output paths across the SDK (``output=``, as ``convert`` takes it); ``to=`` still
    works, with a DeprecationWarning."""
    if to is None:
        return output
    if output is not None:
        raise TypeError("pass output= only (to= is its deprecated name)")
    warnings.warn("to= is deprecated; pass output= (as convert does)", DeprecationWarning, stacklevel=3)
    return to


def is_url(source: object) -> bool:
    """Whether a convert source names a URL for the API to import (``https://``, or ``http://`` locally)."""
    return isinstance(source, str) and source.lower().startswith(("https://", "http://"))


def content_type_of(filename: str) -> str:
    return mimetypes.guess_type(filename)[0] or "application/octet-stream"


def compact(body: Mapping[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in body.items() if v is not None}


def iso(value: datetime | str | None) -> str | None:
    """A time for a query: a datetime as ISO-8601 (naive ones taken as UTC), a string as given."""
    if value is None or isinstance(value, str):
        return value
    return (value if value.tzinfo else value.replace(tzinfo=UTC)).isoformat()


def seg(value: str) -> str:
    """An id as one path segment (never lets an id walk to another route)."""
    return quote(value, safe="")


def load(source: Source, filename: str | None) -> tuple[Path | bytes, str]:
    if isinstance(source, bytes):
        return source, filename or "upload"
    path = Path(source)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such file")
    return path, filename or path.name


def write(output: str | os.PathLike[str] | None, content: bytes) -> Path | None:
    if output is None:
        return None
    path = Path(output)
    path.write_bytes(content)
    return path


def disposition_filename(value: str | None) -> str | None:
    if not value or "filename=" not in value:
        return None
    return value.split("filename=", 1)[1].strip().strip('"')
