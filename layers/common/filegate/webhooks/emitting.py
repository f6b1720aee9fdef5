"""Emitting events (docs/api.md §5): one delivery per destination (each subscribed endpoint, plus a
conversion's own ``webhook_url``), its first attempt queued on the webhooks queue; the dispatcher
(``webhook_dispatch``, filegate.webhooks.dispatch) signs and sends it. Delivery and message ids are derived
from (event source, event type, destination), so emitting the same event twice, e.g. when a worker message
is redelivered, never delivers it twice."""

from __future__ import annotations

import base64
import hashlib
import time
from datetime import datetime, timedelta
from typing import Any, Final

from filegate import queues
from filegate.db import webhooks as store
from filegate.db.conversions import ConversionRecord
from filegate.observability import logger
from filegate.settings import WebhookStore
from filegate.tiers import FEATURE_WEBHOOKS, tier
from filegate.webhooks.events import CONVERSION_FAILED, CONVERSION_SUCCEEDED
from filegate.webhooks.signing import build_message

DELIVERY_LOG_LIFETIME: Final = timedelta(days=30)


def derived_id(prefix: str, *parts: str) -> str:
    digest = hashlib.sha256("\x1f".join(parts).encode()).digest()
    return prefix + base64.b32encode(digest[:16]).decode("ascii").rstrip("=").lower()


def queue_attempt(queue_url: str, delivery_id: str, attempt: int, not_before: float, delay_seconds: int) -> None:
    queues.send(
        queue_url,
        {"delivery_id": delivery_id, "attempt": attempt, "not_before": not_before},
        delay_seconds=delay_seconds,
    )


def emit_one(
    settings: WebhookStore,
    *,
    account_id: str,
    webhook_id: str | None,
    url: str,
    event_type: str,
    data: dict[str, Any],
    occurred_at: datetime,
    source_id: str,
    conversion_id: str | None,
    now: datetime,
) -> store.DeliveryRecord | None:
    """The new delivery, queued for its first attempt; None when it had been emitted already."""
    destination = webhook_id or "url"
    message = build_message(
        event_type, data, occurred_at=occurred_at, message_id=derived_id("msg_", source_id, event_type, destination)
    )
    return queue_new_delivery(
        settings,
        derived_id("dlv_", source_id, event_type, destination),
        account_id=account_id,
        webhook_id=webhook_id,
        url=url,
        event_type=event_type,
        message_id=message.id,
        body=message.body,
        conversion_id=conversion_id,
        now=now,
    )


def queue_new_delivery(
    settings: WebhookStore,
    delivery_id: str,
    *,
    account_id: str,
    webhook_id: str | None,
    url: str,
    event_type: str,
    message_id: str,
    body: bytes,
    conversion_id: str | None,
    now: datetime,
) -> store.DeliveryRecord | None:
    """A new pending delivery, written and its first attempt queued; None when one with this id was written
    already (the event was emitted before)."""
    record = store.DeliveryRecord(
        delivery_id,
        account_id=account_id,
        webhook_id=webhook_id,
        url=url,
        event_type=event_type,
        message_id=message_id,
        body=body,
        conversion_id=conversion_id,
        status=store.PENDING,
        attempt_count=0,
        attempts=[],
        next_attempt_at=now,
        created_at=now,
        expires_at=now + DELIVERY_LOG_LIFETIME,
    )
    if not store.create_delivery(record):
        return None
    queue_attempt(settings.webhooks_queue_url, record.delivery_id, 1, time.time(), 0)
    return record


def emit_event(
    settings: WebhookStore,
    *,
    account_id: str,
    account_tier: str,
    event_type: str,
    data: dict[str, Any],
    occurred_at: datetime,
    source_id: str,
    extra_url: str | None = None,
    conversion_id: str | None = None,
    now: datetime,
) -> int:
    """Deliver ``event_type`` to every endpoint subscribed to it (and to ``extra_url``); how many were queued."""
    if FEATURE_WEBHOOKS not in tier(account_tier).features:
        return 0
    destinations: list[tuple[str | None, str]] = [
        (w.webhook_id, w.url) for w in store.list_webhooks(account_id) if event_type in w.events
    ]
    if extra_url:
        destinations.append((None, extra_url))
    queued = 0
    for webhook_id, url in destinations:
        delivery = emit_one(
            settings,
            account_id=account_id,
            webhook_id=webhook_id,
            url=url,
            event_type=event_type,
            data=data,
            occurred_at=occurred_at,
            source_id=source_id,
            conversion_id=conversion_id,
            now=now,
        )
        queued += delivery is not None
    return queued


def announce_conversion(
    settings: WebhookStore,
    record: ConversionRecord | None,
    data: dict[str, Any],
    now: datetime,
    *,
    best_effort: bool = False,
) -> None:
    """Emit conversion.succeeded / conversion.failed for a finished conversion.

    ``best_effort`` (sync conversions): a failure is logged, not raised, so the caller still gets the result
    it was charged for. Async callers let it raise: the worker's message is retried and emits again.
    """
    if record is None or record.status not in ("succeeded", "failed"):
        return
    if FEATURE_WEBHOOKS not in tier(record.tier).features:
        return  # no table read
    try:
        emit_event(
            settings,
            account_id=record.account_id,
            account_tier=record.tier,
            event_type=CONVERSION_SUCCEEDED if record.status == "succeeded" else CONVERSION_FAILED,
            data=data,
            occurred_at=record.completed_at or now,
            source_id=record.conversion_id,
            extra_url=record.webhook_url,
            conversion_id=record.conversion_id,
            now=now,
        )
    except Exception:
        if not best_effort:
            raise
        logger.exception("could not emit the conversion's webhook event", extra={"conversion_id": record.conversion_id})
