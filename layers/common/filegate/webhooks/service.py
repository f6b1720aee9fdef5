"""The webhooks product (docs/api.md §5): signing secrets, endpoints, the delivery log, and emitting events.

Emitting an event writes one delivery per destination (each subscribed endpoint, plus a conversion's own
``webhook_url``) and queues its first attempt on the webhooks queue; the dispatcher (``webhook_dispatch``)
signs and sends it. Delivery and message ids are derived from (event source, event type, destination), so
emitting the same event twice, e.g. when a worker message is redelivered, never delivers it twice.

Secrets are never logged and are shown once, at creation; afterwards only their prefix.
"""

from __future__ import annotations

import base64
import hashlib
import secrets as _secrets
import time
from datetime import datetime, timedelta
from typing import Any, Final

from filegate import errors, queues
from filegate.audit import service as audit
from filegate.clock import iso
from filegate.context import AuthContext
from filegate.db import webhooks as store
from filegate.db.conversions import ConversionRecord
from filegate.egress.policy import resolver_for, vet_url
from filegate.listing import page_json
from filegate.metering import limits
from filegate.observability import logger
from filegate.settings import WebhookEmitter, WebhookPolicy, WebhookStore
from filegate.tiers import FEATURE_WEBHOOKS, tier
from filegate.webhooks.events import CONVERSION_FAILED, CONVERSION_SUCCEEDED, WEBHOOK_TEST, parse_event_types
from filegate.webhooks.signing import build_message, generate_secret, secret_display_prefix

MAX_WEBHOOKS_PER_ACCOUNT: Final = 20
SECRET_ROTATION_GRACE: Final = timedelta(hours=24)
DELIVERY_LOG_LIFETIME: Final = timedelta(days=30)
# What an audit entry about the account's signing secret names (a name, not a secret).
SECRET_TARGET: Final = "signing_secret"  # noqa: S105


def require_webhooks(caller: AuthContext) -> None:
    if FEATURE_WEBHOOKS not in tier(caller.tier).features:
        raise errors.TierRequired(f"Your plan ({caller.tier}) does not include webhooks; upgrade to pro.")


def _derived_id(prefix: str, *parts: str) -> str:
    digest = hashlib.sha256("\x1f".join(parts).encode()).digest()
    return prefix + base64.b32encode(digest[:16]).decode("ascii").rstrip("=").lower()


# ------------------------------------------------------------------ secrets


def create_or_rotate_secret(
    caller: AuthContext, now: datetime, *, actor: audit.Actor | None = None, ip: str = ""
) -> dict[str, Any]:
    """A new signing secret, shown this once. A rotation keeps the old one signing for 24 h. Counted among the
    account's changes a minute (docs/api.md §3), like a key's."""
    require_webhooks(caller)
    limits.hit_change_limit(caller.account_id, now)
    existing = store.get_secret(caller.account_id)
    secret = generate_secret()
    record = store.WebhookSecretRecord(
        caller.account_id,
        current=secret,
        previous=existing.current if existing else None,
        previous_expires_at=now + SECRET_ROTATION_GRACE if existing else None,
        created_at=now,
        first_created_at=existing.first_created_at if existing else now,
    )
    if not store.put_secret(record, expected_current=existing.current if existing else None):
        raise errors.Conflict("The signing secret was changed by another request; try again.")
    action = "rotated" if existing else "created"
    logger.info(f"webhook secret {action}", extra={"secret_prefix": secret_display_prefix(secret)})
    audit_action = audit.WEBHOOK_SECRET_ROTATED if existing else audit.WEBHOOK_SECRET_CREATED
    audit.record(caller.account_id, actor or audit.key_actor(caller), audit_action, SECRET_TARGET, ip, now=now)
    return {
        "secret": secret,
        "secret_prefix": secret_display_prefix(secret),
        "created_at": iso(now),
        "previous_secret_expires_at": iso(record.previous_expires_at),
    }


