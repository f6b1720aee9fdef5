"""The stream's backstop: a key or account change written but not stamped everywhere gets stamped.

A change call stamps before it returns and then marks its version published on the record. The stream
hands the stamper each change within a second or so, usually while its caller is still stamping: so the
stamper decides on the record as it is *now*, never on the stream's image, and gives the caller time to
finish first. It re-reads the record at growing intervals (a few GetItems) until the version is published or
the caller cannot be running any more (:data:`CALLER_SECONDS` after the change: the change calls' Lambda
timeout). A delay in code rather than the event source's batching window: a window only delays until the
batch is full (at once, under load), and the delay a change needs is counted from the change, not from the
batch. So a change its caller finished costs a few reads and no stamping at all.

What is still unpublished then was left by a caller that failed or died: the stamper stamps it from its own
clock (retried by the stream until done), or, for a rotation whose new key was never activated, undoes the
rotation (filegate.keys.rotation): a failed rotation never ends the old key.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

from filegate.db import accounts as accounts_table
from filegate.db import keys as keys_table
from filegate.keys import rotation, stamps
from filegate.observability import logger

# The functions that change keys and accounts (keys, dashboard, secret scanning) answer within API Gateway's
# 29 s and have that Lambda timeout (template.yaml, Globals): a second past it, their caller is gone.
CALLER_SECONDS = 30
FIRST_RECHECK_SECONDS = 0.25  # then doubled: a finished change is usually seen published at the first recheck


def _number(image: Mapping[str, Any], name: str) -> int:
    value = image.get(name) or {}
    return int(value.get("N", "0")) if isinstance(value, Mapping) else 0


def _string(image: Mapping[str, Any], name: str) -> str:
    value = image.get(name) or {}
    return str(value.get("S", "")) if isinstance(value, Mapping) else ""


def unpublished_change(record: Mapping[str, Any]) -> tuple[str, str | None, int] | None:
    """(account id, key id or None for the account, version) of a change the record shows unpublished."""
    if record.get("eventName") != "MODIFY":
        return None  # a new key or account has nothing cached; a removed one refuses by itself
    change = record.get("dynamodb") or {}
    new, old = change.get("NewImage") or {}, change.get("OldImage") or {}
    version = _number(new, "version")
    if version <= _number(old, "version") or version <= _number(new, "published_version"):
        return None
    key_id = _string(new, "key_id") or None
    return _string(new, "account_id"), key_id, version


def _changed_at(record: Mapping[str, Any], clock: Callable[[], datetime]) -> datetime:
    """When the change was written (the stream's approximate time; when absent, now: a later deadline)."""
    seconds = (record.get("dynamodb") or {}).get("ApproximateCreationDateTime")
    if isinstance(seconds, int | float):
        return datetime.fromtimestamp(seconds, tz=UTC)
    return clock()


Record = keys_table.KeyRecord | accounts_table.AccountRecord


def _read(account_id: str, key_id: str | None) -> Record | None:
    return keys_table.get(key_id) if key_id is not None else accounts_table.get(account_id)


def _unpublished(record: Record | None) -> bool:
    return record is not None and int(record.published_version or 0) < int(record.version or 0)


def finish(
    record: Mapping[str, Any],
    *,
    clock: Callable[[], datetime],
    horizon: timedelta,
    wait: Callable[[float], None],
) -> bool:
    """Finish the record's change if its caller did not: True when this stamped (or undid) something.
    ``wait`` sleeps (the stamper: time.sleep). Raises StampingFailed to have the stream retry the record."""
    found = unpublished_change(record)
    if found is None:
        return False
    account_id, key_id, _ = found
    deadline = _changed_at(record, clock) + timedelta(seconds=CALLER_SECONDS)
    current = _read(account_id, key_id)
    recheck = FIRST_RECHECK_SECONDS
    while _unpublished(current) and clock() < deadline:
        wait(min(recheck, max((deadline - clock()).total_seconds(), 0.0)))
        recheck *= 2
        current = _read(account_id, key_id)
    if current is None or not _unpublished(current):
        return False  # finished by its caller (or gone): nothing to do
    version, now = int(current.version or 0), clock()
    if isinstance(current, keys_table.KeyRecord):
        if rotation.is_unfinished(current):
            successor = str(current.rotation_successor)
            rotation.undo(current.key_id, successor, version, now=now, horizon=horizon)
            logger.warning("undid a rotation its caller left", extra={"key_id": current.key_id, "version": version})
            return True
        stamps.publish_key_change(account_id, current.key_id, version, now=now, horizon=horizon)
    else:
        stamps.publish_account_change(account_id, version, now=now, horizon=horizon)
    logger.warning("finished stamping a change its caller left", extra={"key_id": key_id, "version": version})
    return True
