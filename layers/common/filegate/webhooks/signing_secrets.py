"""The account's signing secret (docs/api.md §5): created or rotated (the old one signs on for 24 h), shown
once, then only its prefix, unless revealed again (audited). Secrets are never logged."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any, Final

from filegate import errors
from filegate.audit import service as audit
from filegate.clock import iso
from filegate.context import AuthContext
from filegate.db import webhooks as store
from filegate.metering import limits
from filegate.observability import logger
from filegate.webhooks.access import require_webhooks
from filegate.webhooks.signing import generate_secret, secret_display_prefix

SECRET_ROTATION_GRACE: Final = timedelta(hours=24)
# What an audit entry about the account's signing secret names (a name, not a secret).
SECRET_TARGET: Final = "signing_secret"  # noqa: S105


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
    return {"secret": record.current, **(secret_json(record, now) or {})}


def secret_json(record: store.WebhookSecretRecord | None, now: datetime) -> dict[str, Any] | None:
    if record is None:
        return None
    in_grace = record.previous_expires_at is not None and record.previous_expires_at > now
    return {
        "secret_prefix": secret_display_prefix(record.current),
        "created_at": iso(record.created_at),
        "previous_secret_expires_at": iso(record.previous_expires_at) if in_grace else None,
    }