def reveal_secret(caller: AuthContext, now: datetime, *, actor: audit.Actor, ip: str) -> dict[str, Any]:
    """The current signing secret shown again (GET /v1/webhooks/secret, the dashboard's "reveal", the CLI's
    listener); recorded in the audit log like a rotation. 404 when there is none yet."""
    require_webhooks(caller)
    record = store.get_secret(caller.account_id)
    if record is None:
        raise errors.NotFound("There is no signing secret yet; create one with POST /v1/webhooks/secret.")
    audit.record(caller.account_id, actor, audit.WEBHOOK_SECRET_REVEALED, SECRET_TARGET, ip, now=now)
    return {"secret": record.current, **(_secret_json(record, now) or {})}


def _secret_json(record: store.WebhookSecretRecord | None, now: datetime) -> dict[str, Any] | None:
    if record is None:
        return None
    in_grace = record.previous_expires_at is not None and record.previous_expires_at > now
    return {
        "secret_prefix": secret_display_prefix(record.current),
        "created_at": iso(record.created_at),
        "previous_secret_expires_at": iso(record.previous_expires_at) if in_grace else None,
    }


# ------------------------------------------------------------------ endpoints


def webhook_json(record: store.WebhookRecord) -> dict[str, Any]:
    return {
        "id": record.webhook_id,
        "url": record.url,
        "events": list(record.events),
        "created_at": iso(record.created_at),
    }


def _owned_webhook(caller: AuthContext, webhook_id: str) -> store.WebhookRecord:
    record = store.get_webhook(caller.account_id, webhook_id)
    if record is None:
        raise errors.NotFound("No such webhook.")
    return record


def register_webhook(
    caller: AuthContext,
    settings: WebhookPolicy,
    *,
    url: str,
    events: list[str] | None,
    now: datetime,
    actor: audit.Actor | None = None,
    ip: str = "",
) -> dict[str, Any]:
    require_webhooks(caller)
    event_types = parse_event_types(events if events is not None else [CONVERSION_SUCCEEDED, CONVERSION_FAILED])
    vet_url(url, allow_insecure_loopback=settings.egress_allow_insecure_loopback, resolver=resolver_for(settings))
    if store.get_secret(caller.account_id) is None:
        raise errors.Conflict("Create a signing secret first: POST /v1/webhooks/secret.")
    existing = store.list_webhooks(caller.account_id)
    if len(existing) >= MAX_WEBHOOKS_PER_ACCOUNT:
        raise errors.Conflict(f"An account has at most {MAX_WEBHOOKS_PER_ACCOUNT} webhooks; delete one first.")
    for other in existing:
        if other.url == url:
            raise errors.Conflict(f"This URL is already registered as webhook {other.webhook_id}.")
    record = store.WebhookRecord(
        caller.account_id, "wh_" + _secrets.token_hex(12), url=url, events=list(event_types), created_at=now
    )
    store.create_webhook(record)
    audit.record(
        caller.account_id, actor or audit.key_actor(caller), audit.WEBHOOK_CREATED, record.webhook_id, ip, now=now
    )
    return webhook_json(record)


def list_webhooks(caller: AuthContext, now: datetime) -> dict[str, Any]:
    require_webhooks(caller)
    records = store.list_webhooks(caller.account_id)
    records.sort(key=lambda r: r.created_at, reverse=True)
    return {
        "data": [webhook_json(r) for r in records],
        "next_cursor": None,  # at most MAX_WEBHOOKS_PER_ACCOUNT: always one page
        "signing_secret": _secret_json(store.get_secret(caller.account_id), now),
    }


def delete_webhook(
    caller: AuthContext, webhook_id: str, *, now: datetime, actor: audit.Actor | None = None, ip: str = ""
) -> None:
    """Gone at once; its pending deliveries are given up by the dispatcher when they come due."""
    require_webhooks(caller)
    if not store.delete_webhook(caller.account_id, webhook_id):
        raise errors.NotFound("No such webhook.")
    audit.record(caller.account_id, actor or audit.key_actor(caller), audit.WEBHOOK_DELETED, webhook_id, ip, now=now)


