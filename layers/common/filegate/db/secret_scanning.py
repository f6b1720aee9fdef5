"""The secret-scanning table (docs/api.md §9): GitHub's public keys, the refetch clock, and leaked-key notices.

One item per purpose, keyed by ``item_id``:
- ``meta``: GitHub's latest meta document as fetched (its keys: identifier, PEM, is_current) and when: a
  key it does not list is no key of GitHub's any more;
- ``refetch``: when the meta document was last fetched (at most once a minute);
- ``notice#<key_id>``: a leaked key's owner was told (mail, audit, webhook) — claimed once, whatever the replays.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from datetime import datetime, timedelta

from pynamodb.attributes import TTLAttribute, UnicodeAttribute, UTCDateTimeAttribute
from pynamodb.exceptions import DoesNotExist, PutError, UpdateError
from pynamodb.models import Model

from filegate.db.writes import is_condition_failure

NOTICE_LIFETIME = timedelta(days=365)
_META = "meta"
_NOTICE = "notice#"
_REFETCH = "refetch"


class ScanningRecord(Model):
    class Meta:
        table_name = "unbound-secret-scanning"

    item_id = UnicodeAttribute(hash_key=True)
    document = UnicodeAttribute(null=True)  # the meta document's keys, JSON [[identifier, PEM, is_current]]
    at = UTCDateTimeAttribute(null=True)  # stored / fetched / noticed
    target = UnicodeAttribute(null=True)  # a notice's key id (for operators reading the table)
    expires_at = TTLAttribute(null=True)


def load_meta() -> tuple[list[tuple[str, str, bool]], datetime] | None:
    """The latest meta document's keys (identifier, PEM, is_current) and when it was fetched, if any."""
    try:
        record = ScanningRecord.get(_META, consistent_read=True)
    except DoesNotExist:
        return None
    if record.document is None or record.at is None:
        return None
    return [(str(i), str(pem), bool(current)) for i, pem, current in json.loads(record.document)], record.at


def store_meta(keys: Iterable[tuple[str, str, bool]], now: datetime) -> int:
    """Store a meta document's (identifier, PEM, is_current) triples as the latest, replacing the one before
    whole: a key the new document drops is gone with it."""
    listed = [[identifier, pem, current] for identifier, pem, current in keys]
    ScanningRecord(_META, document=json.dumps(listed), at=now).save()
    return len(listed)


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
