"""Files (docs/api.md §5 "Files"): presigned uploads, completion with the real size and type, downloads; the one
size-cap rule for an input, a conversion's input kept as a file, and outputs stored. Never imports job code."""

from __future__ import annotations

import re
import secrets
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from filegate import errors
from filegate.clock import iso
from filegate.context import AuthContext
from filegate.db import files as files_table
from filegate.files import metadata as file_metadata
from filegate.files.storage import Bucket, object_key
from filegate.formats.sniff import sniff
from filegate.formats.table import FORMATS, content_type
from filegate.listing import page_json
from filegate.tiers import TEST_MODE_MAX_INPUT_BYTES, tier

MAX_FILENAME_LENGTH = 255
_UNSAFE = re.compile(r"[^A-Za-z0-9._ -]+")


EMPTY_FILE = "file: the file is empty (0 bytes); send the file's content."


def new_file_id() -> str:
    return "file_" + secrets.token_hex(12)


def max_input_bytes(caller: AuthContext) -> int:
    """The caller's cap on one input file: the tier's, or 1 MB for fg_test_ keys."""
    cap = tier(caller.tier).max_file_bytes
    return min(cap, TEST_MODE_MAX_INPUT_BYTES) if caller.test_mode else cap


def check_input_size(caller: AuthContext, size: int, *, described: str) -> None:
    """The one size rule for an input: an empty file is 422 invalid_parameter naming `file` (on every route
    that takes one), and FileTooLarge over the caller's cap (`described` says what was measured, e.g.
    "The file (123 bytes)")."""
    if size == 0:
        raise errors.InvalidParameter(EMPTY_FILE)
    cap = max_input_bytes(caller)
    if size > cap:
        raise errors.FileTooLarge(f"{described} is over your plan's limit of {cap} bytes.")


def safe_filename(name: str | None, default: str = "file") -> str:
    """A file name safe for Content-Disposition and logs: no paths, no control or quote characters."""
    base = (name or "").replace("\\", "/").rsplit("/", 1)[-1]
    cleaned = _UNSAFE.sub("_", base).strip(" .")[:MAX_FILENAME_LENGTH]
    return cleaned or default


def stem(name: str | None) -> str:
    cleaned = safe_filename(name)
    return cleaned.rsplit(".", 1)[0] if "." in cleaned[1:] else cleaned


def file_json(record: files_table.FileRecord) -> dict[str, Any]:
    return files_table.json_view(record, iso)


def _lifetime(caller: AuthContext) -> timedelta:
    return timedelta(seconds=tier(caller.tier).file_ttl_seconds)


def create_upload(
    caller: AuthContext, bucket: Bucket, *, filename: str, declared_type: str | None, size: int, now: datetime
) -> dict[str, Any]:
    check_input_size(caller, size, described=f"size: {size} bytes")
    cap = max_input_bytes(caller)
    file_id = new_file_id()
    key = object_key(tier(caller.tier), caller.account_id, file_id)
    record = files_table.FileRecord(
        file_id,
        account_id=caller.account_id,
        filename=safe_filename(filename),
        object_key=key,
        status="pending",
        origin="upload",
        declared_content_type=declared_type,
        declared_size=size,
        created_at=now,
        expires_at=now + _lifetime(caller),
    )
    files_table.create(record)
    upload = bucket.presigned_post(key, cap, now)
    return {**file_json(record), "upload": {**upload, "expires_at": iso(upload["expires_at"])}}


def complete_upload(caller: AuthContext, bucket: Bucket, file_id: str, now: datetime) -> dict[str, Any]:
    """Check what really arrived: its size against the cap and its type from its bytes."""
    record = _owned(caller, file_id, now)
    if record.status == "ready":
        return {**file_json(record), "status": "ready"}
    info = bucket.inspect(record.object_key)
    if info is None:
        raise errors.Conflict("Nothing has been uploaded for this file yet; POST it to the upload URL first.")
    try:
        check_input_size(caller, info.size, described=f"The uploaded file ({info.size} bytes)")
    except errors.FileTooLarge:
        bucket.delete(record.object_key)
        raise
    try:
        fmt = sniff(info.head, record.filename)  # the name tells text formats apart (docs/api.md "Documents")
    except errors.UnsupportedMediaType:
        bucket.delete(record.object_key)
        raise
    metadata = file_metadata.metadata_of_object(bucket, record.object_key, fmt, info.size)
    files_table.mark_ready(record, size=info.size, fmt=fmt, content_type=content_type(fmt), now=now, metadata=metadata)
    refreshed = _owned(caller, file_id, now)
    return {**file_json(refreshed), "status": refreshed.status}


