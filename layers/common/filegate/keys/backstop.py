"""The stream's backstop: a key or account change written but not stamped everywhere gets stamped.

A change call stamps before it returns and then marks its version published on the record; if it died in
between (a timeout in the middle of an enterprise change, a crash), the record's stream still carries the
new version, and this stamps it from the stamper function's own clock, retried by the stream until done.
Records whose version did not grow (a rename, a published mark) or whose version is already published are
skipped, so a change the caller finished costs one skipped stream record and no writes.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

from filegate.db import accounts as accounts_table
from filegate.db import keys as keys_table
from filegate.keys import stamps
from filegate.observability import logger


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


def finish(record: Mapping[str, Any], *, now: datetime, horizon: timedelta) -> bool:
    """Stamp the record's change unless it is already published (read again: the caller may have finished
    meanwhile). True when it stamped. Raises StampingFailed to have the stream retry the record."""
    found = unpublished_change(record)
    if found is None:
        return False
    account_id, key_id, version = found
    if key_id is not None:
        key = keys_table.get(key_id)
        if key is None or int(key.published_version or 0) >= version:
            return False
        stamps.publish_key_change(account_id, key_id, version, now=now, horizon=horizon)
    else:
        account = accounts_table.get(account_id)
        if account is None or int(account.published_version or 0) >= version:
            return False
        stamps.publish_account_change(account_id, version, now=now, horizon=horizon)
    logger.warning("finished stamping a change its caller left", extra={"key_id": key_id, "version": version})
    return True
