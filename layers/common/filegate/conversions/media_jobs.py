"""Media conversions as jobs (API.md "Media"): queued to the media worker, sync requests waiting for it.

- ``create_media_job``: a conversion record (one unit reserved, so an exhausted quota is a 429 at once) and a
  message on the media queue. ``POST /v1/conversions`` and the sync path both use it.
- ``convert_media_sync``: `/v1/convert` with media keeps the input as a file, queues the job and waits for
  it within the sync budget: 200 (bytes) or 303 (a URL) when it finished, the job's own error when it
  failed, 202 with the conversion when it is still running.
- ``run_media_job`` (the media worker): download, probe, refuse (413/422) or top the reservation up to the
  probed units (API.md §3), transcode in the sandbox, store the output with its metadata. Every failure
  ends the job failed with all its units given back, in one transaction.
"""

from __future__ import annotations

import tempfile
import time
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from filegate import errors
from filegate.conversions import jobs
from filegate.db import conversions as conversions_table
from filegate.db import files as files_table
from filegate.engines.av import engine as media_engine
from filegate.engines.av import ffmpeg
from filegate.engines.av import probe as media_probe
from filegate.files import service as files_service
from filegate.files.storage import Bucket
from filegate.formats import avformats
from filegate.formats import table as formats
from filegate.formats.media_options import MediaOptions
from filegate.formats.sniff import sniff
from filegate.keys.context import AuthContext
from filegate.metering import limits
from filegate.settings import WebhookEmitter
from filegate.tiers import SYNC_MAX_BYTES, tier

POLL_INTERVAL_SECONDS = 0.2
MEDIA_ONLY_OPTIONS = ("start", "duration", "fps", "audio_bitrate", "mute", "at")
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


def wants_media(source: str | None, target: str | None) -> bool:
    return avformats.is_media_conversion(source, formats.normalize(target or "") or target)


def names_media_options(raw: object) -> bool:
    """Whether a job's raw options name an option only media takes (so image parsing must not judge them)."""
    return isinstance(raw, Mapping) and any(key in raw for key in MEDIA_ONLY_OPTIONS)


def sync_media_source(data: bytes, target: str) -> str | None:
    """The sniffed format when `/v1/convert` of these bytes to `target` is a media conversion, else None."""
    try:
        source = sniff(data)
    except errors.ApiError:
        return None  # the image path gives the answer (415, or 422 for a playlist)
    return source if wants_media(source, target) else None


# ------------------------------------------------------------------ creating


def create_media_job(
    caller: AuthContext,
    source: files_table.FileRecord,
    target: str,
    options: MediaOptions,
    *,
    webhook_url: str | None,
    queue_url: str,
    mode: str,
    now: datetime,
) -> conversions_table.ConversionRecord:
    """Reserve one unit (the worker tops it up from the probed duration) and queue the conversion."""
    reservation = limits.reserve_conversion(caller.account_id, tier(caller.tier), test_mode=caller.test_mode, now=now)
    record = jobs._new_record(
        caller,
        reservation,
        now,
        mode=mode,
        status="queued",
        source_file_id=source.file_id,
        target=target,
        options=options.to_json(),
        webhook_url=webhook_url,
        units=1,
    )
    jobs.create_and_queue(record, reservation, queue_url, now)
    return record


def create_media_job_json(
    caller: AuthContext,
    source: files_table.FileRecord,
    target: str,
    raw_options: object,
    *,
    webhook_url: str | None,
    queue_url: str,
    now: datetime,
    options_field: str = "options.",
) -> dict[str, Any]:
    """`POST /v1/conversions` for a media file: options checked against the pair (errors name them after
    `options_field`), then queued."""
    canonical = formats.resolve_target(source.format or "", target)
    options = MediaOptions.from_json(raw_options, prefix=options_field)
    options.check_applies(source.format or "", canonical, prefix=options_field)
    record = create_media_job(
        caller, source, canonical, options, webhook_url=webhook_url, queue_url=queue_url, mode="async", now=now
    )
    return jobs.conversion_json(record)


# ------------------------------------------------------------------ sync


