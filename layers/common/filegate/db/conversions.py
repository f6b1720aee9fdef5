"""The conversions table: one record per conversion, sync or async, and its lifecycle.

queued → processing → succeeded | failed. Each transition is a conditional write, so a redelivered
message or a racing worker can never move a finished conversion again, and the quota is given back once.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from pynamodb.attributes import (
    BooleanAttribute,
    JSONAttribute,
    NumberAttribute,
    TTLAttribute,
    UnicodeAttribute,
    UnicodeSetAttribute,
    UTCDateTimeAttribute,
)
from pynamodb.exceptions import DoesNotExist, TransactWriteError, UpdateError
from pynamodb.expressions.condition import size
from pynamodb.expressions.update import Action
from pynamodb.indexes import AllProjection, GlobalSecondaryIndex
from pynamodb.models import Model
from pynamodb.transactions import TransactWrite

from filegate.db.counters import CounterRecord
from filegate.db.pages import Page, page_query
from filegate.db.writes import cancelled_by_condition, is_condition_failure, transaction_connection

TERMINAL = ("succeeded", "failed")


class ConversionsByAccount(GlobalSecondaryIndex["ConversionRecord"]):
    class Meta:
        index_name = "by_account"
        projection = AllProjection()

    account_id = UnicodeAttribute(hash_key=True)
    created_at = UTCDateTimeAttribute(range_key=True)


class ConversionRecord(Model):
    class Meta:
        table_name = "unbound-conversions"

    conversion_id = UnicodeAttribute(hash_key=True)
    account_id = UnicodeAttribute()
    key_id = UnicodeAttribute()
    tier = UnicodeAttribute()
    test_mode = BooleanAttribute(default=False)
    mode = UnicodeAttribute()  # sync | async
    status = UnicodeAttribute()
    source_file_id = UnicodeAttribute(null=True)
    target = UnicodeAttribute()
    options = JSONAttribute(default=dict)
    # Options no table may keep readable (an input_password), sealed; the key is only in the queue message
    # (filegate.sealing). Removed by the write that ends the conversion.
    options_sealed = UnicodeAttribute(null=True)
    webhook_url = UnicodeAttribute(null=True)
    output_file_id = UnicodeAttribute(null=True)
    error_code = UnicodeAttribute(null=True)
    error_message = UnicodeAttribute(null=True)
    # The quota reservation, given back exactly once if the conversion fails.
    charged = BooleanAttribute(default=False)
    charge_month = UnicodeAttribute(null=True)
    charge_day = UnicodeAttribute(null=True)
    charge_shard = NumberAttribute(null=True)  # which shard of a sharded tier's counters was charged
    units = NumberAttribute(default=1)  # conversion units charged (media: one per started minute of output)
    # A sync conversion keeps no input file: what it was given and made is kept here for the dashboard.
    source_name = UnicodeAttribute(null=True)
    source_format = UnicodeAttribute(null=True)
    source_bytes = NumberAttribute(null=True)
    output_bytes = NumberAttribute(null=True)
    attempts = NumberAttribute(default=0)
    progress = NumberAttribute(null=True)  # percent done while it runs (docs/api.md: only grows, 100 on success)
    # Long media (conversions.long_media): how many pieces it was cut into, the names of those finished (a
    # set, so a redelivered piece never counts twice), and when the join was claimed (once; a lease).
    pieces_total = NumberAttribute(null=True)
    pieces_done = UnicodeSetAttribute(null=True)
    joining_since = UTCDateTimeAttribute(null=True)
    created_at = UTCDateTimeAttribute()
    started_at = UTCDateTimeAttribute(null=True)
    completed_at = UTCDateTimeAttribute(null=True)
    expires_at = TTLAttribute()

    by_account = ConversionsByAccount()


def get(conversion_id: str) -> ConversionRecord | None:
    try:
        return ConversionRecord.get(conversion_id, consistent_read=True)
    except DoesNotExist:
        return None


def get_owned(account_id: str, conversion_id: str) -> ConversionRecord | None:
    record = get(conversion_id)
    if record is None or record.account_id != account_id:
        return None
    return record


def create(record: ConversionRecord) -> None:
    record.save(condition=ConversionRecord.conversion_id.does_not_exist())


def _transition(record: ConversionRecord, actions: list[Any], condition: Any) -> bool:
    try:
        record.update(actions=actions, condition=condition)
    except UpdateError as exc:
        if is_condition_failure(exc):
            return False
        raise
    return True


def start(record: ConversionRecord, now: datetime) -> bool:
    """queued/processing → processing (a retry after a crash restarts it); False once it is finished."""
    return _transition(
        record,
        [
            ConversionRecord.status.set("processing"),
            ConversionRecord.started_at.set(now),
            ConversionRecord.attempts.add(1),
        ],
        ConversionRecord.status.is_in("queued", "processing"),
    )


def set_plan(record: ConversionRecord, target: str, options: dict[str, Any]) -> bool:
    """A conversion of a URL, once its import is ready: the canonical target and parsed options for the
    source's format. Only while it is still queued; False otherwise."""
    return _transition(
        record,
        [ConversionRecord.target.set(target), ConversionRecord.options.set(options)],
        ConversionRecord.status == "queued",
    )


