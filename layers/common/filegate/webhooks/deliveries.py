"""The delivery log (docs/api.md §5): each endpoint's deliveries, and sending one again."""

from __future__ import annotations

import secrets as _secrets
from datetime import datetime
from typing import Any

from filegate import errors
from filegate.clock import iso
from filegate.context import AuthContext
from filegate.db import webhooks as store
from filegate.listing import page_json
from filegate.settings import WebhookStore
from filegate.webhooks.access import owned_webhook, require_webhooks
from filegate.webhooks.emitting import derived_id, queue_new_delivery


def delivery_json(record: store.DeliveryRecord) -> dict[str, Any]:
    attempts = [a for a in (record.attempts or []) if a.get("attempt") is not None]
    last = attempts[-1] if attempts else None
    notes = [a["error"] for a in (record.attempts or []) if a.get("attempt") is None]
    return {
        "id": record.delivery_id,
        "webhook_id": record.webhook_id,
        "event": record.event_type,
        "message_id": record.message_id,
        "conversion_id": record.conversion_id,
        "status": record.status,
        "dead_lettered": record.status == store.FAILED,
        "attempt_count": int(record.attempt_count or 0),
        "last_status_code": last.get("status_code") if last else None,
        "last_error": notes[-1] if notes else (last.get("error") if last else None),
        "attempts": attempts,
        "next_attempt_at": iso(record.next_attempt_at) if record.status == store.PENDING else None,
        "created_at": iso(record.created_at),
        "completed_at": iso(record.completed_at),
    }


def list_deliveries(caller: AuthContext, webhook_id: str, *, limit: int, cursor: str | None) -> dict[str, Any]:
    require_webhooks(caller)
    owned_webhook(caller, webhook_id)
    return page_json(lambda: store.list_deliveries(webhook_id, limit=limit, cursor=cursor), delivery_json)


def resend_delivery(
    caller: AuthContext, settings: WebhookStore, webhook_id: str, delivery_id: str, now: datetime
) -> dict[str, Any]:
    """Send a delivery's message again to its endpoint, as a new delivery with the same bytes and message id
    (``webhook-id``), so a receiver that processed the first one can tell it is the same event."""
    require_webhooks(caller)
    endpoint = owned_webhook(caller, webhook_id)
    original = store.get_delivery(delivery_id)
    if original is None or original.account_id != caller.account_id or original.webhook_id != endpoint.webhook_id:
        raise errors.NotFound("No such delivery.")
    record = queue_new_delivery(
        settings,
        derived_id("dlv_", "resend_" + _secrets.token_hex(12), original.event_type, endpoint.webhook_id),
        account_id=caller.account_id,
        webhook_id=endpoint.webhook_id,
        url=endpoint.url,
        event_type=original.event_type,
        message_id=original.message_id,
        body=original.body,
        conversion_id=original.conversion_id,
        now=now,
    )
    if record is None:
        raise errors.Conflict("This delivery could not be queued again; retry.")
    return delivery_json(record)
