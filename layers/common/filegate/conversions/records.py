"""Conversion records (docs/api.md §5 "Conversion"): their JSON, the quota reservation each carries, failing one
(its units given back in the same write) and announcing one (its webhook event, once).

Touches storage: the conversions table (``filegate.db.conversions``) and the quota counters.
"""

from __future__ import annotations

import secrets
from datetime import datetime, timedelta
from typing import Any

from filegate import errors, sealing
from filegate.activity import record as activity
from filegate.clock import iso
from filegate.context import AuthContext
from filegate.db import conversions as conversions_table
from filegate.db import files as files_table
from filegate.formats import options as options_table
from filegate.formats.docsniff import text_format
from filegate.formats.table import TEXT_FORMATS, kind
from filegate.listing import page_json
from filegate.metering import limits
from filegate.observability import conversion_finished
from filegate.settings import WebhookEmitter
from filegate.webhooks import emitting as webhook_events

RECORD_LIFETIME = timedelta(days=90)
# Marks a queued job that compresses (its target is then the source's own format).
COMPRESS_OPTION = "compress"
# A merge job's options name its inputs under this key (file ids, in order).
MERGE_OPTION = "merge"
# Options never stored readable nor shown: sealed for the worker (filegate.sealing), dropped from answers.
SECRET_OPTIONS = options_table.SECRET_OPTIONS  # input_password, password


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
        "progress": progress_of(record),
        "created_at": iso(record.created_at),
        "completed_at": iso(record.completed_at),
    }


def progress_of(record: conversions_table.ConversionRecord) -> int:
    """docs/api.md's `progress`: 0 to 100, 100 once it succeeded (a sync or image conversion records none)."""
    if record.status == "succeeded":
        return 100
    return max(0, min(99, int(record.progress or 0)))


def reservation_of(record: conversions_table.ConversionRecord) -> limits.Reservation:
    """The quota reservation a record carries, to give back or top up."""
    return limits.Reservation(
        account_id=record.account_id,
        month=record.charge_month or "",
        day=record.charge_day or "",
        charged=bool(record.charged),
        shard=int(record.charge_shard or 0),
    )


def new_record(
    caller: AuthContext, reservation: limits.Reservation, now: datetime, **fields: Any
) -> conversions_table.ConversionRecord:
    """A conversion record of the caller, carrying its quota reservation so a failure can give it back; its
    options never hold a secret one (``seal_secret_options`` keeps those for the worker)."""
    if "options" in fields:
        fields["options"] = public_options(fields["options"])
    activity.note_conversion(int(fields.get("units") or 1))  # the request's activity line counts it
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


def job_options(target: str | None, options: dict[str, object]) -> dict[str, object]:
    """A queued job's options as recorded: a compress (target None) is marked as one."""
    return {COMPRESS_OPTION: True, **options} if target is None else options


def public_options(options: dict[str, Any]) -> dict[str, Any]:
    """Options as a record or an answer may show them: never a secret one (docs/api.md: `input_password` is never
    logged, never stored)."""
    return {name: value for name, value in options.items() if name not in SECRET_OPTIONS}


def seal_secret_options(conversion_id: str, options: dict[str, Any]) -> tuple[str | None, str | None]:
    """(sealed text for the record, key for the queue message) of the secret options, or (None, None)."""
    secrets = {name: value for name, value in options.items() if name in SECRET_OPTIONS}
    return sealing.seal(secrets, conversion_id) if secrets else (None, None)


def job_message(conversion_id: str, key: str | None) -> dict[str, str]:
    """A queued conversion's message: its id, and the key to its sealed options when it has any."""
    return {"conversion_id": conversion_id} if key is None else {"conversion_id": conversion_id, "key": key}


def requested_with_secrets(
    record: conversions_table.ConversionRecord, key: str | None
) -> tuple[str | None, dict[str, Any]]:
    """What a queued job asked for (``requested``), its sealed options opened with the queue message's `key`.
    ConversionFailed when they were sealed and the key is missing or not theirs (never a retry loop)."""
    target, options = requested(record)
    if record.options_sealed is None:
        return target, options
    try:
        opened = sealing.unseal(record.options_sealed, key or "", record.conversion_id)
    except Exception as exc:  # a missing, truncated or foreign key: InvalidTag, binascii.Error, ValueError
        raise errors.ConversionFailed("The conversion's password is no longer available; convert again.") from exc
    return target, {**options, **opened}


def requested(record: conversions_table.ConversionRecord) -> tuple[str | None, dict[str, Any]]:
    """What a queued job asked for: its target (None: compress) and its options, as job_options wrote them."""
    options = dict(record.options or {})
    if options.pop(COMPRESS_OPTION, False):
        return None, options
    return record.target, options


def source_format(source: files_table.FileRecord, options: object) -> str:
    """The format a stored file is converted from: the one sniffed when it was stored, except that text is told
    apart again by the conversion's `source_format` option when the file's name does not say (docs/api.md
    "Documents": the extension first, then `source_format`)."""
    fmt = source.format or ""
    told = options.get("source_format") if isinstance(options, dict) else None
    if fmt in TEXT_FORMATS and isinstance(told, str):
        return text_format(source.filename, told)
    return fmt


def fail(record: conversions_table.ConversionRecord, code: str, message: str, now: datetime) -> bool:
    """Mark failed and give the quota back, atomically; False when the job had already finished."""
    refund = limits.charged_counters(reservation_of(record))
    failed = conversions_table.fail(record, code, message, now, refund=refund, units=int(record.units or 1))
    if failed:
        conversion_finished(kind(record.target), succeeded=False)
    return failed


def announce(conversion_id: str, webhooks: WebhookEmitter, now: datetime) -> conversions_table.ConversionRecord | None:
    """The finished conversion, its webhook event emitted (idempotent: a redelivery never sends it twice)."""
    record = conversions_table.get(conversion_id)
    if record is not None:
        webhook_events.announce_conversion(webhooks, record, conversion_json(record), now)
    return record


def get_conversion(caller: AuthContext, conversion_id: str) -> dict[str, Any]:
    record = conversions_table.get_owned(caller.account_id, conversion_id)
    if record is None:
        raise errors.NotFound("No such conversion.")
    return conversion_json(record)


def list_conversions(caller: AuthContext, *, limit: int, cursor: str | None) -> dict[str, Any]:
    return page_json(
        lambda: conversions_table.list_for_account(caller.account_id, limit=limit, cursor=cursor), conversion_json
    )
