"""Reading a key's activity (docs/api.md §5): buckets from ``start`` to ``end``, the empty ones as zeros."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Final

from filegate import errors
from filegate.activity.outcomes import FIELDS
from filegate.activity.rollup import GRANULARITIES, bucket_start
from filegate.clock import iso
from filegate.db import activity as activity_table

MAX_RANGE: Final = timedelta(days=90)
DEFAULT_RANGE: Final = timedelta(hours=24)
STEP: Final = {"hour": timedelta(hours=1), "day": timedelta(days=1)}


@dataclass(frozen=True)
class Window:
    start: datetime
    end: datetime
    granularity: str

    def starts(self) -> list[datetime]:
        """Every bucket that overlaps [start, end)."""
        step, at = STEP[self.granularity], bucket_start(self.start, self.granularity)
        out: list[datetime] = []
        while at < self.end:
            out.append(at)
            if datetime.max.replace(tzinfo=UTC) - at < step:  # the calendar's last bucket
                break
            at += step
        return out


def window(start: datetime | None, end: datetime | None, granularity: str | None, now: datetime) -> Window:
    """The range asked for, checked: default the last 24 hours by hour; at most 90 days; start before end."""
    granularity = granularity or "hour"
    if granularity not in GRANULARITIES:
        raise errors.InvalidRequest("granularity: must be hour or day.")
    end = end or now
    try:
        start = start or end - DEFAULT_RANGE
    except OverflowError:  # a `to` at the very start of the calendar
        raise errors.InvalidRequest("to: too early.") from None
    if start >= end:
        raise errors.InvalidRequest("from: must be before to.")
    if end - start > MAX_RANGE:
        raise errors.InvalidRequest("from: the range may span at most 90 days.")
    return Window(start.astimezone(UTC), end.astimezone(UTC), granularity)


def buckets(win: Window, stored: dict[datetime, dict[str, int]]) -> list[dict[str, Any]]:
    """One entry per bucket of the window, every field present (zeros where nothing was counted)."""
    return [{"start": iso(at), **{f: stored.get(at, {}).get(f, 0) for f in FIELDS}} for at in win.starts()]


def activity(key_id: str, win: Window, now: datetime) -> dict[str, Any]:
    starts = win.starts()
    ids = {activity_table.bucket_id(key_id, win.granularity, at): at for at in starts}
    found = activity_table.read(list(ids), FIELDS, now)
    last = activity_table.read_last(key_id)
    return {
        "key_id": key_id,
        "granularity": win.granularity,
        "data": buckets(win, {ids[i]: values for i, values in found.items()}),
        "last_used_at": iso(datetime.fromtimestamp(last[0], tz=UTC)) if last else None,
        "last_used_ip": last[1] if last else None,
    }


def daily_requests(key_ids: list[str], days: int, now: datetime) -> dict[str, list[int]]:
    """Each key's requests per day over the last ``days`` days (today included), oldest first: one read
    of every key's items together (the keys page draws them as sparklines)."""
    today = bucket_start(now, "day")
    starts = [today - timedelta(days=n) for n in range(days - 1, -1, -1)]
    ids = {(k, at): activity_table.bucket_id(k, "day", at) for k in key_ids for at in starts}
    found = activity_table.read(list(ids.values()), ("requests",), now)
    return {k: [found.get(ids[(k, at)], {}).get("requests", 0) for at in starts] for k in key_ids}
