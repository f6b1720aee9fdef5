"""Time in one place: UTC, and the windows limits and usage are counted in."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta


def utcnow() -> datetime:
    return datetime.now(UTC)


def minute_floor(now: datetime) -> datetime:
    return now.replace(second=0, microsecond=0)


def month_key(now: datetime) -> str:
    return now.strftime("%Y-%m")


def next_month_start(now: datetime) -> datetime:
    first = now.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    return (first + timedelta(days=32)).replace(day=1)


def iso(value: datetime | None) -> str | None:
    """ISO-8601 in UTC with a Z, seconds precision: how every timestamp leaves the API."""
    if value is None:
        return None
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_iso(value: str) -> datetime:
    """Parse an ISO-8601 timestamp; naive values are taken as UTC. Raises ValueError."""
    parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC)
