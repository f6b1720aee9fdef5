"""Import from a URL (docs/api.md "Files" → "Import from a URL"), the worker's side: the import worker fetches
the file through the egress guard (``filegate.egress.fetch``: every hop re-checked, connected to the very
address checked), streams it to S3 (multipart, the tier's cap counted on the bytes received), sniffs it like
an upload, and the file ends ``ready`` (with metadata) or ``failed`` with ``error``. The request side is
filegate.files.import_requests.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final

from filegate import errors
from filegate.db import files as files_table
from filegate.egress.fetch import FILE_TOO_LARGE, IMPORT_FAILED, FetchFailed, FetchLimits, fetch
from filegate.egress.policy import Resolver, resolver_for
from filegate.files import service as files_service
from filegate.files.import_requests import opened_request
from filegate.files.storage import Bucket
from filegate.formats.sniff import sniff
from filegate.formats.table import content_type
from filegate.observability import logger
from filegate.settings import ImportSettings, WebhookStore
from filegate.webhooks import emitting as webhook_events
from filegate.webhooks import events

UNSUPPORTED_MEDIA_TYPE: Final = "unsupported_media_type"
# Enough of the start to sniff every format and to tell an HTML page from a file.
SNIFF_BYTES: Final = 64 * 1024
ABANDONED_MESSAGE: Final = "The import failed repeatedly and was abandoned."
HTML_MESSAGE: Final = (
    "The URL returned an HTML page, not a file (a share link's landing page?); "
    "use the link that downloads the file itself."
)
_HTML_STARTS: Final = (b"<!doctype html", b"<html", b"<head", b"<body", b"<title", b"<meta", b"<script")


@dataclass(frozen=True)
class ImportMessage:
    file_id: str
    key: str
    max_bytes: int
    tier: str
    conversion_id: str | None
    conversion_key: str | None = None  # the key to the conversion's sealed options (never logged)

    @classmethod
    def parse(cls, body: Mapping[str, Any]) -> ImportMessage:
        conversion_id, conversion_key = body.get("conversion_id"), body.get("conversion_key")
        return cls(
            str(body["file_id"]),
            str(body["key"]),
            int(body["max_bytes"]),
            str(body["tier"]),
            str(conversion_id) if conversion_id else None,
            str(conversion_key) if conversion_key else None,
        )


def _looks_like_html(head: bytes) -> bool:
    text = head[:1024].lstrip(b"\xef\xbb\xbf \t\r\n").lower()
    if text.startswith(b"<!--"):
        return b"<html" in text
    return text.startswith(_HTML_STARTS)


def _sniffed(head: bytes, filename: str) -> str:
    if _looks_like_html(head):
        raise errors.UnsupportedMediaType(HTML_MESSAGE)
    return sniff(head, filename)


def _with_head(first: bytes, rest: Iterator[bytes]) -> Iterator[bytes]:
    yield first
    yield from rest


def _announce(record: files_table.FileRecord, webhooks: WebhookStore, account_tier: str, now: datetime) -> None:
    """file.imported / file.import_failed, once per file whatever the redeliveries (ids derive from it)."""
    if record.status not in ("ready", "failed"):
        return
    webhook_events.emit_event(
        webhooks,
        account_id=record.account_id,
        account_tier=account_tier,
        event_type=events.FILE_IMPORTED if record.status == "ready" else events.FILE_IMPORT_FAILED,
        data=files_service.file_json(record),
        occurred_at=record.completed_at or now,
        source_id=record.file_id,
        now=now,
    )


def _fetch_and_store(
    record: files_table.FileRecord,
    message: ImportMessage,
    bucket: Bucket,
    settings: ImportSettings,
    *,
    resolver: Resolver | None,
    ssl_context: Any,
) -> tuple[str, int]:
    """The URL's bytes into the file's object; (format, size). Raises FetchFailed or an ApiError."""
    if record.import_sealed is None:
        raise FetchFailed(IMPORT_FAILED, "The import's request is no longer available.")
    url, headers = opened_request(record.file_id, record.import_sealed, message.key)
    limits = FetchLimits(
        max_bytes=message.max_bytes,
        connect_timeout=settings.import_connect_timeout_seconds,
        wall_seconds=settings.import_wall_seconds,
    )
    with fetch(
        url,
        headers,
        limits,
        allow_insecure_loopback=settings.egress_allow_insecure_loopback,
        resolver=resolver or resolver_for(settings),
        ssl_context=ssl_context,
    ) as body:
        chunks = body.chunks()
        head = b""
        for chunk in chunks:  # buffer the start: sniffed before a byte is stored
            head += chunk
            if len(head) >= SNIFF_BYTES:
                break
        if not head:
            raise errors.UnsupportedMediaType("The URL returned no bytes.")
        fmt = _sniffed(head, record.filename)
        size = bucket.write_stream(
            record.object_key, _with_head(head, chunks), content_type(fmt), settings.import_part_mb * 1024 * 1024
        )
    return fmt, size


def run_import(
    message: ImportMessage,
    bucket: Bucket,
    settings: ImportSettings,
    now: datetime,
    *,
    resolver: Resolver | None = None,
    ssl_context: Any = None,
) -> files_table.FileRecord | None:
    """One queued import: fetched, stored, sniffed, ``ready`` or ``failed``, announced. None when the file is
    gone (deleted meanwhile). A redelivery of a finished import only re-announces it (idempotent)."""
    record = files_table.get(message.file_id)
    if record is None:
        return None
    if record.status != "importing":
        _announce(record, settings, message.tier, now)
        return record
    try:
        fmt, size = _fetch_and_store(record, message, bucket, settings, resolver=resolver, ssl_context=ssl_context)
    except FetchFailed as exc:
        return _failed(record, exc.code, exc.message, settings, message.tier, now)
    except errors.ApiError as exc:  # the sniff: 415, or a hostile input named as such
        code = FILE_TOO_LARGE if isinstance(exc, errors.FileTooLarge) else UNSUPPORTED_MEDIA_TYPE
        return _failed(record, code, exc.message, settings, message.tier, now)
    from filegate.files import metadata as file_metadata  # the metadata readers load only where imports finish

    try:
        metadata = file_metadata.metadata_of_object(bucket, record.object_key, fmt, size)
    except errors.ApiError as exc:
        bucket.delete(record.object_key)
        return _failed(record, UNSUPPORTED_MEDIA_TYPE, exc.message, settings, message.tier, now)
    files_table.finish_import(record, size=size, fmt=fmt, content_type=content_type(fmt), now=now, metadata=metadata)
    finished = files_table.get(record.file_id)
    if finished is not None:
        logger.info("file imported", extra={"file_id": record.file_id, "format": fmt, "size": size})
        _announce(finished, settings, message.tier, now)
    return finished


def _failed(
    record: files_table.FileRecord, code: str, message: str, webhooks: WebhookStore, account_tier: str, now: datetime
) -> files_table.FileRecord | None:
    files_table.fail_import(record, code, message, now)
    logger.info("file import failed", extra={"file_id": record.file_id, "code": code})
    finished = files_table.get(record.file_id)
    if finished is not None:
        _announce(finished, webhooks, account_tier, now)
    return finished


def abandon_import(message: ImportMessage, webhooks: WebhookStore, now: datetime) -> files_table.FileRecord | None:
    """A message that crashed the worker on every attempt: the file ends failed, never stuck importing."""
    record = files_table.get(message.file_id)
    if record is None:
        return None
    if record.status == "importing":
        return _failed(record, IMPORT_FAILED, ABANDONED_MESSAGE, webhooks, message.tier, now)
    return record


def file_error(record: files_table.FileRecord | None) -> tuple[str, str]:
    """Why an import left no ready file: (code, message) for the conversion that waited on it."""
    if record is None:
        return "not_found", "The imported file no longer exists."
    return record.error_code or IMPORT_FAILED, record.error_message or "The import failed."
