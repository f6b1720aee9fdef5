"""Queueing a conversion job: its quota reservation, its record and its message to the engine's worker.

Touches storage: the conversions table, the quota counters, the engine's queue.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from filegate import queues
from filegate.context import AuthContext
from filegate.conversions.records import fail, job_message, new_record, seal_secret_options
from filegate.conversions.routing import Queues
from filegate.db import conversions as conversions_table
from filegate.db import files as files_table
from filegate.engines import Plan
from filegate.metering import limits
from filegate.tiers import tier

__all__ = ["Queues", "queue_job"]


def queue_job(
    caller: AuthContext,
    source: files_table.FileRecord,
    plan: Plan,
    options: dict[str, object],
    *,
    queue_url: str,
    mode: str,
    webhook_url: str | None,
    now: datetime,
    reservation: limits.Reservation | None = None,
) -> conversions_table.ConversionRecord:
    """Reserve the plan's units (unless a sync request hands its `reservation` on), then record and queue the
    conversion (create_and_hand_on); its secret options (passwords) are sealed in the record, their key is in
    the message only."""
    if reservation is None:
        reservation = limits.reserve_conversion(
            caller.account_id, tier(caller.tier), test_mode=caller.test_mode, now=now
        )
    record = new_record(
        caller,
        reservation,
        now,
        mode=mode,
        status="queued",
        source_file_id=source.file_id,
        target=plan.target,
        options=options,
        webhook_url=webhook_url,
        units=plan.units,
    )
    return create_and_hand_on(
        record,
        reservation,
        options,
        lambda key: queues.send(queue_url, job_message(record.conversion_id, key)),
        failure="The conversion could not be queued.",
        now=now,
    )


def create_and_hand_on(
    record: conversions_table.ConversionRecord,
    reservation: limits.Reservation,
    options: dict[str, object],
    hand_on: Callable[[str | None], None],
    *,
    failure: str,
    now: datetime,
) -> conversions_table.ConversionRecord:
    """Write a new conversion's record, its secret options sealed in it, then hand it on (to its worker's
    queue, or to the import it waits for) with the key to them, which only that message carries. A record
    that cannot be written gives its reservation back; one that cannot be handed on ends failed (``failure``),
    its charge given back in the same write. The error propagates either way, and nothing is refunded twice."""
    record.options_sealed, key = seal_secret_options(record.conversion_id, options)
    try:
        conversions_table.create(record)
    except BaseException:
        limits.release_conversion(reservation)
        raise
    try:
        hand_on(key)
    except BaseException:
        fail(record, "internal_error", failure, now)
        raise
    return record
