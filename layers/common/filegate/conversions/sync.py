"""Sync conversions (docs/api.md "Conversion"): `/v1/convert` and `/v1/compress` answer within the sync budget.

One path for every engine: the engine's plan says whether the work runs here now (it fits the budget left)
or goes to the engine's worker. Work that runs here and overruns, or whose estimate does not fit, goes on as a
job at once (202 with the conversion). Work only a worker can do (audio and video: this function carries no
FFmpeg) is queued and waited for until the budget ends: 200 (bytes) or 303 (a URL) when it finished, the
job's own error when it failed, 202 when it is still running. A failed conversion is never charged.
"""

from __future__ import annotations

import tempfile
import time
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from filegate import errors
from filegate.clock import utcnow
from filegate.context import AuthContext
from filegate.conversions.queueing import queue_job
from filegate.conversions.records import conversion_json, job_options, new_record
from filegate.conversions.routing import Queues
from filegate.db import conversions as conversions_table
from filegate.db import files as files_table
from filegate.engines import Output, OverBudget, Plan, Source, Workspace, engine_for
from filegate.files import service as files_service
from filegate.files.storage import Bucket
from filegate.formats.sniff import sniff
from filegate.formats.table import content_type, kind
from filegate.metering import limits
from filegate.observability import conversion_finished
from filegate.settings import WebhookEmitter
from filegate.tiers import SYNC_ANSWER_RESERVE_SECONDS, SYNC_BUDGET_SECONDS, SYNC_MAX_BYTES, tier
from filegate.webhooks import emitting as webhook_events

POLL_INTERVAL_SECONDS = 0.2
# A failed job's code, raised again as the sync answer.
_ERRORS: dict[str, type[errors.ApiError]] = {
    cls.code: cls
    for cls in (
        errors.FileTooLarge,
        errors.InvalidParameter,
        errors.UnsupportedConversion,
        errors.ConversionFailed,
        errors.QuotaExceeded,
        errors.NotFound,
    )
}


@dataclass(frozen=True)
class SyncOutcome:
    conversion_id: str
    filename: str
    content_type: str
    data: bytes | None  # the bytes, when they fit the sync limit
    download_url: str | None  # otherwise a short-lived URL to the stored output (303)

    def stored_json(self) -> dict[str, Any]:
        """The body of the 303 that points at a stored output."""
        return {"id": self.conversion_id, "status": "succeeded", "url": self.download_url}


@dataclass(frozen=True)
class ContinuedAsJob:
    """The sync budget ran out: answer 202 with `conversion` (as GET /v1/conversions/{id}) and `location`."""

    conversion: dict[str, Any]

    @property
    def location(self) -> str:
        return f"/v1/conversions/{self.conversion['id']}"


def check_sync_input(caller: AuthContext, size: int) -> None:
    files_service.check_input_size(caller, size, described=f"The file ({size} bytes)")
    if size > SYNC_MAX_BYTES:
        raise errors.FileTooLarge(
            f"The file ({size} bytes) is over the {SYNC_MAX_BYTES}-byte limit of synchronous conversion; "
            "upload it with POST /v1/files and convert it with POST /v1/conversions."
        )


def convert_sync(
    caller: AuthContext,
    bucket: Bucket,
    webhooks: WebhookEmitter,
    *,
    data: bytes,
    filename: str | None,
    target: str | None,
    fields: dict[str, str],
    queues: Queues,
    now: datetime,
    budget_seconds: float = SYNC_BUDGET_SECONDS,
    started: float | None = None,
) -> SyncOutcome | ContinuedAsJob:
    """Convert `data` to `target` (None: compress it) with the options in the form's `fields`, answering
    within `budget_seconds` of `started` (time.monotonic(), the request's start; default now)."""
    started = time.monotonic() if started is None else started
    check_sync_input(caller, len(data))
    fmt = sniff(data, filename, fields.get("source_format"))  # a text format by its name or source_format
    engine = engine_for(fmt, target)
    options = engine.parse_options(fields, source=fmt, target=target, form=True)
    plan_tier = tier(caller.tier)
    source = Source(fmt, data=data)
    reservation = limits.reserve_conversion(caller.account_id, plan_tier, test_mode=caller.test_mode, now=now)
    output: Output | None = None
    try:
        probe = engine.probe(source, plan_tier, None)  # None: no FFmpeg here, the engine's worker probes
        plan = engine.plan(fmt, target, options, plan_tier, probe)
        seconds = budget_seconds - SYNC_ANSWER_RESERVE_SECONDS - (time.monotonic() - started)
        if plan.fits(seconds):
            workspace = Workspace(Path(tempfile.gettempdir()))
            try:
                output = engine.run(source, plan, options, plan_tier, workspace, seconds=seconds)
            except OverBudget:
                output = None
    except BaseException:
        limits.release_conversion(reservation)
        conversion_finished(kind(target or fmt), succeeded=False)
        raise
    if output is not None:
        try:
            return record_success(
                caller, bucket, webhooks, reservation, output, options.to_json(), now,
                source=SyncSource(filename, fmt, len(data)),
            )  # fmt: skip
        except BaseException:
            # The engine succeeded but the output could not be stored or recorded: a failed conversion is never
            # charged (docs/api.md §3), and it was never counted as a success.
            limits.release_conversion(reservation)
            conversion_finished(kind(output.format), succeeded=False)
            raise
    # From here the job owns the reservation: it gives it back itself if it cannot be queued.
    try:
        kept = files_service.keep_input(caller, bucket, data=data, fmt=fmt, filename=filename, now=now)
    except BaseException:
        limits.release_conversion(reservation)
        raise
    waits = not plan.in_request  # work that overran here would overrun in the worker too: answer at once
    record = queue_job(
        caller, kept, plan, job_options(target, options.to_json()), queue_url=queues[engine.name],
        mode="sync" if waits else "async", webhook_url=None, now=now, reservation=reservation,
    )  # fmt: skip
    if not waits:
        return ContinuedAsJob(conversion_json(record))
    return _await(
        caller, bucket, record, plan, deadline=started + budget_seconds - SYNC_ANSWER_RESERVE_SECONDS, now=now
    )


