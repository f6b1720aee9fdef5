"""Rate limits and quotas (docs/api.md §3): per-account counters, each one atomic conditional UpdateItem."""

from __future__ import annotations

import random
import threading
from collections import OrderedDict
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from filegate import errors
from filegate.clock import minute_floor, month_key, next_month_start
from filegate.db import counters
from filegate.tiers import (
    FREE_KEY_SIGNUPS_PER_IP_PER_HOUR,
    MAX_CHANGES_PER_MINUTE,
    MAX_QUOTA_SHARDS,
    RATE_WINDOW_SECONDS,
    Tier,
)

# Usage counters outlive their month long enough for a year of /v1/usage history.
USAGE_RETENTION = timedelta(days=400)
# A sharded counter tries this many shards before refusing: one full shard does not refuse a request
# while others have room, and a truly exhausted limit costs at most this many refused writes.
SHARD_ATTEMPTS = 3


@dataclass(frozen=True)
class RateLimitState:
    limit: int
    remaining: int
    reset_seconds: int

    def headers(self) -> dict[str, str]:
        """IETF draft RateLimit headers, sent on every authenticated response."""
        return {
            "RateLimit-Policy": f'"minute";q={self.limit};w={RATE_WINDOW_SECONDS}',
            "RateLimit": f'"minute";r={self.remaining};t={self.reset_seconds}',
        }


def _window(now: datetime, seconds: int) -> tuple[int, int]:
    """(window index, seconds until it ends) of a fixed window."""
    epoch = int(now.timestamp())
    return epoch // seconds, seconds - epoch % seconds


def shard_id(base: str, shard: int) -> str:
    """Shard 0 keeps the unsharded name, so a tier's items are a superset of a one-item tier's."""
    return base if shard == 0 else f"{base}#{shard}"


def shard_cap(limit: int, shards: int, shard: int) -> int:
    """Each shard's share of ``limit``; the shares add up to exactly ``limit``, never more."""
    return limit // shards + (1 if shard < limit % shards else 0)


def _shard_order(shards: int) -> list[int]:
    """Shards to try, starting at a random one: a first choice and at most two retries on others."""
    first = random.randrange(shards)
    return [(first + i) % shards for i in range(min(shards, SHARD_ATTEMPTS))]


def _rate_base(account_id: str, window: int) -> str:
    return f"rate#{account_id}#{window}"


def _rate_expiry(window: int) -> datetime:
    return datetime.fromtimestamp((window + 2) * RATE_WINDOW_SECONDS, tz=UTC)


@dataclass(frozen=True)
class RateCheck:
    """One request counted (or refused) against the account's minute, and the stamps its write returned."""

    state: RateLimitState
    admitted: bool
    stamps: dict[str, int]
    count: int | None = None  # the written shard's count, when admitted
    first_use: bool = False  # the key's first request counted on this item (record its last use)

    def refusal(self) -> errors.RateLimited:
        return errors.RateLimited(headers={**self.state.headers(), "Retry-After": str(self.state.reset_seconds)})


def hit_rate_limit(account_id: str, tier: Tier, now: datetime, key_id: str | None = None) -> RateCheck:
    """Count one request against the account's minute (one UpdateItem; more only when a shard is full).

    A sharded tier's minute is spread over ``tier.rate_shards`` items, each capped at its share; a full
    shard is retried on another before refusing. ``remaining`` is then an estimate from the shard written,
    never more than is truly left in it scaled to the whole.
    """
    window, reset = _window(now, RATE_WINDOW_SECONDS)
    limit, shards = tier.requests_per_minute, tier.rate_shards
    stamps: dict[str, int] = {}
    for shard in _shard_order(shards):
        cap = shard_cap(limit, shards, shard)
        item = shard_id(_rate_base(account_id, window), shard)
        hit = counters.hit(item, limit=cap, expires_at=_rate_expiry(window), key_id=key_id)
        stamps = _newest(stamps, hit.stamps)
        if hit.value is not None:
            remaining = max(cap - hit.value, 0) * shards
            state = RateLimitState(limit, min(remaining, limit), reset)
            return RateCheck(state, True, stamps, hit.value, hit.first_use)
    return RateCheck(RateLimitState(limit, 0, reset), False, stamps)


