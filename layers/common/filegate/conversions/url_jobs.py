"""A conversion of a URL (docs/api.md: ``POST /v1/conversions`` with ``url``): one job that imports, then converts.

At the request: the URL and headers are checked as for ``POST /v1/files/import``, one unit is reserved (an
exhausted quota is a 429 at once), the conversion is written ``queued`` naming the file it waits for, and the
import is queued. When the import ends (the import worker, ``after_import``): a failed import fails the
conversion with the import's code, its charge given back in the same write; a ready file gets the canonical
target and options for its format (checked as for a ``file_id`` job) and the conversion goes to the queue of
the engine that converts it, where the usual worker runs it (and gives the charge back if it fails). One charge in all.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from filegate import errors, queues
from filegate.context import AuthContext
from filegate.conversions.queueing import create_and_hand_on
from filegate.conversions.records import (
    announce,
    conversion_json,
    fail,
    job_message,
    job_options,
    new_record,
    source_format,
)
from filegate.conversions.routing import engine_queues
from filegate.db import conversions as conversions_table
from filegate.db import files as files_table
from filegate.egress.policy import resolver_for
from filegate.engines import EngineName, engine_for
from filegate.files import import_requests, import_worker
from filegate.files import service as files_service
from filegate.files.storage import Bucket
from filegate.formats import table as formats
from filegate.metering import limits
from filegate.settings import ImportSettings, WebhookPolicy
from filegate.tiers import tier
from filegate.webhooks import emitting as webhook_events
from filegate.webhooks import endpoints as webhook_endpoints


def create_url_job(
    caller: AuthContext,
    *,
    url: str,
    headers: object,
    target: str,
    options: object,
    webhook_url: str | None,
    prefix: str,
    queue_url: str,
    webhooks: WebhookPolicy,
    now: datetime,
) -> dict[str, Any]:
    """The conversion (``queued``) and its import; the conversion's JSON for the 202."""
    webhook_endpoints.check_conversion_webhook_url(caller, webhooks, webhook_url)
    if formats.normalize(target) is None:
        formats.resolve_target("", target)  # raises unsupported_conversion naming the target
    request = import_requests.check_request(
        url,
        None,
        headers,
        allow_insecure_loopback=webhooks.egress_allow_insecure_loopback,
        resolver=resolver_for(webhooks),
        prefix=prefix,
    )
    reservation = limits.reserve_conversion(caller.account_id, tier(caller.tier), test_mode=caller.test_mode, now=now)
    file_id = files_service.new_file_id()
    record = new_record(
        caller,
        reservation,
        now,
        mode="async",
        status="queued",
        source_file_id=file_id,
        target=formats.normalize(target) or target,
        options=dict(options) if isinstance(options, dict) else {},
        webhook_url=webhook_url,
    )

    def start_import(key: str | None) -> None:
        import_requests.start_import(
            caller, request, queue_url=queue_url, now=now, file_id=file_id, conversion_id=record.conversion_id,
            conversion_key=key,
        )  # fmt: skip

    secret_options = options if isinstance(options, dict) else {}
    failure = "The import could not be queued."  # the caller gets the 500
    create_and_hand_on(record, reservation, secret_options, start_import, failure=failure, now=now)
    return conversion_json(record)


def _plan(
    source: files_table.FileRecord, record: conversions_table.ConversionRecord
) -> tuple[str, dict[str, Any], EngineName]:
    """(canonical target, its options as recorded, the engine whose worker converts it) for the imported
    source, checked as a file_id job's are, by that engine."""
    fmt = source_format(source, record.options)
    target = formats.resolve_target(fmt, record.target)
    engine = engine_for(fmt, target)
    options = engine.parse_options(record.options or {}, source=fmt, target=target, field="options.")
    engine.plan(fmt, target, options, tier(record.tier or "free"))
    return target, job_options(target, options.to_json()), engine.name


def _fail_and_announce(
    record: conversions_table.ConversionRecord, code: str, message: str, settings: ImportSettings, now: datetime
) -> conversions_table.ConversionRecord | None:
    """A queued conversion failed before any work (its URL import failed): units given back, announced."""
    fail(record, code, message, now)
    return announce(record.conversion_id, settings, now)


def after_import(
    conversion_id: str,
    source: files_table.FileRecord | None,
    settings: ImportSettings,
    now: datetime,
    options_key: str | None = None,
) -> conversions_table.ConversionRecord | None:
    """The import that the conversion waited for has ended: fail the conversion (charge given back) or hand
    it to its worker. Safe under redelivery: a finished conversion is only re-announced, a queued one is
    queued again (its worker starts it once)."""
    record = conversions_table.get(conversion_id)
    if record is None:
        return None
    if record.status in conversions_table.TERMINAL:
        webhook_events.announce_conversion(settings, record, conversion_json(record), now)
        return record
    if source is None or source.status != "ready":
        code, message = import_worker.file_error(source)
        return _fail_and_announce(record, code, message, settings, now)
    try:
        target, options, engine = _plan(source, record)
    except errors.ApiError as exc:
        return _fail_and_announce(record, exc.code, exc.message, settings, now)
    conversions_table.set_plan(record, target, options)
    queues.send(engine_queues(settings)[engine], job_message(conversion_id, options_key))
    return conversions_table.get(conversion_id)


def run_import(
    message: import_worker.ImportMessage, bucket: Bucket, settings: ImportSettings, now: datetime
) -> files_table.FileRecord | None:
    """One import message, as the import worker runs it: the import, then the conversion that waited on it."""
    source = import_worker.run_import(message, bucket, settings, now)
    if message.conversion_id is not None:
        after_import(message.conversion_id, source, settings, now, message.conversion_key)
    return source


def abandon_import(message: import_worker.ImportMessage, settings: ImportSettings, now: datetime) -> None:
    """A dead-lettered import message: the file failed, and the conversion that waited on it too."""
    source = import_worker.abandon_import(message, settings, now)
    if message.conversion_id is not None:
        after_import(message.conversion_id, source, settings, now)
