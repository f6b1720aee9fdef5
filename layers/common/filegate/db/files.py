"""The files table: uploads and conversion outputs, each an object in the bucket."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pynamodb.attributes import JSONAttribute, NumberAttribute, TTLAttribute, UnicodeAttribute, UTCDateTimeAttribute
from pynamodb.exceptions import DeleteError, DoesNotExist, UpdateError
from pynamodb.expressions.update import Action
from pynamodb.indexes import AllProjection, GlobalSecondaryIndex
from pynamodb.models import Model

from filegate.db.pages import Page, page_query
from filegate.db.writes import is_condition_failure


class FilesByAccount(GlobalSecondaryIndex["FileRecord"]):
    class Meta:
        index_name = "by_account"
        projection = AllProjection()

    account_id = UnicodeAttribute(hash_key=True)
    created_at = UTCDateTimeAttribute(range_key=True)


class FileRecord(Model):
    class Meta:
        table_name = "unbound-files"

    file_id = UnicodeAttribute(hash_key=True)
    account_id = UnicodeAttribute()
    filename = UnicodeAttribute()
    object_key = UnicodeAttribute()
    status = UnicodeAttribute()  # pending (upload expected) | importing (URL import queued) | ready | failed
    origin = UnicodeAttribute(default="upload")  # upload | conversion | import
    declared_content_type = UnicodeAttribute(null=True)
    declared_size = NumberAttribute(null=True)
    size = NumberAttribute(null=True)
    format = UnicodeAttribute(null=True)
    content_type = UnicodeAttribute(null=True)
    metadata = JSONAttribute(null=True)  # docs/api.md "Files": what the file is (image, document, audio, video)
    error_code = UnicodeAttribute(null=True)  # a failed import's code (docs/api.md "Import from a URL")
    error_message = UnicodeAttribute(null=True)
    # A URL import's request (URL and private headers), AES-GCM sealed; its key travels only in the queue
    # message. Removed in the write that ends the import, so neither half outlives the job.
    import_sealed = UnicodeAttribute(null=True)
    created_at = UTCDateTimeAttribute()
    completed_at = UTCDateTimeAttribute(null=True)
    expires_at = TTLAttribute()

    by_account = FilesByAccount()

    def is_live(self, now: datetime) -> bool:
        return self.expires_at > now


def get_owned(account_id: str, file_id: str, now: datetime) -> FileRecord | None:
    """The file if that account owns it and it has not expired; otherwise None (another account's id,
    an expired record DynamoDB has not deleted yet, and a missing one all look the same)."""
    try:
        record = FileRecord.get(file_id, consistent_read=True)
    except DoesNotExist:
        return None
    if record.account_id != account_id or not record.is_live(now):
        return None
    return record


def create(record: FileRecord) -> None:
    record.save(condition=FileRecord.file_id.does_not_exist())


def mark_ready(
    record: FileRecord,
    *,
    size: int,
    fmt: str,
    content_type: str,
    now: datetime,
    metadata: dict[str, Any] | None = None,
) -> bool:
    """pending → ready, once; False if it was not pending any more."""
    try:
        record.update(
            actions=[
                FileRecord.status.set("ready"),
                FileRecord.size.set(size),
                FileRecord.format.set(fmt),
                FileRecord.content_type.set(content_type),
                FileRecord.completed_at.set(now),
                *([FileRecord.metadata.set(metadata)] if metadata is not None else []),
            ],
            condition=FileRecord.status == "pending",
        )
    except UpdateError as exc:
        if is_condition_failure(exc):
            return False
        raise
    return True


def finish_import(
    record: FileRecord,
    *,
    size: int,
    fmt: str,
    content_type: str,
    now: datetime,
    metadata: dict[str, Any] | None,
) -> bool:
    """importing → ready, once, the sealed request dropped in the same write; False if it was not importing."""
    return _end_import(
        record,
        now,
        FileRecord.status.set("ready"),
        FileRecord.size.set(size),
        FileRecord.format.set(fmt),
        FileRecord.content_type.set(content_type),
        *([FileRecord.metadata.set(metadata)] if metadata is not None else []),
    )


def fail_import(record: FileRecord, code: str, message: str, now: datetime) -> bool:
    """importing → failed with its error, once, the sealed request dropped; False if it was not importing."""
    return _end_import(
        record,
        now,
        FileRecord.status.set("failed"),
        FileRecord.error_code.set(code),
        FileRecord.error_message.set(message),
    )


def _end_import(record: FileRecord, now: datetime, *actions: Action) -> bool:
    """An import's one ending write: its outcome, completed_at, and the sealed request gone, only while it is
    still importing (a redelivered message never ends it twice)."""
    try:
        record.update(
            actions=[*actions, FileRecord.completed_at.set(now), FileRecord.import_sealed.remove()],
            condition=FileRecord.status == "importing",
        )
    except UpdateError as exc:
        if is_condition_failure(exc):
            return False
        raise
    return True


def get(file_id: str) -> FileRecord | None:
    try:
        return FileRecord.get(file_id, consistent_read=True)
    except DoesNotExist:
        return None


def get_many(file_ids: list[str]) -> dict[str, FileRecord]:
    """Several files by id, in batches (missing ones are absent from the answer)."""
    unique = list(dict.fromkeys(file_ids))
    return {record.file_id: record for record in FileRecord.batch_get(unique)} if unique else {}


def set_metadata(record: FileRecord, metadata: dict[str, Any]) -> None:
    record.update(actions=[FileRecord.metadata.set(metadata)], condition=FileRecord.file_id.exists())


def delete(record: FileRecord) -> None:
    try:
        record.delete(condition=FileRecord.file_id.exists())
    except DeleteError as exc:
        if not is_condition_failure(exc):
            raise


def list_for_account(account_id: str, *, limit: int, cursor: str | None, now: datetime) -> Page[FileRecord]:
    return page_query(
        FileRecord.by_account,
        account_id,
        limit=limit,
        cursor=cursor,
        keep=lambda r: r.is_live(now),
        position=lambda r: {
            "file_id": {"S": r.file_id},
            "account_id": {"S": r.account_id},
            "created_at": {"S": FileRecord.created_at.serialize(r.created_at)},
        },
    )


def json_view(record: FileRecord, iso: Any) -> dict[str, Any]:
    return {
        "id": record.file_id,
        "filename": record.filename,
        "status": record.status,
        "origin": record.origin,
        "size": int(record.size) if record.size is not None else None,
        "format": record.format,
        "content_type": record.content_type,
        "metadata": record.metadata,
        "error": {"code": record.error_code, "message": record.error_message} if record.error_code else None,
        "created_at": iso(record.created_at),
        "completed_at": iso(record.completed_at),
        "expires_at": iso(record.expires_at),
    }
