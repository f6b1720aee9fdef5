"""Dashboard sessions (docs/api.md §7): server-side, the cookie holds 256 random bits and storage only their
SHA-256; idle timeout 30 minutes, absolute 12 hours; a new id at every sign-in; ending one is immediate."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Final

from filegate.audit import service as audit
from filegate.db import sessions as store
from filegate.db.accounts import AccountRecord

COOKIE: Final = "__Host-fg_session"
IDLE_TIMEOUT: Final = timedelta(minutes=30)
ABSOLUTE_TIMEOUT: Final = timedelta(hours=12)
# Activity is written at most this often: a page view is not a write, the idle timeout is exact to it.
TOUCH_EVERY: Final = timedelta(seconds=60)
MAX_USER_AGENT: Final = 300


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


@dataclass(frozen=True)
class NewSession:
    token: str  # the cookie's value: given to the browser once, never stored
    record: store.SessionRecord


def actor(record: store.SessionRecord) -> audit.Actor:
    return audit.session_actor(record.session_id, record.email)


def create(account: AccountRecord, *, ip: str, user_agent: str, now: datetime) -> NewSession:
    token = secrets.token_urlsafe(32)  # 256 bits
    record = store.SessionRecord(
        token_hash(token),
        session_id="ses_" + secrets.token_hex(10),
        account_id=account.account_id,
        email=account.email,
        created_at=now,
        last_seen_at=now,
        ip=ip,
        user_agent=user_agent[:MAX_USER_AGENT],
        expires_at=now + ABSOLUTE_TIMEOUT,
    )
    store.put_new(record)
    audit.record(account.account_id, actor(record), audit.SESSION_CREATED, record.session_id, ip, now=now)
    return NewSession(token, record)


def is_live(record: store.SessionRecord, now: datetime) -> bool:
    return (
        record.ended_at is None
        and now < record.created_at + ABSOLUTE_TIMEOUT
        and now < record.last_seen_at + IDLE_TIMEOUT
    )


def resolve(token: str | None, now: datetime) -> store.SessionRecord | None:
    """The live session a cookie names (its activity recorded), or None: unknown, ended, idle or too old."""
    if not token or len(token) > 128:
        return None
    record = store.get(token_hash(token))
    if record is None or not is_live(record, now):
        return None
    if now - record.last_seen_at >= TOUCH_EVERY:
        if not store.touch(record, now, idle_since=now - IDLE_TIMEOUT):
            return None  # ended or gone idle since it was read
        record.last_seen_at = now
    return record


def end(record: store.SessionRecord, *, by: store.SessionRecord, ip: str, now: datetime) -> None:
    """End ``record`` now (sign-out, or ended from the sessions page by ``by``); recorded once."""
    if store.end(record, now):
        audit.record(record.account_id, actor(by), audit.SESSION_ENDED, record.session_id, ip, now=now)


def live_sessions(account_id: str, now: datetime) -> list[store.SessionRecord]:
    """The account's live sessions, newest first."""
    return [r for r in store.for_account(account_id) if is_live(r, now)]


def end_one(current: store.SessionRecord, session_id: str, *, ip: str, now: datetime) -> bool:
    """End one of the account's sessions by its public id; False when it has no such live session."""
    for record in live_sessions(current.account_id, now):
        if record.session_id == session_id:
            end(record, by=current, ip=ip, now=now)
            return True
    return False


def end_others(current: store.SessionRecord, *, ip: str, now: datetime) -> int:
    """End every live session of the account but ``current``; how many."""
    others = [r for r in live_sessions(current.account_id, now) if r.session_hash != current.session_hash]
    for record in others:
        end(record, by=current, ip=ip, now=now)
    return len(others)
