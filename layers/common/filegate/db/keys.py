"""The API keys table. Keyed by key_id, itself derived from the key's digest (filegate.apikeys)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pynamodb.attributes import ListAttribute, NumberAttribute, UnicodeAttribute, UTCDateTimeAttribute
from pynamodb.exceptions import DoesNotExist, PutError, TransactWriteError, UpdateError
from pynamodb.indexes import AllProjection, GlobalSecondaryIndex
from pynamodb.models import Model
from pynamodb.transactions import TransactWrite

from filegate.db.pages import Page, page_query
from filegate.db.writes import is_condition_failure, transaction_connection


class ByAccountIndex(GlobalSecondaryIndex["KeyRecord"]):
    class Meta:
        index_name = "by_account"
        projection = AllProjection()

    account_id = UnicodeAttribute(hash_key=True)
    created_at = UTCDateTimeAttribute(range_key=True)


class KeyRecord(Model):
    class Meta:
        table_name = "unbound-keys"

    key_id = UnicodeAttribute(hash_key=True)
    key_hash = UnicodeAttribute()  # SHA-256 hex of the raw key; the raw key is never stored
    key_prefix = UnicodeAttribute()
    account_id = UnicodeAttribute()
    name = UnicodeAttribute()
    mode = UnicodeAttribute(default="live")
    scopes: ListAttribute[str] = ListAttribute(of=UnicodeAttribute, default=list)  # type: ignore[arg-type]
    allowed_ips: ListAttribute[str] = ListAttribute(of=UnicodeAttribute, default=list)  # type: ignore[arg-type]
    created_at = UTCDateTimeAttribute()
    last_used_at = UTCDateTimeAttribute(null=True)
    expires_at = UTCDateTimeAttribute(null=True)
    revoked_at = UTCDateTimeAttribute(null=True)
    # The owner account's change_seq at this key's last change (filegate.keys.stamps); absent: 0.
    version = NumberAttribute(null=True)

    by_account = ByAccountIndex()


class KeyChanged(Exception):
    """The key changed (or vanished) between read and write."""


def get(key_id: str) -> KeyRecord | None:
    try:
        return KeyRecord.get(key_id, consistent_read=True)
    except DoesNotExist:
        return None


def get_owned(account_id: str, key_id: str) -> KeyRecord | None:
    """The key, only if that account owns it: another account's id reads as absent."""
    record = get(key_id)
    if record is None or record.account_id != account_id:
        return None
    return record


def put_new(record: KeyRecord) -> None:
    try:
        record.save(condition=KeyRecord.key_id.does_not_exist())
    except PutError as exc:
        raise KeyChanged(record.key_id) from exc


def list_for_account(account_id: str, *, limit: int, cursor: str | None) -> Page[KeyRecord]:
    """One page of the account's keys, newest first. Raises BadCursor for a cursor not of this listing."""
    return page_query(
        KeyRecord.by_account,
        account_id,
        limit=limit,
        cursor=cursor,
        position=lambda r: {
            "key_id": {"S": r.key_id},
            "account_id": {"S": r.account_id},
            "created_at": {"S": KeyRecord.created_at.serialize(r.created_at)},
        },
    )


def update_fields(record: KeyRecord, **fields: Any) -> None:
    actions = [getattr(KeyRecord, name).set(value) for name, value in fields.items()]
    try:
        record.update(actions=actions, condition=KeyRecord.key_id.exists())
    except UpdateError as exc:
        raise KeyChanged(record.key_id) from exc


def revoke(record: KeyRecord, at: datetime, version: int) -> bool:
    """Set revoked_at to ``at`` unless the key is already dead earlier; False when it already was."""
    condition = KeyRecord.revoked_at.does_not_exist() | (KeyRecord.revoked_at > at)
    try:
        record.update(actions=[KeyRecord.revoked_at.set(at), KeyRecord.version.set(version)], condition=condition)
    except UpdateError as exc:
        if is_condition_failure(exc):
            return False  # already revoked at or before `at`: nothing to do
        raise
    return True


def replace(old: KeyRecord, new: KeyRecord, old_revoked_at: datetime, now: datetime, version: int) -> None:
    """Rotation: the new key exists and the old one dies at ``old_revoked_at``, atomically.

    Fails with KeyChanged when the old key is already dead (a second rotation racing the first).
    """
    connection = transaction_connection(KeyRecord)
    alive = KeyRecord.revoked_at.does_not_exist() | (KeyRecord.revoked_at > now)
    try:
        with TransactWrite(connection=connection) as tx:
            tx.save(new, condition=KeyRecord.key_id.does_not_exist())
            tx.update(
                old, actions=[KeyRecord.revoked_at.set(old_revoked_at), KeyRecord.version.set(version)], condition=alive
            )
    except TransactWriteError as exc:
        raise KeyChanged(old.key_id) from exc


def touch_last_used(key_id: str, minute: datetime) -> None:
    """Record use to the minute: a conditional write that is a no-op within the same minute."""
    record = KeyRecord(key_id)
    condition = KeyRecord.key_id.exists() & (
        KeyRecord.last_used_at.does_not_exist() | (KeyRecord.last_used_at < minute)
    )
    try:
        record.update(actions=[KeyRecord.last_used_at.set(minute)], condition=condition)
    except UpdateError as exc:
        if not is_condition_failure(exc):
            raise