def convert_media_sync(
    caller: AuthContext,
    bucket: Bucket,
    *,
    data: bytes,
    filename: str | None,
    source: str,
    target: str,
    fields: Mapping[str, str],
    queue_url: str,
    deadline: float,
    now: datetime,
) -> jobs.SyncOutcome | jobs.ContinuedAsJob:
    """`/v1/convert` with media: queued to the media worker and awaited until `deadline` (time.monotonic()),
    the end of the sync budget less the time to answer."""
    jobs.check_sync_input(caller, len(data))
    canonical = formats.resolve_target(source, target)
    options = MediaOptions.from_form(fields)
    options.check_applies(source, canonical)
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
    record = create_media_job(
        caller, stored, canonical, options, webhook_url=None, queue_url=queue_url, mode="sync", now=now
    )
    finished = _wait(record.conversion_id, deadline)
    if finished is None:
        current = conversions_table.get(record.conversion_id) or record
        return jobs.ContinuedAsJob(jobs.conversion_json(current))
    if finished.status == "failed":
        error = _ERRORS.get(finished.error_code or "", errors.ConversionFailed)
        raise error(finished.error_message)
    output = files_table.get_owned(caller.account_id, finished.output_file_id or "", now)
    if output is None:
        raise errors.ConversionFailed("The converted file is gone.")
    out_name = output.filename
    kind = output.content_type or formats.content_type(canonical)
    if int(output.size or 0) <= SYNC_MAX_BYTES:
        return jobs.SyncOutcome(finished.conversion_id, out_name, kind, bucket.read(output.object_key), None)
    url = bucket.download_url(output.object_key, out_name, kind)
    return jobs.SyncOutcome(finished.conversion_id, out_name, kind, None, url)


def _wait(conversion_id: str, deadline: float) -> conversions_table.ConversionRecord | None:
    """The conversion once it is finished, or None when the deadline passes first."""
    while True:
        record = conversions_table.get(conversion_id)
        if record is not None and record.status in conversions_table.TERMINAL:
            return record
        if time.monotonic() + POLL_INTERVAL_SECONDS > deadline:
            return None
        time.sleep(POLL_INTERVAL_SECONDS)


# ------------------------------------------------------------------ worker


@dataclass(frozen=True)
class WorkerConfig:
    """The media worker's sandbox and paths (from MediaWorkerSettings)."""

    sandbox: ffmpeg.Sandbox
    workdir: str = ""
    ffmpeg_path: str = ""


def _charge_units(record: conversions_table.ConversionRecord, units: int) -> None:
    """Top the one-unit reservation up to `units` (API.md §3), or QuotaExceeded on a hard-quota tier."""
    extra = units - int(record.units or 1)
    if extra <= 0:
        return
    plan = tier(record.tier)
    counters = limits.charged_counters(jobs._reservation(record))
    month = counters[0] if counters else None
    limit = plan.conversions_per_month if plan.hard_quota else None
    if not conversions_table.add_units(record, extra, counters=counters, limited=month, limit=limit):
        raise errors.QuotaExceeded(f"This conversion needs {units} units, more than the month's quota has left.")


def run_media_job(
    conversion_id: str, bucket: Bucket, config: WorkerConfig, webhooks: WebhookEmitter, now: datetime
) -> conversions_table.ConversionRecord | None:
    """Do one queued media conversion (the job's life is jobs.run_queued's: units given back on failure)."""

    def work(record: conversions_table.ConversionRecord, source: files_table.FileRecord) -> files_table.FileRecord:
        with tempfile.TemporaryDirectory(prefix="media-", dir=config.workdir or None) as workdir:
            output = _convert(record, source, bucket, config, Path(workdir))
            return files_service.store_output(
                record.account_id,
                record.tier,
                bucket,
                path=output.path,
                fmt=output.format,
                filename=files_service.output_filename(source.filename, output.format),
                now=now,
                metadata=output.metadata,
            )

    return jobs.run_queued(conversion_id, webhooks, now, work)


def _convert(
    record: conversions_table.ConversionRecord,
    source: files_table.FileRecord,
    bucket: Bucket,
    config: WorkerConfig,
    workdir: Path,
) -> media_engine.MediaResult:
    fmt = source.format or ""
    input_path = workdir / "input"
    bucket.download(source.object_key, input_path)
    info = media_probe.probe(input_path, fmt, avformats.demuxer(fmt), workdir=workdir, binary=config.ffmpeg_path)
    if source.metadata is None and avformats.is_media(fmt):  # too large to probe when its upload completed
        files_table.set_metadata(source, info.to_json())
    options = MediaOptions.from_json(record.options or {})
    media = tier(record.tier).media
    _charge_units(record, media_engine.plan(info, record.target, options, media).units)
    return media_engine.convert_file(
        input_path,
        fmt,
        record.target,
        options,
        media,
        workdir=workdir,
        sandbox=config.sandbox,
        binary=config.ffmpeg_path,
        info=info,
    )
