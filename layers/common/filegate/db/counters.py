"""The counters table: rate-limit windows and usage counts, each one atomic conditional UpdateItem."""

from __future__ import annotations

from datetime import datetime

from pynamodb.attributes import NumberAttribute, TTLAttribute, UnicodeAttribute
from pynamodb.exceptions import UpdateError
from pynamodb.expressions.update import Action
from pynamodb.models import Model

from filegate.db import is_condition_failure


class CounterRecord(Model):
    class Meta:
        table_name = "unbound-counters"

    counter_id = UnicodeAttribute(hash_key=True)
    value = NumberAttribute(default=0)  # not "count": that name is Model.count()
    expires_at = TTLAttribute(null=True)


def increment(counter_id: str, *, expires_at: datetime, limit: int | None = None, by: int = 1) -> int | None:
    """Add ``by`` and return the new count; None (and no change) when that would pass ``limit``."""
    actions: list[Action] = [CounterRecord.value.add(by), CounterRecord.expires_at.set(expires_at)]
    condition = None
    if limit is not None:
        condition = CounterRecord.value.does_not_exist() | (CounterRecord.value <= limit - by)
    record = CounterRecord(counter_id)
    try:
        record.update(actions=actions, condition=condition)
    except UpdateError as exc:
        if is_condition_failure(exc):
            return None
        raise
    return int(record.value)


def decrement(counter_id: str, *, by: int = 1) -> None:
    """Give back a reservation; never below zero."""
    record = CounterRecord(counter_id)
    try:
        record.update(
            actions=[CounterRecord.value.add(-by)],
            condition=CounterRecord.value.exists() & (CounterRecord.value >= by),
        )
    except UpdateError as exc:
        if not is_condition_failure(exc):
            raise


def read_many(counter_ids: list[str], now: datetime) -> dict[str, int]:
    """Current values; a missing counter, or one past its TTL that DynamoDB has not deleted yet, is 0."""
    values = dict.fromkeys(counter_ids, 0)
    for start in range(0, len(counter_ids), 100):
        for record in CounterRecord.batch_get(counter_ids[start : start + 100]):
            if record.expires_at is not None and record.expires_at <= now:
                continue
            values[record.counter_id] = int(record.value)
    return values
