"""Merges (docs/pdf-tools.md "Merge"): several inputs made into one PDF, in order, one unit per input.

Two ways in: several ``file`` parts on ``/v1/convert`` (``merge_sync``: run in the request when it fits the
sync budget, else kept as files and continued as a job) and ``file_ids`` on ``/v1/conversions``
(``create_merge_job``). A merge job's record names its inputs in its options (``merge``: the file ids, in
order) and its first input as its source; its worker (``run_merge_job``, called by the queue worker) fetches
every input, tops the charge up to a unit per input and merges. What merges is ``engines.merger()``.
Touches storage: the conversions and files tables, the bucket, the quota counters.
"""

from __future__ import annotations

import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from filegate import errors
from filegate.context import AuthContext
from filegate.conversions import sync
from filegate.conversions.queueing import Queues, queue_job
from filegate.conversions.records import MERGE_OPTION, conversion_json
from filegate.db import conversions as conversions_table
from filegate.db import files as files_table
from filegate.engines import OverBudget, Plan, Source, Workspace, engine_name_for, merger
from filegate.files import service as files_service
from filegate.files.storage import Bucket
from filegate.formats.sniff import sniff
from filegate.formats.table import MERGE_TARGET, normalize
from filegate.metering import limits
from filegate.settings import WebhookEmitter
from filegate.tiers import SYNC_ANSWER_RESERVE_SECONDS, tier

MIN_INPUTS, MAX_INPUTS = 2, 100
OUTPUT_NAME = "merged.pdf"


@dataclass(frozen=True)
class Upload:
    """One `file` part of a multipart request."""

    data: bytes
    filename: str | None


def check_target(target: str, *, field: str = "target") -> None:
    if normalize(target) != MERGE_TARGET:
        raise errors.InvalidParameter(f"{field}: several inputs are merged into a pdf; send target=pdf.")


def check_count(count: int, *, field: str) -> None:
    if not MIN_INPUTS <= count <= MAX_INPUTS:
        raise errors.InvalidParameter(f"{field}: a merge takes {MIN_INPUTS} to {MAX_INPUTS} inputs, not {count}.")


def merge_sync(
    caller: AuthContext,
    bucket: Bucket,
    webhooks: WebhookEmitter,
    *,
    uploads: list[Upload],
    target: str,
    fields: dict[str, str],
    queues: Queues,
    now: datetime,
    budget_seconds: float,
    started: float,
) -> Any:
    """Several `file` parts merged within the sync budget (a SyncOutcome), or continued as a job when the
    work does not fit (ContinuedAsJob)."""
    check_target(target)
    check_count(len(uploads), field="file")
    for index, upload in enumerate(uploads):
        if not upload.data:
            raise errors.InvalidParameter(f"file[{index}]: the file is empty.")
    total = sum(len(u.data) for u in uploads)
    sync.check_sync_input(caller, total)
    formats = [sniff(u.data) for u in uploads]
    tool = merger()
    options = tool.parse_options(fields, form=True)
    plan = tool.plan(formats, options, [len(u.data) for u in uploads])
    plan_tier = tier(caller.tier)
    seconds = budget_seconds - SYNC_ANSWER_RESERVE_SECONDS - (time.monotonic() - started)
    if plan.fits(seconds):
        reservations = _reserve(caller, plan.units, now)
        inputs = [
            (Source(fmt, data=u.data), u.filename or f"input-{index + 1}")
            for index, (fmt, u) in enumerate(zip(formats, uploads, strict=True))
        ]
        try:
            output = tool.run(inputs, options, plan_tier, Workspace(Path(tempfile.gettempdir())), seconds=seconds)
        except OverBudget:
            output = None
        except BaseException:
            _release(reservations)
            raise
        if output is not None:
            try:
                return sync.record_success(
                    caller, bucket, webhooks, reservations[0], output, options.to_json(), now,
                    source=sync.SyncSource(OUTPUT_NAME, "pdf", sum(len(u.data) for u in uploads)), units=plan.units,
                )  # fmt: skip
            except BaseException:  # never charged for what was not recorded (docs/api.md §3)
                _release(reservations)
                raise
        _release(reservations)
    kept = [
        files_service.keep_input(caller, bucket, data=u.data, fmt=fmt, filename=u.filename, now=now)
        for fmt, u in zip(formats, uploads, strict=True)
    ]
    record = _queue(caller, kept, plan, options, queues, webhook_url=None, now=now)
    return sync.ContinuedAsJob(conversion_json(record))