def store_output(
    caller_account: str,
    tier_name: str,
    bucket: Bucket,
    *,
    data: bytes | None = None,
    path: Path | None = None,
    fmt: str,
    filename: str,
    now: datetime,
    origin: str = "conversion",
    metadata: dict[str, Any] | None = None,
) -> files_table.FileRecord:
    """A conversion's output (`data`, or the local file at `path`), stored as a ready file of the account
    (``origin="upload"``: an input kept by keep_input)."""
    file_id, key = output_key(caller_account, tier_name)
    if path is not None:
        bucket.upload(key, path, content_type(fmt))
        size = path.stat().st_size
    else:
        assert data is not None
        bucket.put(key, data, content_type(fmt))
        size = len(data)
    return record_output(
        caller_account, tier_name, file_id, key, size=size, fmt=fmt, filename=filename, now=now, origin=origin,
        metadata=metadata,
    )  # fmt: skip


def output_key(caller_account: str, tier_name: str) -> tuple[str, str]:
    """A new file's id and the object key its content is stored under."""
    file_id = new_file_id()
    return file_id, object_key(tier(tier_name), caller_account, file_id)


def record_output(
    caller_account: str,
    tier_name: str,
    file_id: str,
    key: str,
    *,
    size: int,
    fmt: str,
    filename: str,
    now: datetime,
    origin: str = "conversion",
    metadata: dict[str, Any] | None = None,
) -> files_table.FileRecord:
    """The ready file whose content is already stored at `key` (see output_key)."""
    plan = tier(tier_name)
    record = files_table.FileRecord(
        file_id,
        account_id=caller_account,
        filename=filename,
        object_key=key,
        status="ready",
        origin=origin,
        size=size,
        format=fmt,
        content_type=content_type(fmt),
        metadata=metadata,
        created_at=now,
        completed_at=now,
        expires_at=now + timedelta(seconds=plan.file_ttl_seconds),
    )
    files_table.create(record)
    return record


def keep_input(
    caller: AuthContext, bucket: Bucket, *, data: bytes, fmt: str, filename: str | None, now: datetime
) -> files_table.FileRecord:
    """A conversion's input sent in a request, kept as an uploaded file of the account (its name made safe)
    so that a job can convert it."""
    return store_output(
        caller.account_id,
        caller.tier,
        bucket,
        data=data,
        fmt=fmt,
        filename=safe_filename(filename, f"upload.{FORMATS[fmt].extension}"),
        now=now,
        origin="upload",
    )


def _owned(caller: AuthContext, file_id: str, now: datetime) -> files_table.FileRecord:
    record = files_table.get_owned(caller.account_id, file_id, now)
    if record is None:
        raise errors.NotFound("No such file.")
    return record


def get_file(caller: AuthContext, file_id: str, now: datetime) -> dict[str, Any]:
    return file_json(_owned(caller, file_id, now))


def ready_file(caller: AuthContext, file_id: str, now: datetime) -> files_table.FileRecord:
    record = _owned(caller, file_id, now)
    if record.status == "importing":
        raise errors.Conflict("This file is still being imported from its URL; wait until its status is ready.")
    if record.status == "failed":
        raise errors.Conflict("This file's import failed (see its error); it has no content.")
    if record.status != "ready":
        raise errors.Conflict("This file's upload has not been completed (POST /v1/files/{id}/complete).")
    return record


def download_url(caller: AuthContext, bucket: Bucket, file_id: str, now: datetime) -> str:
    record = ready_file(caller, file_id, now)
    return bucket.download_url(record.object_key, record.filename, record.content_type)


def delete_file(caller: AuthContext, bucket: Bucket, file_id: str, now: datetime) -> None:
    record = _owned(caller, file_id, now)
    bucket.delete(record.object_key)
    files_table.delete(record)


def list_files(caller: AuthContext, *, limit: int, cursor: str | None, now: datetime) -> dict[str, Any]:
    return page_json(
        lambda: files_table.list_for_account(caller.account_id, limit=limit, cursor=cursor, now=now), file_json
    )


def output_filename(source_name: str | None, fmt: str) -> str:
    return f"{stem(source_name)}.{FORMATS[fmt].extension}"
