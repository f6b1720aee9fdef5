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
from filegate.db.writes import is_condition_failure, raise_number, transaction_connection


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
    # Written by older versions only: last use now lives in the counters table (filegate.db.counters), written
    # by the metering write's first request of a key in a minute. Read as the later of the two.
    last_used_at = UTCDateTimeAttribute(null=True)
    expires_at = UTCDateTimeAttribute(null=True)
    revoked_at = UTCDateTimeAttribute(null=True)
    # The owner account's change_seq at this key's last change (filegate.keys.stamps); absent: 0.
    version = NumberAttribute(null=True)
    # The newest version whose stamps are all written (filegate.keys.stamps); the stream's stamper skips those.
    published_version = NumberAttribute(null=True)

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


class StaleVersion(Exception):
    """A newer change of the key was written first: this change's version would take it backwards."""


def _newer_than_stored(version: int) -> Any:
    """Versions never go backwards: a change writes only over an older version (or none)."""
    return KeyRecord.version.does_not_exist() | (KeyRecord.version < version)


def update_fields(record: KeyRecord, *, version: int | None = None, **fields: Any) -> None:
    """Set ``fields``; with ``version`` (a change of what the key may do), only over an older version.

    Raises KeyChanged when the key is gone, StaleVersion when a newer change landed first."""
    actions = [getattr(KeyRecord, name).set(value) for name, value in fields.items()]
    condition = KeyRecord.key_id.exists()
    if version is not None:
        actions.append(KeyRecord.version.set(version))
        condition = condition & _newer_than_stored(version)
    try:
        record.update(actions=actions, condition=condition)
    except UpdateError as exc:
        if not is_condition_failure(exc):
            raise
        current = get(record.key_id)
        if current is None:
            raise KeyChanged(record.key_id) from exc
        raise StaleVersion(record.key_id) from exc


def revoke(record: KeyRecord, at: datetime, version: int) -> bool:
    """Dead at ``at`` with ``version``; False when it already was dead at or before ``at``.

    Raises StaleVersion when a newer change of the key landed first: the caller takes a newer version and
    tries again, so a revoke always ends as the key's newest change."""
    not_dead_by_then = KeyRecord.revoked_at.does_not_exist() | (KeyRecord.revoked_at > at)
    try:
        record.update(
            actions=[KeyRecord.revoked_at.set(at), KeyRecord.version.set(version)],
            condition=not_dead_by_then & _newer_than_stored(version),
        )
    except UpdateError as exc:
        if not is_condition_failure(exc):
            raise
        current = get(record.key_id)
        if current is None or (current.revoked_at is not None and current.revoked_at <= at):
            if current is not None:
                record.version, record.revoked_at = current.version, current.revoked_at
            return False  # already dead by then: nothing to do
        raise StaleVersion(record.key_id) from exc
    return True


def replace(old: KeyRecord, new: KeyRecord, old_revoked_at: datetime, now: datetime, version: int) -> None:
    """Rotation: the new key exists and the old one dies at ``old_revoked_at``, atomically — only if the old
    key is still exactly as read (same version and name: no change landed between the read and this write)
    and still alive.

    Fails with KeyChanged otherwise (a concurrent edit, revoke or rotation): the caller reads again.
    """
    connection = transaction_connection(KeyRecord)
    alive = KeyRecord.revoked_at.does_not_exist() | (KeyRecord.revoked_at > now)
    read_version = KeyRecord.version.does_not_exist() if old.version is None else KeyRecord.version == old.version
    unchanged = read_version & (KeyRecord.name == old.name)
    try:
        with TransactWrite(connection=connection) as tx:
            tx.save(new, condition=KeyRecord.key_id.does_not_exist())
            tx.update(
                old,
                actions=[KeyRecord.revoked_at.set(old_revoked_at), KeyRecord.version.set(version)],
                condition=alive & unchanged,
            )
    except TransactWriteError as exc:
        raise KeyChanged(old.key_id) from exc


def mark_published(key_id: str, version: int) -> None:
    """Record that ``version``'s stamps are all written, so the stream's stamper skips it."""
    raise_number(KeyRecord(key_id), KeyRecord.published_version, version)
