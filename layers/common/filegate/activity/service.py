"""A key's activity for its account (docs/api.md §5): the key must be the caller's account's, else 404."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from filegate import errors
from filegate.activity import query
from filegate.context import AuthContext
from filegate.db import keys as keys_table


def for_account(
    account_id: str, key_id: str, start: datetime | None, end: datetime | None, granularity: str, now: datetime
) -> dict[str, Any]:
    """Shared by the API and the dashboard: another account's key is not found, never forbidden."""
    if keys_table.get_owned(account_id, key_id) is None:
        raise errors.NotFound("No such key.")
    return query.activity(key_id, query.window(start, end, granularity, now), now)


def for_key(
    caller: AuthContext, key_id: str, start: datetime | None, end: datetime | None, granularity: str, now: datetime
) -> dict[str, Any]:
    return for_account(caller.account_id, key_id, start, end, granularity, now)
