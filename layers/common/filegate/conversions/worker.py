"""The queue workers (one for each engine's queue, the same code): one SQS message names one conversion.

``run_queued`` is a queued conversion's whole life, whatever the engine: started once; the input fetched,
probed and planned by its engine (``engine_for``), refused (413/422) or its reservation topped up to the
planned units (docs/api.md §3); run; the output stored with its metadata; succeeded or failed (every unit given
back, in one transaction); announced. Partial batch failures (Powertools' batch processor): a message whose
conversion crashed is retried; after the queue's maxReceiveCount it reaches the dead-letter queue, whose
handler marks the conversion failed so nothing is ever left in ``processing``.
"""

from __future__ import annotations

import json
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime
from pathlib import Path
from typing import Any

from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from pynamodb.exceptions import PynamoDBException

from filegate import errors
from filegate.clock import utcnow
from filegate.conversions import long_media, merges
from filegate.conversions.records import (
    SECRET_OPTIONS,
    announce,
    conversion_json,
    fail,
    requested_with_secrets,
    reservation_of,
    source_format,
)
from filegate.db import conversions as conversions_table
from filegate.db import files as files_table
from filegate.engines import Segmented, Source, Workspace, engine_for, engine_name_for
from filegate.files import service as files_service
from filegate.files.storage import Bucket
from filegate.formats.table import kind
from filegate.metering import limits
from filegate.observability import conversion_finished, instrument, logger
from filegate.settings import WebhookEmitter
from filegate.tiers import tier
from filegate.webhooks import emitting as webhook_events

LambdaHandler = Callable[[dict[str, Any], Any], Any]
# At most one progress write per running job this often: ~400 writes for a 15-minute run.
PROGRESS_WRITE_SECONDS = 2.0


def run_queued(
    conversion_id: str,
    bucket: Bucket,
    workspace: Workspace,
    webhooks: WebhookEmitter,
    now: datetime,
    *,
    pieces_queue_url: str = "",
    options_key: str | None = None,
) -> conversions_table.ConversionRecord | None:
    """Do one queued conversion (`options_key`: its message's key to its sealed options). Domain failures end
    the job failed; anything unexpected propagates so the message is retried and, in the end, dead-lettered.
    A plan cut into pieces (long media) is fanned out on `pieces_queue_url` and finished by the piece that
    completes it (long_media)."""
    record = conversions_table.get(conversion_id)
    if record is None or record.status in conversions_table.TERMINAL:
        if record is not None:  # a redelivery of a finished job: only its event may still be owed (idempotent)
            webhook_events.announce_conversion(webhooks, record, conversion_json(record), now)
        return record
    if not conversions_table.start(record, now):
        return conversions_table.get(conversion_id)
    source = files_table.get_owned(record.account_id, record.source_file_id or "", now)
    if source is None:
        fail(record, "not_found", "The source file no longer exists.", now)
        return announce(conversion_id, webhooks, now)
    try:
        with tempfile.TemporaryDirectory(prefix="conversion-", dir=workspace.workdir) as scratch:
            running = replace(workspace, workdir=Path(scratch), progress=ProgressWriter(conversion_id))
            stored = _convert(record, source, bucket, running, now, pieces_queue_url, options_key)
    except errors.ApiError as exc:
        fail(record, exc.code, exc.message, now)
        return announce(conversion_id, webhooks, now)
    if stored is None:  # fanned out: the pieces finish it
        return conversions_table.get(conversion_id)
    if conversions_table.succeed(record, stored.file_id, now):  # once, whatever the redeliveries
        conversion_finished(kind(record.target), succeeded=True)
    return announce(conversion_id, webhooks, now)


class ProgressWriter:
    """A running job's progress (docs/api.md: a percent that only grows, 100 on success) written to its record,
    throttled; the write itself never lowers it (conversions_table.advance)."""

    def __init__(self, conversion_id: str) -> None:
        self.conversion_id, self.interval = conversion_id, PROGRESS_WRITE_SECONDS
        self.written, self.at = 0, -PROGRESS_WRITE_SECONDS

    def __call__(self, fraction: float) -> None:
        percent = min(99, int(fraction * 100))  # 100 is the success's own write
        now = time.monotonic()
        if percent <= self.written or now - self.at < self.interval:
            return
        self.at = now
        try:
            conversions_table.advance(self.conversion_id, percent)
        except PynamoDBException:  # progress is a courtesy: a throttled write never fails the conversion
            logger.warning("progress not recorded", extra={"conversion_id": self.conversion_id})
            return
        self.written = percent