def send_test(caller: AuthContext, settings: WebhookEmitter, webhook_id: str, now: datetime) -> dict[str, Any]:
    """Queue a ``webhook.test`` delivery to that endpoint now."""
    require_webhooks(caller)
    endpoint = _owned_webhook(caller, webhook_id)
    data = {"webhook_id": endpoint.webhook_id, "message": "This is a test event from FileGate."}
    delivery = _emit_one(
        settings,
        account_id=caller.account_id,
        webhook_id=endpoint.webhook_id,
        url=endpoint.url,
        event_type=WEBHOOK_TEST,
        data=data,
        occurred_at=now,
        source_id="test_" + _secrets.token_hex(12),
        conversion_id=None,
        now=now,
    )
    assert delivery is not None  # a fresh source id cannot collide
    return delivery_json(delivery)


# ------------------------------------------------------------------ delivery log


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
    _owned_webhook(caller, webhook_id)
    return page_json(lambda: store.list_deliveries(webhook_id, limit=limit, cursor=cursor), delivery_json)


def resend_delivery(
    caller: AuthContext, settings: WebhookStore, webhook_id: str, delivery_id: str, now: datetime
) -> dict[str, Any]:
    """Send a delivery's message again to its endpoint, as a new delivery with the same bytes and message id
    (``webhook-id``), so a receiver that processed the first one can tell it is the same event."""
    require_webhooks(caller)
    endpoint = _owned_webhook(caller, webhook_id)
    original = store.get_delivery(delivery_id)
    if original is None or original.account_id != caller.account_id or original.webhook_id != endpoint.webhook_id:
        raise errors.NotFound("No such delivery.")
    record = store.DeliveryRecord(
        _derived_id("dlv_", "resend_" + _secrets.token_hex(12), original.event_type, endpoint.webhook_id),
        account_id=caller.account_id,
        webhook_id=endpoint.webhook_id,
        url=endpoint.url,
        event_type=original.event_type,
        message_id=original.message_id,
        body=original.body,
        conversion_id=original.conversion_id,
        status=store.PENDING,
        attempt_count=0,
        attempts=[],
        next_attempt_at=now,
        created_at=now,
        expires_at=now + DELIVERY_LOG_LIFETIME,
    )
    if not store.create_delivery(record):
        raise errors.Conflict("This delivery could not be queued again; retry.")
    queue_attempt(settings.webhooks_queue_url, record.delivery_id, 1, time.time(), 0)
    return delivery_json(record)


# ------------------------------------------------------------------ emitting events


def queue_attempt(queue_url: str, delivery_id: str, attempt: int, not_before: float, delay_seconds: int) -> None:
    queues.send(
        queue_url,
        {"delivery_id": delivery_id, "attempt": attempt, "not_before": not_before},
        delay_seconds=delay_seconds,
    )


def _emit_one(
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
        event_type, data, occurred_at=occurred_at, message_id=_derived_id("msg_", source_id, event_type, destination)
    )
    record = store.DeliveryRecord(
        _derived_id("dlv_", source_id, event_type, destination),
        account_id=account_id,
        webhook_id=webhook_id,
        url=url,
        event_type=event_type,
        message_id=message.id,
        body=message.body,
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
        delivery = _emit_one(
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


def check_conversion_webhook_url(caller: AuthContext, settings: WebhookPolicy, url: str | None) -> None:
    """A conversion's own ``webhook_url``, checked when the conversion is requested: pro only, allowed by the
    URL policy (422 invalid_parameter), and signable (a secret exists)."""
    if url is None:
        return
    require_webhooks(caller)
    vet_url(
        url,
        allow_insecure_loopback=settings.egress_allow_insecure_loopback,
        resolver=resolver_for(settings),
        label="webhook_url",
    )
    if store.get_secret(caller.account_id) is None:
        raise errors.Conflict("webhook_url: create a signing secret first (POST /v1/webhooks/secret).")