def rate_under_new_tier(check: RateCheck, account_id: str, old: Tier, new: Tier, now: datetime) -> RateCheck:
    """A request counted under the tier a cached context named, judged by the account's tier now.

    Both one-item tiers, admitted: the same item, judged against the new limit. Otherwise it is counted
    under the new tier (again, if it was admitted: one request over-counted once, never one let through).
    """
    if check.admitted and old.rate_shards == new.rate_shards == 1 and check.count is not None:
        limit, (_, reset) = new.requests_per_minute, _window(now, RATE_WINDOW_SECONDS)
        state = RateLimitState(limit, max(limit - check.count, 0), reset)
        return RateCheck(state, check.count <= limit, check.stamps, check.count, check.first_use)
    return hit_rate_limit(account_id, new, now)


def peek_rate_stamps(account_id: str, now: datetime) -> dict[str, int]:
    """The change stamps a request of the account would read now, without counting it (every shard of a
    window carries the same stamps: shard 0 stands for all)."""
    window, _ = _window(now, RATE_WINDOW_SECONDS)
    return counters.peek_stamps(_rate_base(account_id, window))


class _LastUses:
    """The minute this container last recorded each key's use. A sharded tier's minute is many rate items,
    and a key's first request on each would record the same minute again (20 writes a minute on
    enterprise); one container records a key's minute once."""

    def __init__(self, size: int) -> None:
        self._minutes: OrderedDict[str, datetime] = OrderedDict()
        self._size = size
        self._lock = threading.Lock()

    def first_in_minute(self, key_id: str, minute: datetime) -> bool:
        """True (and remembered) unless this container already recorded ``key_id`` in ``minute``."""
        with self._lock:
            if self._minutes.get(key_id) == minute:
                return False
            self._minutes[key_id] = minute
            self._minutes.move_to_end(key_id)
            while len(self._minutes) > self._size:
                self._minutes.popitem(last=False)
            return True


_last_uses = _LastUses(10_000)


def record_last_use(key_id: str, now: datetime) -> None:
    """docs/api.md §5: last_used_at to the minute, called on a key's first request on a rate item; written once
    per key and minute by a container (a conditional write that never moves it back)."""
    minute = minute_floor(now)
    if _last_uses.first_in_minute(key_id, minute):
        counters.record_last_use(key_id, minute, expires_at=now + USAGE_RETENTION)


def hit_change_limit(account_id: str, now: datetime) -> None:
    """docs/api.md §3: at most MAX_CHANGES_PER_MINUTE key and webhook-secret changes a minute per account."""
    window, reset = _window(now, RATE_WINDOW_SECONDS)
    count = counters.increment(
        f"changes#{account_id}#{window}", limit=MAX_CHANGES_PER_MINUTE, expires_at=_rate_expiry(window)
    )
    if count is None:
        raise errors.RateLimited(
            f"At most {MAX_CHANGES_PER_MINUTE} changes to keys and webhook secrets a minute; retry after the "
            "indicated time.",
            headers={"Retry-After": str(reset)},
        )


def _newest(a: dict[str, int], b: dict[str, int]) -> dict[str, int]:
    return {name: max(a.get(name, 0), b.get(name, 0)) for name in a.keys() | b.keys()}


def rate_counters_between(account_id: str, shards: int, start: datetime, end: datetime) -> list[tuple[str, datetime]]:
    """Every rate item (id, expiry) that a request between ``start`` and ``end`` may write."""
    first, _ = _window(start, RATE_WINDOW_SECONDS)
    last, _ = _window(end, RATE_WINDOW_SECONDS)
    return [
        (shard_id(_rate_base(account_id, window), shard), _rate_expiry(window))
        for window in range(first, last + 1)
        for shard in range(shards)
    ]


def hit_signup_limit(source_ip: str, now: datetime) -> None:
    """At most a few free keys per source IP per hour."""
    window, reset = _window(now, 3600)
    count = counters.increment(
        f"signup#{source_ip}#{window}",
        limit=FREE_KEY_SIGNUPS_PER_IP_PER_HOUR,
        expires_at=now + timedelta(seconds=reset + 3600),
    )
    if count is None:
        raise errors.RateLimited(
            "Too many free keys from this address; retry after the indicated time.",
            headers={"Retry-After": str(reset)},
        )


