"""Change stamps: a key or account change reaches every function on the next request, with no cache flush.

API Gateway caches the authorizer's answer (identity + context) for the TTL. Instead of flushing that cache,
every change that alters what a key may do takes a version from its account's ``change_seq`` (one atomic
ADD), writes it on the changed record, and — before the change call returns — stamps it on every counter
item that a request of the account may write until the cached answers it could have made stale are gone
(the rate windows from now to now + TTL + margin, every shard of them). Each request's metering write
already returns its item, stamps included; a stamp newer than the version in the request's context sends
the function back to the database (filegate.keys.freshness). Nobody else pays anything.

Versions of one account's keys and of the account itself come from one sequence, so they compare with one
another: that is what lets an item's per-key stamps collapse into one account-wide key stamp when there
are too many (filegate.db.counters.MAX_KEY_STAMPS).
"""

from __future__ import annotations

import random
import time
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from filegate.context import AuthContext
from filegate.db import accounts as accounts_table
from filegate.db import counters
from filegate.db import keys as keys_table
from filegate.keys.checkpoints import checkpoint
from filegate.metering import limits
from filegate.tiers import tier

# Past the TTL: a request that read its context just before the change and is still in flight, and the
# clocks of the changing and the serving functions not quite agreeing. Also applied before now.
STAMP_MARGIN = timedelta(seconds=120)
STAMP_WORKERS = 8  # parallel stamp writes of one change (about 66 items per shard for a one-hour TTL)
STAMP_ATTEMPTS = 4  # per item, on errors other than "already stamped", before the change fails loudly
STAMP_BASE_DELAY_SECONDS = 0.05


class StampingFailed(Exception):
    """A change was written but could not be stamped everywhere: the caller must fail, loudly."""


@dataclass(frozen=True)
class Stamps:
    """The stamps one counter item carried: what changed, and at which version, in this account."""

    account: int = 0
    keys: int = 0  # collapsed: any key of the account may have changed up to this version
    per_key: Mapping[str, int] = field(default_factory=dict)

    @classmethod
    def from_item(cls, attributes: Mapping[str, int]) -> Stamps:
        prefix = counters.KEY_STAMP_PREFIX
        return cls(
            account=attributes.get(counters.ACCOUNT_STAMP, 0),
            keys=attributes.get(counters.KEYS_STAMP, 0),
            per_key={n[len(prefix) :]: v for n, v in attributes.items() if n.startswith(prefix)},
        )

    def key(self, key_id: str) -> int:
        return max(self.per_key.get(key_id, 0), self.keys)

    def newer_than(self, context: AuthContext) -> bool:
        """Whether the key or account changed after the records this context was built from were read."""
        return self.account > context.account_version or self.key(context.key_id) > context.key_version


@dataclass(frozen=True)
class Change:
    """A change about to be made: its version, and how many rate shards it must stamp (at least)."""

    account: accounts_table.AccountRecord
    version: int
    shards: int


def begin(account_id: str, now: datetime) -> Change | None:
    """Take the account's next change version (before writing the change); None if there is no account."""
    account = accounts_table.next_change(account_id)
    if account is None:
        return None
    return Change(account=account, version=int(account.change_seq or 0), shards=shards_to_stamp(account, now))


def shards_to_stamp(account: accounts_table.AccountRecord, now: datetime) -> int:
    """The rate shards a request of this account may write: its tier's, or more right after a downgrade."""
    shards = tier(account.tier).rate_shards
    until = account.stamp_shards_until
    if account.stamp_shards and until is not None and until > now:
        shards = max(shards, int(account.stamp_shards))
    return shards


def _shards_now(account_id: str, at_least: int, now: datetime) -> int:
    """Read after the change was written: a tier change that landed meanwhile (say, to 20 shards) is seen,
    and contexts naming it can only have been built after it; so the larger of before and after covers all."""
    account = accounts_table.get(account_id)
    return at_least if account is None else max(at_least, shards_to_stamp(account, now))


def publish_key_change(
    account_id: str, key_id: str, version: int, *, now: datetime, horizon: timedelta, shards: int = 1
) -> None:
    """Stamp key ``key_id``'s change ``version`` everywhere, then mark it published on the key."""
    stamp_key_change(account_id, key_id, version, now=now, horizon=horizon, shards=shards)
    keys_table.mark_published(key_id, version)


def stamp_key_change(
    account_id: str, key_id: str, version: int, *, now: datetime, horizon: timedelta, shards: int = 1
) -> None:
    """Stamp key ``key_id``'s change ``version`` everywhere, without marking it published (a rotation marks it
    only once its new key is active: until then the stream's stamper may have to undo it)."""
    _publish(account_id, counters.key_stamp(key_id), version, now=now, horizon=horizon, shards=shards)


def publish_account_change(
    account_id: str, version: int, *, now: datetime, horizon: timedelta, shards: int = 1
) -> None:
    """Stamp the account's change ``version`` everywhere, then mark it published on the account."""
    _publish(account_id, counters.ACCOUNT_STAMP, version, now=now, horizon=horizon, shards=shards)
    accounts_table.mark_published(account_id, version)


def _publish(account_id: str, name: str, version: int, *, now: datetime, horizon: timedelta, shards: int) -> None:
    """Stamp ``name`` = ``version`` on every rate item a request may write from now until ``now`` + ``horizon``
    (the cache TTL), each with a margin for the functions' clocks, on every shard. Earlier windows are past:
    no request writes them again, so the stream's late backstop stamps from its own now, like a retry.

    Idempotent (a stamp never goes down), so a retried change call or the stream's backstop re-stamps
    safely. Raises StampingFailed when any item could not be stamped after retries.
    """
    if version <= 0:
        return
    targets = limits.rate_counters_between(
        account_id, _shards_now(account_id, shards, now), now - STAMP_MARGIN, now + horizon + STAMP_MARGIN
    )
    with ThreadPoolExecutor(max_workers=STAMP_WORKERS) as pool:
        failures = [
            error for error in pool.map(lambda t: _stamp_one(t[0], name, version, t[1]), targets) if error is not None
        ]
    if failures:
        raise StampingFailed(f"{len(failures)} of {len(targets)} items not stamped: {failures[0]!r}")


def _stamp_one(counter_id: str, name: str, version: int, expires_at: datetime) -> Exception | None:
    for attempt in range(STAMP_ATTEMPTS):
        try:
            checkpoint("stamp")
            after = counters.stamp(counter_id, name, version, expires_at=expires_at)
            if after is not None and _key_stamp_count(after) > counters.MAX_KEY_STAMPS:
                counters.collapse_key_stamps(counter_id, after)
            return None
        except Exception as exc:  # throttling, a network error: retry, then report
            if attempt == STAMP_ATTEMPTS - 1:
                return exc
            time.sleep(STAMP_BASE_DELAY_SECONDS * (2**attempt) * (0.5 + random.random()))
    return None


def _key_stamp_count(stamps: Mapping[str, int]) -> int:
    return sum(1 for name in stamps if name.startswith(counters.KEY_STAMP_PREFIX))
