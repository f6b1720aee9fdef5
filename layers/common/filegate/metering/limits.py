"""Rate limits and quotas (API.md §3): per-account counters, each one atomic conditional UpdateItem."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from filegate import errors
from filegate.clock import month_key, next_month_start
from filegate.db import counters
from filegate.tiers import FREE_KEY_SIGNUPS_PER_IP_PER_HOUR, RATE_WINDOW_SECONDS, Tier

# Usage counters outlive their month long enough for a year of /v1/usage history.
USAGE_RETENTION = timedelta(days=400)


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


def hit_rate_limit(account_id: str, tier: Tier, now: datetime) -> RateLimitState:
    """Count one request against the account's minute; RateLimited (with headers) past the limit."""
    window, reset = _window(now, RATE_WINDOW_SECONDS)
    limit = tier.requests_per_minute
    count = counters.increment(
        f"rate#{account_id}#{window}",
        limit=limit,
        expires_at=now + timedelta(seconds=reset + RATE_WINDOW_SECONDS),
    )
    if count is None:
        state = RateLimitState(limit, 0, reset)
        raise errors.RateLimited(headers={**state.headers(), "Retry-After": str(reset)})
    return RateLimitState(limit, max(limit - count, 0), reset)


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


def reserve_conversion(account_id: str, tier: Tier, *, test_mode: bool, now: datetime) -> Reservation:
    """Count one conversion before doing it, so concurrent requests can never pass the quota.

    fg_test_ keys are never charged. On a hard-quota tier the month's counter stops at the limit
    (QuotaExceeded, Retry-After until the month rolls over); otherwise overage is counted and allowed.
    """
    month, day = month_key(now), now.strftime("%Y-%m-%d")
    if test_mode:
        return Reservation(account_id, month, day, charged=False)
    expires = now + USAGE_RETENTION
    limit = tier.conversions_per_month if tier.hard_quota else None
    if counters.increment(_month_counter(account_id, month), limit=limit, expires_at=expires) is None:
        retry_after = int((next_month_start(now) - now).total_seconds()) + 1
        raise errors.QuotaExceeded(headers={"Retry-After": str(retry_after)})
    counters.increment(_day_counter(account_id, day), expires_at=expires)
    return Reservation(account_id, month, day, charged=True)


def charged_counters(reservation: Reservation) -> list[str]:
    """The counters a reservation incremented (none for an uncharged one)."""
    if not reservation.charged:
        return []
    return [
        _month_counter(reservation.account_id, reservation.month),
        _day_counter(reservation.account_id, reservation.day),
    ]


def release_conversion(reservation: Reservation) -> None:
    """A failed conversion is not charged."""
    if not reservation.charged:
        return
    counters.decrement(_month_counter(reservation.account_id, reservation.month))
    counters.decrement(_day_counter(reservation.account_id, reservation.day))


def conversions_this_month(account_id: str, now: datetime) -> int:
    key = _month_counter(account_id, month_key(now))
    return counters.read_many([key], now)[key]


def usage(account_id: str, months: list[str], days: list[str], now: datetime) -> tuple[dict[str, int], dict[str, int]]:
    """Conversions per month and per day for the given periods."""
    ids = [_month_counter(account_id, m) for m in months] + [_day_counter(account_id, d) for d in days]
    values = counters.read_many(ids, now)
    per_month = {m: values[_month_counter(account_id, m)] for m in months}
    per_day = {d: values[_day_counter(account_id, d)] for d in days}
    return per_month, per_day
