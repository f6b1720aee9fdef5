"""Files: uploads, imports, the file itself and its listing."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import Field, WithJsonSchema

from filegate.egress.fetch import MAX_HEADER_VALUE_CHARS, MAX_HEADERS
from filegate.models.base import RequestBody, ResponseBody, Timestamp

# Headers for a private link (e.g. Authorization), sent to the URL's own origin only; checked by the import's
# own rules (their messages), described here.
ImportHeaders = Annotated[
    dict[str, str] | None,
    Field(max_length=MAX_HEADERS),
    WithJsonSchema(
        {
            "type": "object",
            "maxProperties": MAX_HEADERS,
            "additionalProperties": {"type": "string", "maxLength": MAX_HEADER_VALUE_CHARS},
            "description": "Headers for a private link (e.g. Authorization), sent to the URL's own origin only; "
            "never logged, never stored past the import.",
        }
    ),
]


class CreateFileRequest(RequestBody):
    filename: str = Field(min_length=1, max_length=255)
    content_type: str | None = Field(default=None, max_length=255)
    size: int = Field(ge=0)  # 0 is refused by the one size rule, naming `file`


class ImportFileRequest(RequestBody):
    url: str = Field(min_length=1, max_length=2048)
    filename: str | None = Field(default=None, min_length=1, max_length=255)
    headers: ImportHeaders = None


class FileError(ResponseBody):
    code: Literal["import_refused", "import_failed", "file_too_large", "unsupported_media_type"]
    message: str


class File(ResponseBody):
    id: str
    filename: str
    status: Literal["pending", "importing", "ready", "failed"]
    origin: Literal["upload", "conversion", "import"]
    size: int | None
    format: str | None
    content_type: str | None
    metadata: dict[str, Any] | None
    error: FileError | None  # a failed import's
    created_at: Timestamp
    completed_at: Timestamp | None
    expires_at: Timestamp


class Upload(ResponseBody):
    """A presigned POST: send `fields` and then the file as multipart/form-data to `url` before `expires_at`."""

    url: str
    fields: dict[str, str]
    expires_at: Timestamp


class NewFile(File):
    upload: Upload


class FileList(ResponseBody):
    data: list[File]
    next_cursor: str | None