@dataclass(frozen=True)
class SyncSource:
    """What a sync conversion was given, kept on its record: it has no input file to describe it later."""

    filename: str | None
    format: str
    size: int


def record_success(
    caller: AuthContext,
    bucket: Bucket,
    webhooks: WebhookEmitter,
    reservation: limits.Reservation,
    output: Output,
    options: dict[str, object],
    now: datetime,
    *,
    source: SyncSource,
    units: int = 1,
) -> SyncOutcome:
    """The output answered in the body (or stored, when over the sync limit), then its record; the success
    is counted once the record exists."""
    out_name = files_service.output_filename(source.filename, output.format)
    record = new_record(
        caller, reservation, now, mode="sync", status="succeeded", target=output.format, options=options,
        completed_at=utcnow(), source_name=source.filename, source_format=source.format, source_bytes=source.size,
        output_bytes=output.size, units=units,
    )  # fmt: skip
    url = None
    if output.size > SYNC_MAX_BYTES:
        stored = files_service.store_output(
            caller.account_id, caller.tier, bucket, data=output.data, path=output.path, fmt=output.format,
            filename=out_name, now=now,
        )  # fmt: skip
        record.output_file_id = stored.file_id
        url = bucket.download_url(stored.object_key, out_name, output.content_type)
    conversions_table.create(record)
    conversion_finished(kind(output.format), succeeded=True)
    webhook_events.announce_conversion(webhooks, record, conversion_json(record), now, best_effort=True)
    if url is not None:
        return SyncOutcome(record.conversion_id, out_name, output.content_type, None, url)
    return SyncOutcome(record.conversion_id, out_name, output.content_type, output.data, None)


def _await(
    caller: AuthContext,
    bucket: Bucket,
    record: conversions_table.ConversionRecord,
    plan: Plan,
    *,
    deadline: float,
    now: datetime,
) -> SyncOutcome | ContinuedAsJob:
    """A queued sync conversion's answer once its worker finished it, or 202 when `deadline` passes first."""
    finished = _wait(record.conversion_id, deadline)
    if finished is None:
        current = conversions_table.get(record.conversion_id) or record
        return ContinuedAsJob(conversion_json(current))
    if finished.status == "failed":
        error = _ERRORS.get(finished.error_code or "", errors.ConversionFailed)
        raise error(finished.error_message)
    output = files_table.get_owned(caller.account_id, finished.output_file_id or "", now)
    if output is None:
        raise errors.ConversionFailed("The converted file is gone.")
    out_name = output.filename
    media_type = output.content_type or content_type(plan.target)
    if int(output.size or 0) <= SYNC_MAX_BYTES:
        return SyncOutcome(finished.conversion_id, out_name, media_type, bucket.read(output.object_key), None)
    url = bucket.download_url(output.object_key, out_name, media_type)
    return SyncOutcome(finished.conversion_id, out_name, media_type, None, url)


def _wait(conversion_id: str, deadline: float) -> conversions_table.ConversionRecord | None:
    """The conversion once it is finished, or None when the deadline passes first."""
    while True:
        record = conversions_table.get(conversion_id)
        if record is not None and record.status in conversions_table.TERMINAL:
            return record
        if time.monotonic() + POLL_INTERVAL_SECONDS > deadline:
            return None
        time.sleep(POLL_INTERVAL_SECONDS)
