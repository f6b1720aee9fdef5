"""The secret-scanning table (API.md §9): GitHub's public keys, the refetch clock, and leaked-key notices.

One item per purpose, keyed by ``item_id``:
- ``ghkey#<key_identifier>``: one of GitHub's signing keys (PEM), as its meta document listed it;
- ``refetch``: when the meta document was last fetched for an unknown identifier (at most once a minute);
- ``notice#<key_id>``: a leaked key's owner was told (mail, audit, webhook) — claimed once, whatever the replays.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta

from pynamodb.attributes import BooleanAttribute, TTLAttribute, UnicodeAttribute, UTCDateTimeAttribute
from pynamodb.exceptions import DoesNotExist, PutError, UpdateError
from pynamodb.models import Model

from filegate.db.writes import is_condition_failure

NOTICE_LIFETIME = timedelta(days=365)
_KEY = "ghkey#"
_NOTICE = "notice#"
_REFETCH = "refetch"


class ScanningRecord(Model):
    class Meta:
        table_name = "unbound-secret-scanning"

    item_id = UnicodeAttribute(hash_key=True)
    key_pem = UnicodeAttribute(null=True)  # a GitHub public key (PEM)
    is_current = BooleanAttribute(null=True)
    at = UTCDateTimeAttribute(null=True)  # stored / fetched / noticed
    target = UnicodeAttribute(null=True)  # a notice's key id (for operators reading the table)
    expires_at = TTLAttribute(null=True)


def public_key(identifier: str) -> str | None:
    """The PEM of GitHub's key with this identifier, if stored."""
    try:
        record = ScanningRecord.get(_KEY + identifier)
    except DoesNotExist:
        return None
    return record.key_pem


def store_public_keys(keys: Iterable[tuple[str, str, bool]], now: datetime) -> int:
    """Store (identifier, PEM, is_current) triples, replacing what was stored under those identifiers."""
    count = 0
    with ScanningRecord.batch_write() as batch:
        for identifier, pem, current in keys:
            batch.save(ScanningRecord(_KEY + identifier, key_pem=pem, is_current=current, at=now))
            count += 1
    return count


def claim_refetch(now: datetime, interval: timedelta) -> bool:
    """True for the one caller per ``interval`` allowed to fetch the meta document again."""
    try:
        ScanningRecord(_REFETCH).update(
            actions=[ScanningRecord.at.set(now)],
            condition=ScanningRecord.at.does_not_exist() | (ScanningRecord.at <= now - interval),
        )
    except UpdateError as exc:
        if is_condition_failure(exc):
            return False
        raise
    return True


def claim_notice(key_id: str, now: datetime) -> bool:
    """True exactly once per leaked key: the caller that tells its owner."""
    try:
        ScanningRecord(_NOTICE + key_id, at=now, target=key_id, expires_at=now + NOTICE_LIFETIME).save(
            condition=ScanningRecord.item_id.does_not_exist()
        )
    except PutError as exc:
        if is_condition_failure(exc):
            return False
        raise
    return True
