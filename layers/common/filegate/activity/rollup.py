"""The rollup: a batch of activity log lines (a CloudWatch Logs subscription event) added to per-key items.

``tally`` is pure: lines in, sums per (key, granularity, bucket) and each key's latest request out.
``roll_up`` writes them: one UpdateItem per key and bucket, one per key for its last use.
"""

from __future__ import annotations

import base64
import gzip
import json
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Final

from filegate.activity.outcomes import REPORTED
from filegate.activity.record import LOG_FIELD
from filegate.db import activity as activity_table
from filegate.observability import logger

# Hourly items serve the longest range the API takes (90 days); daily ones a year of charts.
HOUR_RETENTION: Final = timedelta(days=92)
DAY_RETENTION: Final = timedelta(days=400)
GRANULARITIES: Final = ("hour", "day")


def bucket_start(at: datetime, granularity: str) -> datetime:
    hour = at.astimezone(UTC).replace(minute=0, second=0, microsecond=0)
    return hour if granularity == "hour" else hour.replace(hour=0)


@dataclass
class Tally:
    sums: dict[tuple[str, str, datetime], Counter[str]] = field(default_factory=lambda: defaultdict(Counter))
    last: dict[str, tuple[int, str]] = field(default_factory=dict)  # key → (epoch seconds, source IP)


def _activity_of(message: str) -> dict[str, Any] | None:
    try:
        parsed = json.loads(message)
    except ValueError:
        return None
    fields = parsed.get(LOG_FIELD) if isinstance(parsed, dict) else None
    return fields if isinstance(fields, dict) else None


def tally(messages: list[str]) -> Tally:
    """Sum the activity lines among ``messages`` (others, and malformed ones, are skipped)."""
    result = Tally()
    for message in messages:
        fields = _activity_of(message)
        if fields is None:
            continue
        try:
            key_id, epoch, outcome = str(fields["key_id"]), int(fields["at"]), str(fields["outcome"])
            conversions, units = int(fields.get("conversions", 0)), int(fields.get("units", 0))
        except (TypeError, KeyError, ValueError):
            continue
        ip = str(fields.get("ip", ""))
        at = datetime.fromtimestamp(epoch, tz=UTC)
        for granularity in GRANULARITIES:
            counts = result.sums[(key_id, granularity, bucket_start(at, granularity))]
            counts["requests"] += 1
            if outcome in REPORTED:
                counts[outcome] += 1
            if conversions:
                counts["conversions"] += conversions
                counts["units"] += units
        if epoch >= result.last.get(key_id, (0, ""))[0]:
            result.last[key_id] = (epoch, ip)
    return result


def decode_subscription_event(event: dict[str, Any]) -> list[str]:
    """The log lines of a CloudWatch Logs subscription event (``awslogs.data``: base64 of gzipped JSON)."""
    data = json.loads(gzip.decompress(base64.b64decode(event["awslogs"]["data"])))
    if data.get("messageType") != "DATA_MESSAGE":  # CONTROL_MESSAGE: CloudWatch checking the destination
        return []
    return [str(e.get("message", "")) for e in data.get("logEvents", [])]


def roll_up(messages: list[str], now: datetime) -> int:
    """Add the lines' activity to the table; the number of items written."""
    result = tally(messages)
    for (key_id, granularity, start), counts in result.sums.items():
        retention = HOUR_RETENTION if granularity == "hour" else DAY_RETENTION
        activity_table.add(
            activity_table.bucket_id(key_id, granularity, start), dict(counts), expires_at=now + retention
        )
    for key_id, (epoch, ip) in result.last.items():
        activity_table.record_last(key_id, epoch, ip, expires_at=now + DAY_RETENTION)
    logger.info("activity rolled up", extra={"lines": len(messages), "items": len(result.sums) + len(result.last)})
    return len(result.sums) + len(result.last)
