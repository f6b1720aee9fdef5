"""From the services' answers to chart periods: every day or hour of a range, the empty ones as zeros,
labelled as people read them (``7 Dec``, ``06:00``)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import date, datetime, timedelta
from typing import Any, Final

from filegate.clock import parse_iso
from filegate.dashboard.charts import Period, Series

OUTCOME_SERIES: Final = (
    Series("succeeded", "succeeded", "s-ok"),
    Series("client_errors", "client errors", "s-client"),
    Series("refused", "refused (401/403)", "s-refused"),
    Series("rate_limited", "rate limited", "s-rate"),
    Series("quota_exceeded", "over quota", "s-quota"),
)
# The ranges a key's page offers: (query value, words, hours, granularity).
RANGES: Final = (("24h", "24 hours", 24, "hour"), ("7d", "7 days", 24 * 7, "day"), ("30d", "30 days", 24 * 30, "day"))


def day_label(day: date) -> str:
    return f"{day.day} {day.strftime('%b')}"


def days_between(first: date, last: date) -> list[date]:
    return [first + timedelta(days=n) for n in range((last - first).days + 1)]


def conversion_days(per_day: Mapping[str, int], days: Iterable[date]) -> list[Period]:
    """Conversions on each of ``days`` (ISO dates missing from ``per_day`` are zeros)."""
    return [Period(f"{d.isoformat()}", day_label(d), {"conversions": int(per_day.get(d.isoformat(), 0))}) for d in days]


def months(report_months: Sequence[Mapping[str, Any]]) -> list[Period]:
    periods = []
    for m in report_months:
        start = datetime.strptime(str(m["month"]), "%Y-%m")
        periods.append(Period(str(m["month"]), start.strftime("%b %Y"), {"conversions": int(m["conversions"])}))
    return periods


def activity_periods(buckets: Sequence[Mapping[str, Any]], granularity: str) -> list[Period]:
    """A key's activity buckets (docs/api.md §5) as periods stacked by outcome."""
    periods = []
    for bucket in buckets:
        start = parse_iso(str(bucket["start"]))
        if granularity == "hour":
            label, short = start.strftime("%Y-%m-%d %H:00 UTC"), start.strftime("%H:00")
        else:
            label, short = start.date().isoformat(), day_label(start.date())
        periods.append(Period(label, short, {s.field: int(bucket.get(s.field, 0)) for s in OUTCOME_SERIES}))
    return periods
