"""The dashboard's sessions table. Keyed by the SHA-256 of the session cookie's value: the cookie itself is
never stored. A GSI lists an account's sessions (the sessions page, "end all other sessions"). Items expire
by TTL at the session's absolute end."""

from __future__ import annotations

from datetime import datetime

from pynamodb.attributes import TTLAttribute, UnicodeAttribute, UTCDateTimeAttribute
from pynamodb.exceptions import DoesNotExist, UpdateError
from pynamodb.indexes import AllProjection, GlobalSecondaryIndex
from pynamodb.models import Model

from filegate.db.writes import is_condition_failure


class SessionsByAccount(GlobalSecondaryIndex["SessionRecord"]):
    class Meta:
        index_name = "by_account"
        projection = AllProjection()

    account_id = UnicodeAttribute(hash_key=True)
    created_at = UTCDateTimeAttribute(range_key=True)


class SessionRecord(Model):
    class Meta:
        table_name = "unbound-dashboard-sessions"

    session_hash = UnicodeAttribute(hash_key=True)  # SHA-256 hex of the cookie's value
    session_id = UnicodeAttribute()  # the public id: sessions page, audit log
    account_id = UnicodeAttribute()
    email = UnicodeAttribute()
    created_at = UTCDateTimeAttribute()
    last_seen_at = UTCDateTimeAttribute()
    ip = UnicodeAttribute()
    user_agent = UnicodeAttribute()
    ended_at = UTCDateTimeAttribute(null=True)
    expires_at = TTLAttribute()  # the absolute timeout

    by_account = SessionsByAccount()


def put_new(record: SessionRecord) -> None:
    record.save(condition=SessionRecord.session_hash.does_not_exist())


def get(session_hash: str) -> SessionRecord | None:
    try:
        return SessionRecord.get(session_hash, consistent_read=True)
    except DoesNotExist:
        return None


def touch(record: SessionRecord, at: datetime, idle_since: datetime) -> bool:
    """Record activity, only if the session is still live and was seen after ``idle_since`` (not idle);
    False when it had ended or gone idle meanwhile."""
    condition = SessionRecord.ended_at.does_not_exist() & (SessionRecord.last_seen_at > idle_since)
    try:
        record.update(actions=[SessionRecord.last_seen_at.set(at)], condition=condition)
    except UpdateError as exc:
        if is_condition_failure(exc):
            return False
        raise
    return True


def end(record: SessionRecord, at: datetime) -> bool:
    """End it; False when it had ended already."""
    try:
        record.update(actions=[SessionRecord.ended_at.set(at)], condition=SessionRecord.ended_at.does_not_exist())
    except UpdateError as exc:
        if is_condition_failure(exc):
            return False
        raise
    return True


def for_account(account_id: str, *, limit: int = 100) -> list[SessionRecord]:
    """The account's sessions, newest first (live and ended; the caller filters)."""
    return list(SessionRecord.by_account.query(account_id, scan_index_forward=False, limit=limit))
