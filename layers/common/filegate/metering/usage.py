"""GET /v1/usage: conversions per month and per day over a range of months."""

from __future__ import annotations

import re
from datetime import date, datetime, timedelta
from typing import Any

from filegate import errors
from filegate.clock import month_key
from filegate.metering import limits

MONTH_RE = re.compile(r"^[1-9]\d{3}-(0[1-9]|1[0-2])$")  # year 0 has no calendar: no 0000-01
MAX_MONTHS = 12


def _months(start: str, end: str) -> list[str]:
    year, month = map(int, start.split("-"))
    out = []
    while f"{year:04d}-{month:02d}" <= end:
        out.append(f"{year:04d}-{month:02d}")
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)
    return out


def _days(month: str, today: date) -> list[str]:
    year, mon = map(int, month.split("-"))
    day = date(year, mon, 1)
    out = []
    while day.month == mon and day <= today:
        out.append(day.isoformat())
        day += timedelta(days=1)
    return out


def report(account_id: str, start: str | None, end: str | None, now: datetime) -> dict[str, Any]:
    """Raises InvalidRequest (400) naming the bad parameter."""
    current = month_key(now)
    start = start or current
    end = end or (start if start > current else current)
    for name, value in (("from", start), ("to", end)):
        if not MONTH_RE.match(value):
            raise errors.InvalidRequest(f"{name}: must be a month, YYYY-MM.")
    if start > end:
        raise errors.InvalidRequest("from: must not be after to.")
    months = _months(start, end)
    if len(months) > MAX_MONTHS:
        raise errors.InvalidRequest(f"to: at most {MAX_MONTHS} months per request.")
    days = [d for m in months for d in _days(m, now.date())]
    per_month, per_day = limits.usage(account_id, months, days, now)
    return {
        "from": start,
        "to": end,
        "months": [{"month": m, "conversions": per_month[m]} for m in months],
        "days": [{"date": d, "conversions": per_day[d]} for d in days if per_day[d]],
    }
