"""Webhook endpoints (docs/api.md §5): registered, listed, deleted and test-sent; and a conversion's own
``webhook_url``, checked by the same URL policy when the conversion is requested."""

from __future__ import annotations

import secrets as _secrets
from datetime import datetime
from typing import Any, Final

from filegate import errors
from filegate.audit import service as audit
from filegate.clock import iso
from filegate.context import AuthContext
from filegate.db import webhooks as store
from filegate.egress.policy import resolver_for, vet_url
from filegate.settings import WebhookEmitter, WebhookPolicy
from filegate.webhooks.access import owned_webhook, require_webhooks
from filegate.webhooks.deliveries import delivery_json
from filegate.webhooks.emitting import emit_one
from filegate.webhooks.events import CONVERSION_FAILED, CONVERSION_SUCCEEDED, WEBHOOK_TEST, parse_event_types
from filegate.webhooks.signing_secrets import secret_json

MAX_WEBHOOKS_PER_ACCOUNT: Final = 20


def webhook_json(record: store.WebhookRecord) -> dict[str, Any]:
    return {
        "id": record.webhook_id,
        "url": record.url,
        "events": list(record.events),
        "created_at": iso(record.created_at),
    }


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
        "signing_secret": secret_json(store.get_secret(caller.account_id), now),
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
    endpoint = owned_webhook(caller, webhook_id)
    data = {"webhook_id": endpoint.webhook_id, "message": "This is a test event from FileGate."}
    delivery = emit_one(
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
