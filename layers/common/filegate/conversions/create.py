"""Creating conversion jobs (docs/api.md "Conversion"): single, bulk, and a sync request that goes on as a job.

Each is planned by the engine that converts the pair (``engine_for``), reserved against the monthly quota
(so concurrency can never pass the limit), recorded, and queued to that engine's worker. fg_test_ keys are
never charged. Touches storage: the conversions table, the quota counters, the files table (the source).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from filegate import errors
from filegate.context import AuthContext
from filegate.conversions import merges
from filegate.conversions.queueing import queue_job
from filegate.conversions.records import conversion_json, job_options, source_format
from filegate.conversions.routing import Queues
from filegate.engines import ProbedWhenStored, engine_for
from filegate.files import service as files_service
from filegate.settings import WebhookPolicy
from filegate.tiers import tier
from filegate.webhooks import endpoints as webhook_endpoints

MAX_BULK_ITEMS = 100
MAX_WEBHOOK_URL_LENGTH = 2048


@dataclass(frozen=True)
class JobRequest:
    file_id: str | None  # a ready file, or
    target: str
    options: Any  # as sent: parsed by the engine once the file's format is known
    webhook_url: str | None
    options_field: str = "options."  # how errors name the options ("items[2].options." in a bulk request)
    url: str | None = None  # a URL to import first (one job: import, then convert)
    headers: Any = None  # the URL's private-link headers; never stored past the import, never logged
    file_ids: list[str] | None = None  # several ready files merged into one PDF, in order

    @property
    def prefix(self) -> str:
        """How errors name this job's fields ("items[2]." in a bulk request)."""
        return self.options_field.removesuffix("options.")


def job_request(
    file_id: str | None,
    target: str,
    options: object,
    webhook_url: str | None,
    *,
    prefix: str = "",
    url: str | None = None,
    headers: object = None,
    file_ids: list[str] | None = None,
) -> JobRequest:
    """One job from its validated fields; exactly one of ``file_id``, ``url`` and ``file_ids`` (a merge)
    names the source."""
    if sum(given is not None for given in (file_id, url, file_ids)) != 1:
        raise errors.InvalidRequest(f"{prefix}file_id: give one of file_id, url or file_ids.")
    if headers is not None and url is None:
        raise errors.InvalidRequest(f"{prefix}headers: only with url.")
    return JobRequest(file_id, target, options, webhook_url, f"{prefix}options.", url, headers, file_ids)


def create_job(
    caller: AuthContext,
    job: JobRequest,
    *,
    queues: Queues,
    webhooks: WebhookPolicy,
    now: datetime,
    imports_queue_url: str = "",
) -> dict[str, Any]:
    """POST /v1/conversions: a ready file of the caller (or a URL imported first), converted by a job (its
    JSON, status queued)."""
    if job.url is not None:
        from filegate.conversions import url_jobs

        return url_jobs.create_url_job(
            caller, url=job.url, headers=job.headers, target=job.target, options=job.options,
            webhook_url=job.webhook_url, prefix=job.prefix, queue_url=imports_queue_url, webhooks=webhooks, now=now,
        )  # fmt: skip
    webhook_endpoints.check_conversion_webhook_url(caller, webhooks, job.webhook_url)
    if job.file_ids is not None:
        return merges.create_merge_job(
            caller, job.file_ids, job.target, job.options, webhook_url=job.webhook_url, prefix=job.prefix,
            queues=queues, now=now,
        )  # fmt: skip
    source = files_service.ready_file(caller, job.file_id or "", now)
    if source.size is not None:
        size = int(source.size)
        files_service.check_input_size(caller, size, described=f"The file ({size} bytes)")
    fmt = source_format(source, job.options)
    engine = engine_for(fmt, job.target)
    options = engine.parse_options(job.options, source=fmt, target=job.target, field=job.options_field)
    plan = engine.plan(fmt, job.target, options, tier(caller.tier))
    # What `complete` found the file to be: what the worker's plan would refuse (media over the plan's
    # duration, 413) is refused here, before any work. One unit is reserved as ever; the worker tops it up.
    probe = None
    if isinstance(engine, ProbedWhenStored) and source.metadata:
        probe = engine.stored_probe(source.metadata)
    if probe is not None:
        engine.plan(fmt, job.target, options, tier(caller.tier), probe)
    record = queue_job(
        caller, source, plan, job_options(job.target, options.to_json()), queue_url=queues[engine.name],
        mode="async", webhook_url=job.webhook_url, now=now,
    )  # fmt: skip
    return conversion_json(record)


def create_jobs(
    caller: AuthContext,
    requests: list[JobRequest],
    *,
    queues: Queues,
    webhooks: WebhookPolicy,
    now: datetime,
    imports_queue_url: str = "",
) -> dict[str, Any]:
    """POST /v1/conversions/bulk: every job created, in order (checked one by one, like single jobs)."""
    return {
        "data": [
            create_job(caller, job, queues=queues, webhooks=webhooks, now=now, imports_queue_url=imports_queue_url)
            for job in requests
        ]
    }
