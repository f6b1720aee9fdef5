"""The API keys table. Keyed by key_id, itself derived from the key's digest (filegate.apikeys)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pynamodb.attributes import ListAttribute, NumberAttribute, UnicodeAttribute, UTCDateTimeAttribute
from pynamodb.exceptions import DeleteError, DoesNotExist, PutError, TransactWriteError, UpdateError
from pynamodb.expressions.update import Action
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
    # A rotation is all or nothing (filegate.keys.rotation). Its new key is written pending (the id of the key
    # it replaces here): it does not authenticate until the old key's end is stamped everywhere. The old key
    # keeps, until then, its successor's id and its revoked_at from before, which undoing the rotation puts back.
    pending_rotation_of = UnicodeAttribute(null=True)
    rotation_successor = UnicodeAttribute(null=True)
    revoked_at_before_rotation = UTCDateTimeAttribute(null=True)

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
    """Set ``fields`` only if the key is still exactly as ``record`` was read (the caller decided on that
    content); with ``version`` (a change of what the key may do), that version is written too, only over an
    older one.

    Every change of what a key may do writes a new version, so "the version read, and the scopes and allowlist
    read" is the content the caller's decision rested on. Raises KeyChanged when the key is gone or changed
    at an older version than ``version`` (read it again and decide again), StaleVersion when a change at
    ``version`` or newer landed first."""
    actions = [getattr(KeyRecord, name).set(value) for name, value in fields.items()]
    condition = KeyRecord.key_id.exists() & _as_read(record)
    if version is not None:
        actions.append(KeyRecord.version.set(version))
        condition = condition & _newer_than_stored(version)
    try:
        record.update(actions=actions, condition=condition)
    except UpdateError as exc:
        if not is_condition_failure(exc):
            raise
        current = get(record.key_id)
        if current is not None and version is not None and int(current.version or 0) >= version:
            raise StaleVersion(record.key_id) from exc
        raise KeyChanged(record.key_id) from exc


def _as_read(record: KeyRecord) -> Any:
    """The key still holds what ``record`` read: its version, scopes and allowlist."""
    version = KeyRecord.version.does_not_exist() if record.version is None else KeyRecord.version == record.version
    return version & (KeyRecord.scopes == list(record.scopes)) & (KeyRecord.allowed_ips == list(record.allowed_ips))


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
                record.published_version = current.published_version
            return False  # already dead by then: nothing to do
        raise StaleVersion(record.key_id) from exc
    return True


def replace(old: KeyRecord, new: KeyRecord, old_revoked_at: datetime, now: datetime, version: int) -> None:
    """Rotation's first step: the new key exists, pending (``new.pending_rotation_of`` names the old one),
    and the old one dies at ``old_revoked_at`` at ``version``, keeping what undoing it restores — atomically,
    and only if the old key is still exactly as read (same version, name, scopes and allowlist: no change
    landed between the read and this write) and still alive.

    Fails with KeyChanged otherwise (a concurrent edit, revoke or rotation): the caller reads again.
    """
    connection = transaction_connection(KeyRecord)
    alive = KeyRecord.revoked_at.does_not_exist() | (KeyRecord.revoked_at > now)
    unchanged = _as_read(old) & (KeyRecord.name == old.name)
    keeps = (
        KeyRecord.revoked_at_before_rotation.set(old.revoked_at)
        if old.revoked_at is not None
        else KeyRecord.revoked_at_before_rotation.remove()
    )
    try:
        with TransactWrite(connection=connection) as tx:
            tx.save(new, condition=KeyRecord.key_id.does_not_exist())
            tx.update(
                old,
                actions=[
                    KeyRecord.revoked_at.set(old_revoked_at),
                    KeyRecord.version.set(version),
                    KeyRecord.rotation_successor.set(new.key_id),
                    keeps,
                ],
                condition=alive & unchanged,
            )
    except TransactWriteError as exc:
        raise KeyChanged(old.key_id) from exc


def activate(new: KeyRecord) -> None:
    """Rotation's last step: the pending new key authenticates from now on. KeyChanged when it is no longer
    pending (the rotation was undone meanwhile, by its caller or by the stream's stamper)."""
    try:
        new.update(
            actions=[KeyRecord.pending_rotation_of.remove()],
            condition=KeyRecord.pending_rotation_of.exists(),
        )
    except UpdateError as exc:
        if not is_condition_failure(exc):
            raise
        raise KeyChanged(new.key_id) from exc


def drop_pending(new_key_id: str, old_key_id: str) -> None:
    """Undoing a rotation, first: its new key is deleted, if it is still the pending successor of that key
    (never an activated one). Nothing happens otherwise."""
    try:
        KeyRecord(new_key_id).delete(condition=KeyRecord.pending_rotation_of == old_key_id)
    except DeleteError as exc:
        if not is_condition_failure(exc):
            raise


def restore_before_rotation(old: KeyRecord, new_key_id: str, rotated_version: int, version: int) -> bool:
    """Undoing a rotation, then: the old key's revoked_at as it was before (none, or an earlier grace) at
    ``version``, only if the rotation's write is still its last change (a revoke or edit since wins and is
    left alone). True when restored."""
    before = old.revoked_at_before_rotation
    actions: list[Action] = [
        KeyRecord.revoked_at.set(before) if before is not None else KeyRecord.revoked_at.remove(),
        KeyRecord.version.set(version),
        KeyRecord.rotation_successor.remove(),
        KeyRecord.revoked_at_before_rotation.remove(),
    ]
    condition = (KeyRecord.rotation_successor == new_key_id) & (KeyRecord.version == rotated_version)
    try:
        old.update(actions=actions, condition=condition)
    except UpdateError as exc:
        if not is_condition_failure(exc):
            raise
        return False
    return True


def mark_published(key_id: str, version: int) -> None:
    """Record that ``version``'s stamps are all written, so the stream's stamper skips it."""
    raise_number(KeyRecord(key_id), KeyRecord.published_version, version)