def create_merge_job(
    caller: AuthContext,
    file_ids: list[str],
    target: str,
    raw_options: Any,
    *,
    webhook_url: str | None,
    prefix: str,
    queues: Queues,
    now: datetime,
) -> dict[str, Any]:
    """POST /v1/conversions with `file_ids`: the caller's ready files merged by a job (its JSON, queued)."""
    check_target(target, field=f"{prefix}target")
    check_count(len(file_ids), field=f"{prefix}file_ids")
    sources = []
    for index, file_id in enumerate(file_ids):
        try:
            source = files_service.ready_file(caller, file_id, now)
        except errors.ApiError as exc:
            raise type(exc)(f"{prefix}file_ids[{index}]: {exc.message}") from None
        if source.size is not None:
            size = int(source.size)
            files_service.check_input_size(caller, size, described=f"{prefix}file_ids[{index}] ({size} bytes)")
        sources.append(source)
    tool = merger()
    options = tool.parse_options(raw_options, field=f"{prefix}options.")
    sizes = [int(s.size or 0) for s in sources]
    plan = tool.plan([s.format or "" for s in sources], options, sizes, field=f"{prefix}file_ids")
    return conversion_json(_queue(caller, sources, plan, options, queues, webhook_url=webhook_url, now=now))


def _queue(
    caller: AuthContext,
    sources: list[files_table.FileRecord],
    plan: Plan,
    options: Any,
    queues: Queues,
    *,
    webhook_url: str | None,
    now: datetime,
) -> conversions_table.ConversionRecord:
    """A merge job: one unit reserved now (its worker tops it up to one per input, like any job's plan)."""
    recorded = {MERGE_OPTION: [s.file_id for s in sources], **options.to_json()}
    least = Plan(plan.source, plan.target, units=1, estimated_seconds=None, in_request=False)
    queue_url = queues[engine_name_for("pdf", MERGE_TARGET)]
    return queue_job(
        caller, sources[0], least, recorded, queue_url=queue_url, mode="async", webhook_url=webhook_url, now=now,
    )  # fmt: skip


def is_merge(record: conversions_table.ConversionRecord) -> bool:
    return MERGE_OPTION in (record.options or {})


def run_merge_job(
    record: conversions_table.ConversionRecord,
    bucket: Bucket,
    workspace: Workspace,
    now: datetime,
    secrets: dict[str, str],
    charge: Callable[[conversions_table.ConversionRecord, int], None],
) -> files_table.FileRecord:
    """A queued merge, in its worker: every input fetched (each must still exist), the charge topped up to a
    unit per input (`charge`), merged and stored."""
    options_json = dict(record.options or {})
    file_ids = [str(i) for i in options_json.pop(MERGE_OPTION)]
    tool = merger()
    options = tool.parse_options({**options_json, **secrets}, field="options.")
    inputs = []
    for index, file_id in enumerate(file_ids):
        source = files_table.get_owned(record.account_id, file_id, now)
        if source is None or source.status != "ready":
            raise errors.NotFound(f"file_ids[{index}]: the file no longer exists.")
        inputs.append((Source(source.format or "", data=bucket.read(source.object_key)), source.filename or file_id))
    plan = tool.plan([s.format for s, _ in inputs], options, [len(s.read()) for s, _ in inputs], field="file_ids")
    charge(record, plan.units)
    output = tool.run(inputs, options, tier(record.tier), workspace, seconds=None)
    return files_service.store_output(
        record.account_id, record.tier, bucket, data=output.data, path=output.path, fmt=output.format,
        filename=OUTPUT_NAME, now=now, metadata=output.metadata,
    )  # fmt: skip


def _reserve(caller: AuthContext, units: int, now: datetime) -> list[limits.Reservation]:
    """A unit reserved per input, each as one conversion is (a hard quota stops at its limit: all released)."""
    reservations: list[limits.Reservation] = []
    try:
        for _ in range(units):
            reservations.append(
                limits.reserve_conversion(caller.account_id, tier(caller.tier), test_mode=caller.test_mode, now=now)
            )
    except BaseException:
        _release(reservations)
        raise
    return reservations


def _release(reservations: list[limits.Reservation]) -> None:
    for reservation in reservations:
        limits.release_conversion(reservation)
