"""Conversions (API.md §5 "Conversion"): sync convert/compress, async jobs, and the worker's side.

Metering: a conversion is reserved against the monthly quota before it runs (so concurrency can never
pass the limit) and given back if it fails; fg_test_ keys are never charged.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from filegate import errors, queues
from filegate.clock import iso
from filegate.conversions import media_jobs
from filegate.db import conversions as conversions_table
from filegate.db import files as files_table
from filegate.files import service as files_service
from filegate.files.storage import Bucket
from filegate.formats import table as formats
from filegate.formats.options import ConversionOptions, EngineLimits
from filegate.keys.context import AuthContext
from filegate.listing import page_json
from filegate.metering import limits
from filegate.observability import conversion_finished
from filegate.settings import WebhookEmitter, WebhookPolicy
from filegate.tiers import SYNC_ANSWER_RESERVE_SECONDS, SYNC_BUDGET_SECONDS, SYNC_MAX_BYTES, tier
from filegate.webhooks import service as webhook_service

if TYPE_CHECKING:
    from filegate.engines.image import engine

RECORD_LIFETIME = timedelta(days=90)
MAX_BULK_ITEMS = 100
MAX_WEBHOOK_URL_LENGTH = 2048


def new_conversion_id() -> str:
    return "conv_" + secrets.token_hex(12)


def conversion_json(record: conversions_table.ConversionRecord) -> dict[str, Any]:
    error = None
    if record.error_code:
        error = {"code": record.error_code, "message": record.error_message}
    return {
        "id": record.conversion_id,
        "status": record.status,
        "mode": record.mode,
        "source_file_id": record.source_file_id,
        "target": record.target,
        "options": record.options or {},
        "output_file_id": record.output_file_id,
        "error": error,
        "created_at": iso(record.created_at),
        "completed_at": iso(record.completed_at),
    }


def _reservation(record: conversions_table.ConversionRecord) -> limits.Reservation:
    return limits.Reservation(
        account_id=record.account_id,
        month=record.charge_month or "",
        day=record.charge_day or "",
        charged=bool(record.charged),
        shard=int(record.charge_shard or 0),
    )


def _announce(conversion_id: str, webhooks: WebhookEmitter, now: datetime) -> conversions_table.ConversionRecord | None:
    """The finished conversion, its webhook event emitted (idempotent: a redelivery never sends it twice)."""
    record = conversions_table.get(conversion_id)
    if record is not None:
        webhook_service.announce_conversion(webhooks, record, conversion_json(record), now)
    return record


def _new_record(
    caller: AuthContext, reservation: limits.Reservation, now: datetime, **fields: Any
) -> conversions_table.ConversionRecord:
    """A conversion record of the caller, carrying its quota reservation so a failure can give it back."""
    return conversions_table.ConversionRecord(
        new_conversion_id(),
        account_id=caller.account_id,
        key_id=caller.key_id,
        tier=caller.tier,
        test_mode=caller.test_mode,
        charged=reservation.charged,
        charge_month=reservation.month,
        charge_day=reservation.day,
        charge_shard=reservation.shard,
        created_at=now,
        expires_at=now + RECORD_LIFETIME,
        **fields,
    )


def _fail(record: conversions_table.ConversionRecord, code: str, message: str, now: datetime) -> bool:
    """Mark failed and give the quota back, atomically; False when the job had already finished."""
    refund = limits.charged_counters(_reservation(record))
    failed = conversions_table.fail(record, code, message, now, refund=refund, units=int(record.units or 1))
    if failed:
        conversion_finished(formats.kind(record.target), succeeded=False)
    return failed


# ------------------------------------------------------------------ sync


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


def check_sync_input(caller: AuthContext, size: int) -> None:
    cap = files_service.max_input_bytes(caller)
    if size > cap:
        raise errors.FileTooLarge(f"The file ({size} bytes) is over your plan's limit of {cap} bytes.")
    if size > SYNC_MAX_BYTES:
        raise errors.FileTooLarge(
            f"The file ({size} bytes) is over the {SYNC_MAX_BYTES}-byte limit of synchronous conversion; "
            "upload it with POST /v1/files and convert it with POST /v1/conversions."
        )
    if size == 0:
        raise errors.ConversionFailed("The file is empty.")


@dataclass(frozen=True)
class ContinuedAsJob:
    """The sync budget ran out: answer 202 with `conversion` (as GET /v1/conversions/{id}) and `location`."""

    conversion: dict[str, Any]

    @property
    def location(self) -> str:
        return f"/v1/conversions/{self.conversion['id']}"


# Marks a queued job that compresses (its target is then the source's own format).
COMPRESS_OPTION = "compress"


def convert_sync(
    caller: AuthContext,
    bucket: Bucket,
    webhooks: WebhookEmitter,
    *,
    data: bytes,
    filename: str | None,
    target: str | None,
    options: ConversionOptions,
    quality: int | None,
    now: datetime,
    queue_url: str | None = None,
    budget_seconds: float = SYNC_BUDGET_SECONDS,
) -> SyncOutcome | ContinuedAsJob:
    """Convert (target given) or compress (target None) in the request; over the limit → stored + URL.

    With a `queue_url`, work that will not finish within `budget_seconds` (estimated from the header, or
    overrunning) continues as a queued job instead (ContinuedAsJob)."""
    from filegate.engines.image import (
        budget,
        engine,  # the imaging libraries load only where conversions run
    )

    started = time.monotonic()
    check_sync_input(caller, len(data))
    engine_limits = EngineLimits.for_tier(tier(caller.tier))
    reservation = limits.reserve_conversion(caller.account_id, tier(caller.tier), test_mode=caller.test_mode, now=now)

    def work() -> engine.ConversionResult:
        if target is None:
            return engine.compress(data, quality, engine_limits)
        return engine.convert(data, target, options, engine_limits)

    over_budget_source: str | None = None
    try:
        if queue_url is None:
            result = work()
        else:
            source, width, height = engine.probe(data, engine_limits)
            seconds = budget_seconds - SYNC_ANSWER_RESERVE_SECONDS - (time.monotonic() - started)
            try:
                if budget.estimated_seconds(source, width * height, target) > seconds:
                    raise budget.OverBudget
                result = budget.run_within(work, seconds)
            except budget.OverBudget:
                over_budget_source = source
    except BaseException:
        limits.release_conversion(reservation)
        conversion_finished(formats.kind(target), succeeded=False)
        raise
    if over_budget_source is not None and queue_url is not None:
        # From here the job owns the reservation: it gives it back itself if it cannot be queued.
        conversion = continue_as_job(
            caller, bucket, reservation,
            data=data, source=over_budget_source, filename=filename, target=target, options=options,
            quality=quality, queue_url=queue_url, now=now,
        )  # fmt: skip
        return ContinuedAsJob(conversion)
    try:
        return _record_sync_success(
            caller, bucket, webhooks, reservation, result, filename, target, options, quality, now
        )
    except BaseException:
        # The engine succeeded but the output could not be stored or recorded: a failed conversion is never
        # charged (API.md §3), and it was never counted as a success.
        limits.release_conversion(reservation)
        conversion_finished(formats.kind(result.format), succeeded=False)
        raise


def _record_sync_success(
    caller: AuthContext,
    bucket: Bucket,
    webhooks: WebhookEmitter,
    reservation: limits.Reservation,
    result: engine.ConversionResult,
    filename: str | None,
    target: str | None,
    options: ConversionOptions,
    quality: int | None,
    now: datetime,
) -> SyncOutcome:
    """The output answered in the body (or stored, when over the sync limit), then its record; the success
    is counted once the record exists."""
    out_name = files_service.output_filename(filename, result.format)
    record = _new_record(
        caller,
        reservation,
        now,
        mode="sync",
        status="succeeded",
        target=result.format,
        options=options.to_json() if target is not None else {"quality": quality},
        completed_at=now,
    )
    url = None
    if len(result.data) > SYNC_MAX_BYTES:
        stored = files_service.store_output(
            caller.account_id, caller.tier, bucket, data=result.data, fmt=result.format, filename=out_name, now=now
        )
        record.output_file_id = stored.file_id
        url = bucket.download_url(stored.object_key, out_name, result.content_type)
    conversions_table.create(record)
    conversion_finished(formats.kind(result.format), succeeded=True)
    webhook_service.announce_conversion(webhooks, record, conversion_json(record), now, best_effort=True)
    if url is not None:
        return SyncOutcome(record.conversion_id, out_name, result.content_type, None, url)
    return SyncOutcome(record.conversion_id, out_name, result.content_type, result.data, None)


def continue_as_job(
    caller: AuthContext,
    bucket: Bucket,
    reservation: limits.Reservation,
    *,
    data: bytes,
    source: str,
    filename: str | None,
    target: str | None,
    options: ConversionOptions,
    quality: int | None,
    queue_url: str,
    now: datetime,
) -> dict[str, Any]:
    """A sync request that will not finish in time goes on as a job: the input is kept as a file of the
    account, the conversion is queued under the quota `reservation` already taken (never charged twice),
    and its JSON (status queued) is returned for the 202. `target` None compresses. Media reuses this."""
    try:
        stored = files_service.store_output(
            caller.account_id,
            caller.tier,
            bucket,
            data=data,
            fmt=source,
            filename=files_service.safe_filename(filename, f"upload.{formats.extension(source)}"),
            now=now,
            origin="upload",
        )
    except BaseException:
        limits.release_conversion(reservation)
        raise
    record = _new_record(
        caller,
        reservation,
        now,
        mode="async",
        status="queued",
        source_file_id=stored.file_id,
        target=target or source,
        options={COMPRESS_OPTION: True, "quality": quality} if target is None else options.to_json(),
    )
    create_and_queue(record, reservation, queue_url, now)
    return conversion_json(record)


def create_and_queue(
    record: conversions_table.ConversionRecord, reservation: limits.Reservation, queue_url: str, now: datetime
) -> None:
    """The conversion's record, then its queue message. A record that cannot be written gives its quota
    reservation back; one that cannot be queued ends failed, its charge given back in the same write. The
    error propagates either way, and nothing is refunded twice."""
    try:
        conversions_table.create(record)
    except BaseException:
        limits.release_conversion(reservation)
        raise
    try:
        queues.send(queue_url, {"conversion_id": record.conversion_id})
    except BaseException:
        _fail(record, "internal_error", "The conversion could not be queued.", now)
        raise


# ------------------------------------------------------------------ async


@dataclass(frozen=True)
class JobRequest:
    file_id: str
    target: str
    options: ConversionOptions
    webhook_url: str | None
    raw_options: Any = None  # as sent: a media source's options are parsed once its format is known
    options_field: str = "options."  # how errors name the options ("items[2].options." in a bulk request)


def job_request(file_id: str, target: str, options: object, webhook_url: str | None, *, prefix: str = "") -> JobRequest:
    """One job from its validated fields; the options by their own rules (422 naming the option). A media
    source's options are parsed once its format is known (the file's record), so they are kept as sent."""
    field = f"{prefix}options."
    parsed = ConversionOptions()
    if not media_jobs.names_media_options(options):
        parsed = ConversionOptions.from_json(options, prefix=field)
    return JobRequest(file_id, target, parsed, webhook_url, options, field)


def create_job(
    caller: AuthContext,
    job: JobRequest,
    *,
    queue_url: str,
    webhooks: WebhookPolicy,
    now: datetime,
    media_queue_url: str = "",
) -> dict[str, Any]:
    webhook_service.check_conversion_webhook_url(caller, webhooks, job.webhook_url)
    source = files_service.ready_file(caller, job.file_id, now)
    cap = files_service.max_input_bytes(caller)
    if source.size is not None and int(source.size) > cap:
        raise errors.FileTooLarge(f"The file ({int(source.size)} bytes) is over your plan's limit of {cap} bytes.")
    if media_queue_url and media_jobs.wants_media(source.format, job.target):
        return media_jobs.create_media_job_json(
            caller, source, job.target, job.raw_options, webhook_url=job.webhook_url, queue_url=media_queue_url,
            now=now, options_field=job.options_field,
        )  # fmt: skip
    if media_jobs.names_media_options(job.raw_options):  # refused by name, like any unknown option
        ConversionOptions.from_json(job.raw_options, prefix=job.options_field)
    target = formats.resolve_target(source.format or "", job.target)
    reservation = limits.reserve_conversion(caller.account_id, tier(caller.tier), test_mode=caller.test_mode, now=now)
    record = _new_record(
        caller,
        reservation,
        now,
        mode="async",
        status="queued",
        source_file_id=source.file_id,
        target=target,
        options=job.options.to_json(),
        webhook_url=job.webhook_url,
    )
    create_and_queue(record, reservation, queue_url, now)
    return conversion_json(record)


def create_jobs(
    caller: AuthContext,
    requests: list[JobRequest],
    *,
    queue_url: str,
    webhooks: WebhookPolicy,
    now: datetime,
    media_queue_url: str = "",
) -> dict[str, Any]:
    """POST /v1/conversions/bulk: every job created, in order (checked one by one, like single jobs)."""
    return {
        "data": [
            create_job(caller, job, queue_url=queue_url, webhooks=webhooks, now=now, media_queue_url=media_queue_url)
            for job in requests
        ]
    }


def get_conversion(caller: AuthContext, conversion_id: str) -> dict[str, Any]:
    record = conversions_table.get_owned(caller.account_id, conversion_id)
    if record is None:
        raise errors.NotFound("No such conversion.")
    return conversion_json(record)


def list_conversions(caller: AuthContext, *, limit: int, cursor: str | None) -> dict[str, Any]:
    return page_json(
        lambda: conversions_table.list_for_account(caller.account_id, limit=limit, cursor=cursor), conversion_json
    )


# ------------------------------------------------------------------ worker


# Does one queued conversion and returns the output file it stored; raises a domain error (ApiError) when the
# conversion fails for the input's sake.
Work = Callable[[conversions_table.ConversionRecord, files_table.FileRecord], files_table.FileRecord]


def run_queued(
    conversion_id: str, webhooks: WebhookEmitter, now: datetime, work: Work
) -> conversions_table.ConversionRecord | None:
    """One queued conversion's life, for the image and the media worker alike: started once, `work` done,
    succeeded or failed (units given back), announced. Domain failures end the job failed; anything
    unexpected propagates so the message is retried and, in the end, dead-lettered."""
    record = conversions_table.get(conversion_id)
    if record is None or record.status in conversions_table.TERMINAL:
        if record is not None:  # a redelivery of a finished job: only its event may still be owed (idempotent)
            webhook_service.announce_conversion(webhooks, record, conversion_json(record), now)
        return record
    if not conversions_table.start(record, now):
        return conversions_table.get(conversion_id)
    source = files_table.get_owned(record.account_id, record.source_file_id or "", now)
    if source is None:
        _fail(record, "not_found", "The source file no longer exists.", now)
        return _announce(conversion_id, webhooks, now)
    try:
        stored = work(record, source)
    except errors.ApiError as exc:
        _fail(record, exc.code, exc.message, now)
        return _announce(conversion_id, webhooks, now)
    if conversions_table.succeed(record, stored.file_id, now):  # once, whatever the redeliveries
        conversion_finished(formats.kind(record.target), succeeded=True)
    return _announce(conversion_id, webhooks, now)


def run_job(
    conversion_id: str, bucket: Bucket, webhooks: WebhookEmitter, now: datetime
) -> conversions_table.ConversionRecord | None:
    """Do one queued image or PDF conversion (see run_queued)."""
    from filegate.engines.image import engine

    def work(record: conversions_table.ConversionRecord, source: files_table.FileRecord) -> files_table.FileRecord:
        data = bucket.read(source.object_key)
        engine_limits = EngineLimits.for_tier(tier(record.tier))
        options = dict(record.options or {})
        if options.pop(COMPRESS_OPTION, False):  # a compress that continued as a job
            result = engine.compress(data, options.get("quality"), engine_limits)
        else:
            result = engine.convert(data, record.target, ConversionOptions.from_json(options), engine_limits)
        if source.metadata is None:  # a format whose reader the files function does not carry (camera RAW)
            from filegate.files.metadata import image_metadata

            files_table.set_metadata(source, image_metadata(data, source.format or ""))
        return files_service.store_output(
            record.account_id,
            record.tier,
            bucket,
            data=result.data,
            fmt=result.format,
            filename=files_service.output_filename(source.filename, result.format),
            now=now,
        )

    return run_queued(conversion_id, webhooks, now, work)


def abandon_job(
    conversion_id: str, webhooks: WebhookEmitter, now: datetime
) -> conversions_table.ConversionRecord | None:
    """A job whose message was dead-lettered (it crashed on every attempt): failed, never stuck."""
    record = conversions_table.get(conversion_id)
    if record is None or record.status in conversions_table.TERMINAL:
        return record
    _fail(record, "conversion_failed", "The conversion failed repeatedly and was abandoned.", now)
    return _announce(conversion_id, webhooks, now)
