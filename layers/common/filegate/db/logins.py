"""The dashboard's sign-in table: one pending sign-in per email address, and a pointer per confirm link.

- ``email#<address>``: the address's current sign-in (a new one replaces it): the code's scrypt hash and
  salt, the link token's SHA-256, attempts, when it was used. A code check counts the attempt first, with a
  condition, so no more than the allowed attempts are ever compared, whatever the concurrency.
- ``link#<token sha256>``: which address a confirm link belongs to.
Nothing raw is stored: not the code, not the token. Items expire by TTL.
"""

from __future__ import annotations

from datetime import datetime

from pynamodb.attributes import NumberAttribute, TTLAttribute, UnicodeAttribute, UTCDateTimeAttribute
from pynamodb.exceptions import DoesNotExist, UpdateError
from pynamodb.models import Model

from filegate.db.writes import is_condition_failure


class LoginRecord(Model):
    class Meta:
        table_name = "unbound-dashboard-logins"

    login_key = UnicodeAttribute(hash_key=True)
    email = UnicodeAttribute()
    code_hash = UnicodeAttribute(null=True)
    code_salt = UnicodeAttribute(null=True)
    token_hash = UnicodeAttribute(null=True)
    attempts = NumberAttribute(default=0)
    created_at = UTCDateTimeAttribute()
    valid_until = UTCDateTimeAttribute()
    used_at = UTCDateTimeAttribute(null=True)
    expires_at = TTLAttribute()


def email_key(address: str) -> str:
    return f"email#{address}"


def link_key(token_hash: str) -> str:
    return f"link#{token_hash}"


def replace(pending: LoginRecord, link: LoginRecord) -> None:
    """The address's new sign-in and its link pointer (the pointer first: a pending sign-in never lacks it)."""
    link.save()
    pending.save()


def get(login_key: str) -> LoginRecord | None:
    try:
        return LoginRecord.get(login_key, consistent_read=True)
    except DoesNotExist:
        return None


def count_attempt(record: LoginRecord, max_attempts: int, now: datetime) -> bool:
    """Count one code attempt on this very sign-in (same token hash), if it is unused, unexpired and under
    ``max_attempts``; False otherwise."""
    condition = (
        (LoginRecord.token_hash == record.token_hash)
        & LoginRecord.used_at.does_not_exist()
        & (LoginRecord.valid_until > now)
        & (LoginRecord.attempts < max_attempts)
    )
    try:
        record.update(actions=[LoginRecord.attempts.add(1)], condition=condition)
    except UpdateError as exc:
        if is_condition_failure(exc):
            return False
        raise
    return True


def use(record: LoginRecord, now: datetime) -> bool:
    """Mark this sign-in used, once: False if it was used, replaced or expired meanwhile."""
    condition = (
        (LoginRecord.token_hash == record.token_hash)
        & LoginRecord.used_at.does_not_exist()
        & (LoginRecord.valid_until > now)
    )
    try:
        record.update(actions=[LoginRecord.used_at.set(now)], condition=condition)
    except UpdateError as exc:
        if is_condition_failure(exc):
            return False
        raise
    return True
