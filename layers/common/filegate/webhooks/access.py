"""Who may use webhooks (a pro feature) and which endpoint is theirs."""

from __future__ import annotations

from filegate import errors
from filegate.context import AuthContext
from filegate.db import webhooks as store
from filegate.tiers import FEATURE_WEBHOOKS, tier


def require_webhooks(caller: AuthContext) -> None:
    if FEATURE_WEBHOOKS not in tier(caller.tier).features:
        raise errors.TierRequired(f"Your plan ({caller.tier}) does not include webhooks; upgrade to pro.")


def owned_webhook(caller: AuthContext, webhook_id: str) -> store.WebhookRecord:
    record = store.get_webhook(caller.account_id, webhook_id)
    if record is None:
        raise errors.NotFound("No such webhook.")
    return record