def _convert(
    record: conversions_table.ConversionRecord,
    source_file: files_table.FileRecord,
    bucket: Bucket,
    workspace: Workspace,
    now: datetime,
    pieces_queue_url: str = "",
    options_key: str | None = None,
) -> files_table.FileRecord | None:
    """The stored output, or None when the conversion was fanned out in pieces."""
    target, raw_options = requested_with_secrets(record, options_key)
    if merges.is_merge(record):
        secrets = {name: value for name, value in raw_options.items() if name in SECRET_OPTIONS}
        return merges.run_merge_job(record, bucket, workspace, now, secrets, _charge_units)
    fmt = source_format(source_file, raw_options)
    engine = engine_for(fmt, target)
    plan_tier = tier(record.tier)
    options = engine.parse_options(raw_options, source=fmt, target=target, field="options.")
    if engine.reads_memory:
        source = Source(fmt, data=bucket.read(source_file.object_key))
        probe = engine.probe(source, plan_tier, workspace)
    else:  # probed in ranges (the input may be larger than the disk), then streamed to disk if run here
        server, head = long_media.source_of(bucket, source_file.object_key)
        with server as url:
            source = Source(fmt, url=url, head=head)
            probe = engine.probe(source, plan_tier, workspace)
    # A file whose metadata the files function could not read (too large to copy there, or a reader it does
    # not carry) gets it from the engine that describes its format, when that is this one.
    if source_file.metadata is None and engine.name == engine_name_for(fmt, None):
        files_table.set_metadata(source_file, engine.metadata(source, workspace, probe))
    plan = engine.plan(fmt, target, options, plan_tier, probe)
    cut = None
    if pieces_queue_url and workspace.segmenting is not None and isinstance(engine, Segmented):
        cut = engine.segment(probe, plan, options, plan_tier, workspace.segmenting)
    _charge_units(record, plan.units)
    if cut is not None:
        long_media.fan_out(record, source_file, plan, cut, bucket, pieces_queue_url)
        return None
    if source.data is None:
        path = workspace.workdir / "input"
        bucket.download(source_file.object_key, path)
        source = Source(fmt, path=path)
    output = engine.run(source, plan, options, plan_tier, workspace, seconds=None)
    _record_counted_pages(source_file, raw_options, output.format, output.metadata)
    return files_service.store_output(
        record.account_id,
        record.tier,
        bucket,
        data=output.data,
        path=output.path,
        fmt=output.format,
        filename=files_service.output_filename(source_file.filename, output.format),
        now=now,
        metadata=output.metadata,
    )


def _record_counted_pages(
    source_file: files_table.FileRecord,
    raw_options: dict[str, Any],
    output_format: str,
    output_metadata: dict[str, Any] | None,
) -> None:
    """An office file has `pages` in its metadata once a conversion has counted them (docs/api.md "Files"): a
    PDF of the whole document (no `pages` chosen) has exactly the document's pages."""
    known = source_file.metadata
    counted = (output_metadata or {}).get("pages")
    if (
        known is None
        or known.get("kind") != "document"
        or "pages" in known
        or output_format != "pdf"
        or counted is None
        or "pages" in raw_options
    ):
        return
    try:
        files_table.set_metadata(source_file, {**known, "pages": counted})
    except PynamoDBException:  # the input deleted meanwhile, or a throttled write: never fails the conversion
        logger.warning("page count not recorded", extra={"file_id": source_file.file_id})


def _charge_units(record: conversions_table.ConversionRecord, units: int) -> None:
    """Top the reservation up to `units` (docs/api.md §3), or QuotaExceeded on a hard-quota tier."""
    extra = units - int(record.units or 1)
    if extra <= 0:
        return
    plan = tier(record.tier)
    counters = limits.charged_counters(reservation_of(record))
    month = counters[0] if counters else None
    limit = plan.conversions_per_month if plan.hard_quota else None
    if not conversions_table.add_units(record, extra, counters=counters, limited=month, limit=limit):
        raise errors.QuotaExceeded(f"This conversion needs {units} units, more than the month's quota has left.")


def abandon(
    conversion_id: str, webhooks: WebhookEmitter, now: datetime, bucket: Bucket | None = None
) -> conversions_table.ConversionRecord | None:
    """A job whose message (or one of whose pieces' messages) was dead-lettered (it crashed on every
    attempt): failed, never stuck, and its pieces deleted."""
    record = conversions_table.get(conversion_id)
    if record is None or record.status in conversions_table.TERMINAL:
        return record
    fail(record, "conversion_failed", "The conversion failed repeatedly and was abandoned.", now)
    if bucket is not None and record.pieces_total:
        long_media.clean_up(record, bucket)
    return announce(conversion_id, webhooks, now)


# ------------------------------------------------------------------ the Lambda handlers


@dataclass(frozen=True)
class Handlers:
    handler: LambdaHandler  # the engine's queue
    dead_letter_handler: LambdaHandler  # its dead-letter queue


def _conversion_id(record: SQSRecord) -> str:
    return str(json.loads(record.body)["conversion_id"])


def handlers(
    bucket: Bucket, workspace: Workspace, webhooks: WebhookEmitter, *, label: str, pieces_queue_url: str = ""
) -> Handlers:
    """The Lambda handlers of a worker; `label` names it in the logs ("conversion", "media conversion").
    With `pieces_queue_url` (its own queue), long media is fanned out there in pieces."""
    processor = BatchProcessor(event_type=EventType.SQS)

    def run(record: SQSRecord) -> None:
        conversion_id = _conversion_id(record)
        body = json.loads(record.body)
        piece = body.get("piece")
        if piece is not None:
            result = long_media.run_piece(conversion_id, str(piece), bucket, workspace, webhooks, utcnow())
        else:
            result = run_queued(
                conversion_id, bucket, workspace, webhooks, utcnow(), pieces_queue_url=pieces_queue_url,
                options_key=body.get("key"),
            )  # fmt: skip
        status = result.status if result is not None else None
        logger.info(f"{label} processed", extra={"conversion_id": conversion_id, "piece": piece, "status": status})

    def dead_letter(record: SQSRecord) -> None:
        conversion_id = _conversion_id(record)
        abandon(conversion_id, webhooks, utcnow(), bucket)
        logger.warning(f"{label} dead-lettered", extra={"conversion_id": conversion_id})

    def process(event: dict[str, Any], context: Any) -> Any:  # {"batchItemFailures": [...]}
        return process_partial_response(event=event, record_handler=run, processor=processor, context=context)

    def process_dead_letters(event: dict[str, Any], context: Any) -> Any:
        return process_partial_response(event=event, record_handler=dead_letter, processor=processor, context=context)

    return Handlers(
        handler=instrument(process, correlation_path="Records[0].messageId"),
        dead_letter_handler=instrument(process_dead_letters, correlation_path="Records[0].messageId"),
    )