def _month_counter(account_id: str, month: str) -> str:
    return f"conv#{account_id}#{month}"


def _day_counter(account_id: str, day: str) -> str:
    return f"conv#{account_id}#{day}"


@dataclass(frozen=True)
class Reservation:
    """A conversion counted in advance; give it back with :func:`release_conversion` if it fails."""

    account_id: str
    month: str
    day: str
    charged: bool
    shard: int = 0  # which shard of the month's and the day's counters was charged


def _charge_month(account_id: str, month: str, tier: Tier, expires: datetime) -> int | None:
    """The shard the month's counter was charged on; None when a hard quota refuses it."""
    shards = tier.quota_shards
    if not tier.hard_quota:
        shard = random.randrange(shards)
        counters.increment(shard_id(_month_counter(account_id, month), shard), expires_at=expires)
        return shard
    for shard in _shard_order(shards):
        cap = shard_cap(tier.conversions_per_month, shards, shard)
        if counters.increment(shard_id(_month_counter(account_id, month), shard), limit=cap, expires_at=expires):
            return shard
    return None


def reserve_conversion(account_id: str, tier: Tier, *, test_mode: bool, now: datetime) -> Reservation:
    """Count one conversion before doing it, so concurrent requests can never pass the quota.

    fg_test_ keys are never charged. On a hard-quota tier the month's counter stops at the limit
    (QuotaExceeded, Retry-After until the month rolls over); otherwise overage is counted and allowed.
    A tier with ``quota_shards`` > 1 spreads both counters over that many items (each capped at its share).
    """
    month, day = month_key(now), now.strftime("%Y-%m-%d")
    if test_mode:
        return Reservation(account_id, month, day, charged=False)
    expires = now + USAGE_RETENTION
    shard = _charge_month(account_id, month, tier, expires)
    if shard is None:
        retry_after = int((next_month_start(now) - now).total_seconds()) + 1
        raise errors.QuotaExceeded(headers={"Retry-After": str(retry_after)})
    counters.increment(shard_id(_day_counter(account_id, day), shard), expires_at=expires)
    return Reservation(account_id, month, day, charged=True, shard=shard)


def charged_counters(reservation: Reservation) -> list[str]:
    """The counters a reservation incremented (none for an uncharged one)."""
    if not reservation.charged:
        return []
    return [
        shard_id(_month_counter(reservation.account_id, reservation.month), reservation.shard),
        shard_id(_day_counter(reservation.account_id, reservation.day), reservation.shard),
    ]


def release_conversion(reservation: Reservation) -> None:
    """A failed conversion is not charged."""
    for counter_id in charged_counters(reservation):
        counters.decrement(counter_id)


def _sums(bases: list[str], shards: int, now: datetime) -> dict[str, int]:
    ids = {base: [shard_id(base, s) for s in range(shards)] for base in bases}
    values = counters.read_many([i for group in ids.values() for i in group], now)
    return {base: sum(values[i] for i in group) for base, group in ids.items()}


def conversions_this_month(account_id: str, now: datetime) -> int:
    key = _month_counter(account_id, month_key(now))
    return _sums([key], MAX_QUOTA_SHARDS, now)[key]


def usage(account_id: str, months: list[str], days: list[str], now: datetime) -> tuple[dict[str, int], dict[str, int]]:
    """Conversions per month and per day for the given periods.

    Months sum every shard any tier uses (a month may have been counted under another tier); days sum
    that many shards only when some month shows a sharded count, to keep a year's report to a few reads.
    """
    month_ids = {m: [shard_id(_month_counter(account_id, m), s) for s in range(MAX_QUOTA_SHARDS)] for m in months}
    values = counters.read_many([i for ids in month_ids.values() for i in ids], now)
    per_month = {m: sum(values[i] for i in ids) for m, ids in month_ids.items()}
    sharded = any(values[i] for ids in month_ids.values() for i in ids[1:])
    day_bases = {d: _day_counter(account_id, d) for d in days}
    day_sums = _sums(list(day_bases.values()), MAX_QUOTA_SHARDS if sharded else 1, now)
    return per_month, {d: day_sums[base] for d, base in day_bases.items()}
