"""A change of a key or an account: its version, and the retry when a newer change of the same record landed
first. Shared by the keys and the accounts (filegate.accounts)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import TypeVar

from filegate import errors
from filegate.keys import stamps

# A change that keeps losing the race to newer changes of the same key or account gives up after this many
# versions: at most 60 changes a minute per account make that a lot of bad luck, never a livelock.
CHANGE_ATTEMPTS = 8

T = TypeVar("T")


def begin(account_id: str, now: datetime) -> stamps.Change:
    """A new version for a change of the account or one of its keys; 404 when the account is gone."""
    change = stamps.begin(account_id, now)
    if change is None:
        raise errors.NotFound("No such account.")
    return change


def until_settled(attempt: Callable[[], T | None], *, gave_up: str) -> T:
    """Run ``attempt`` (read, decide, write conditionally) until it settles: None means it lost to a newer
    change and must read and decide again. After CHANGE_ATTEMPTS losses, 409 saying ``gave_up``."""
    for _ in range(CHANGE_ATTEMPTS):
        outcome = attempt()
        if outcome is not None:
            return outcome
    raise errors.Conflict(gave_up)