def succeed(record: ConversionRecord, output_file_id: str, now: datetime) -> bool:
    return _transition(
        record,
        [
            ConversionRecord.status.set("succeeded"),
            ConversionRecord.progress.set(100),
            ConversionRecord.output_file_id.set(output_file_id),
            ConversionRecord.completed_at.set(now),
            ConversionRecord.options_sealed.remove(),
        ],
        ConversionRecord.status.is_in("queued", "processing"),
    )


def advance(conversion_id: str, percent: int) -> bool:
    """Raise a running conversion's progress to `percent`; never lowers it (a late or reordered write from
    another invocation loses), never touches a finished one. False when nothing changed."""
    record = ConversionRecord(conversion_id)
    condition = (ConversionRecord.status == "processing") & (
        ConversionRecord.progress.does_not_exist() | (ConversionRecord.progress < percent)
    )
    return _transition(record, [ConversionRecord.progress.set(percent)], condition)


def fan_out(record: ConversionRecord, pieces: int) -> bool:
    """Record that a running conversion was cut into `pieces` (once: a redelivered job message does not)."""
    condition = (ConversionRecord.status == "processing") & ConversionRecord.pieces_total.does_not_exist()
    return _transition(record, [ConversionRecord.pieces_total.set(pieces)], condition)


def piece_done(conversion_id: str, name: str) -> ConversionRecord | None:
    """Add a finished piece to the set (idempotent); the record as it is after, or None once it is finished."""
    record = ConversionRecord(conversion_id)
    if not _transition(record, [ConversionRecord.pieces_done.add({name})], ConversionRecord.status == "processing"):
        return None
    return record


def claim_join(conversion_id: str, pieces: int, now: datetime, *, lease: timedelta) -> bool:
    """Whether this caller joins the pieces: all `pieces` are done and nobody claimed the join, or the claim
    is older than `lease` (its invocation died). True for one caller at a time."""
    record = ConversionRecord(conversion_id)
    condition = (
        (ConversionRecord.status == "processing")
        & (size(ConversionRecord.pieces_done) == pieces)
        & (ConversionRecord.joining_since.does_not_exist() | (ConversionRecord.joining_since < now - lease))
    )
    return _transition(record, [ConversionRecord.joining_since.set(now)], condition)


def fail(
    record: ConversionRecord, code: str, message: str, now: datetime, *, refund: Sequence[str] = (), units: int = 1
) -> bool:
    """→ failed, once: True only for the call that made the transition.

    ``refund`` names usage counters to give ``units`` back on, in the same transaction: the conversion
    reads as failed exactly when its charge is gone, and a second call can never refund twice.
    """
    actions: list[Action] = [
        ConversionRecord.status.set("failed"),
        ConversionRecord.error_code.set(code),
        ConversionRecord.error_message.set(message),
        ConversionRecord.completed_at.set(now),
        ConversionRecord.options_sealed.remove(),
    ]
    condition = ConversionRecord.status.is_in("queued", "processing")
    if not refund:
        return _transition(record, actions, condition)
    try:
        with TransactWrite(connection=transaction_connection(ConversionRecord)) as tx:
            tx.update(record, actions=actions, condition=condition)
            for counter_id in refund:
                tx.update(CounterRecord(counter_id), actions=[CounterRecord.value.add(-units)])
    except TransactWriteError as exc:
        if cancelled_by_condition(exc):
            return False
        raise
    return True


def add_units(
    record: ConversionRecord, extra: int, *, counters: Sequence[str], limited: str | None, limit: int | None
) -> bool:
    """Charge ``extra`` more units to a running conversion and its usage counters, in one transaction.

    ``limited`` (one of ``counters``) may not pass ``limit``; False (nothing changed) when it would.
    """
    actions: list[Action] = [ConversionRecord.units.add(extra)]
    condition = ConversionRecord.status == "processing"
    try:
        with TransactWrite(connection=transaction_connection(ConversionRecord)) as tx:
            tx.update(record, actions=actions, condition=condition)
            for counter_id in counters:
                bound = None
                if counter_id == limited and limit is not None:
                    bound = CounterRecord.value.does_not_exist() | (CounterRecord.value <= limit - extra)
                tx.update(CounterRecord(counter_id), actions=[CounterRecord.value.add(extra)], condition=bound)
    except TransactWriteError as exc:
        if cancelled_by_condition(exc):
            return False
        raise
    record.units = int(record.units or 1) + extra
    return True


def list_for_account(account_id: str, *, limit: int, cursor: str | None) -> Page[ConversionRecord]:
    return page_query(
        ConversionRecord.by_account,
        account_id,
        limit=limit,
        cursor=cursor,
        position=lambda r: {
            "conversion_id": {"S": r.conversion_id},
            "account_id": {"S": r.account_id},
            "created_at": {"S": ConversionRecord.created_at.serialize(r.created_at)},
        },
    )
