"""Recording and listing audit entries (docs/api.md §8).

The services that change keys, webhooks, accounts and sessions call :func:`record` once each change has
succeeded, with the actor their caller hands them: the key of an API request, a dashboard session, an
operator (filegate-admin) or GitHub (leaked keys). An actor's label is a key prefix, an email address or
``github``, never a secret.
"""

from __future__ import annotations

import getpass
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Final, Literal

from filegate.clock import iso
from filegate.context import AuthContext
from filegate.db import audit as store
from filegate.listing import page_json
from filegate.observability import logger

RETENTION: Final = timedelta(days=365)

ActorType = Literal["key", "session", "admin", "github"]

# docs/api.md §8's actions, and the secret's creation and reveal (as sensitive as its rotation).
KEY_CREATED: Final = "key.created"
KEY_UPDATED: Final = "key.updated"
KEY_ROTATED: Final = "key.rotated"
KEY_REVOKED: Final = "key.revoked"
KEY_LEAKED: Final = "key.leaked"
WEBHOOK_CREATED: Final = "webhook.created"
WEBHOOK_DELETED: Final = "webhook.deleted"
WEBHOOK_SECRET_CREATED: Final = "webhook.secret_created"  # noqa: S105 - action names, not secrets
WEBHOOK_SECRET_ROTATED: Final = "webhook.secret_rotated"  # noqa: S105
WEBHOOK_SECRET_REVEALED: Final = "webhook.secret_revealed"  # noqa: S105 - the dashboard shows it again
ACCOUNT_UPDATED: Final = "account.updated"
SESSION_CREATED: Final = "session.created"
SESSION_ENDED: Final = "session.ended"


@dataclass(frozen=True)
class Actor:
    """Who made a change: ``id`` names it for good (a key id, a session id), ``label`` is what people read."""

    type: ActorType
    id: str
    label: str

    def as_json(self) -> dict[str, str]:
        return {"type": self.type, "id": self.id, "label": self.label}


def key_actor(caller: AuthContext) -> Actor:
    """The key of an API request."""
    return Actor("key", caller.key_id, caller.key_prefix)


def session_actor(session_id: str, email: str) -> Actor:
    """A dashboard session (its public id, never the cookie's value)."""
    return Actor("session", session_id, email)


def admin_actor(operator: str | None = None) -> Actor:
    """An operator's filegate-admin command; the operator is the local user unless named."""
    name = operator or getpass.getuser()
    return Actor("admin", f"admin:{name}", name)


GITHUB: Final = Actor("github", "github", "github")


def record(account_id: str, actor: Actor, action: str, target: str, ip: str, *, now: datetime) -> None:
    """Append one entry, at ``now``: the time the change itself was made by (the service's clock, also for an
    operator's tool, never a workstation's). The change it records has already happened: a failed write is
    logged (with the whole entry, which holds no secret, so it can be restored) rather than turning a done
    change into a 500 that a client would retry."""
    at = now
    entry_id = "aud_" + secrets.token_hex(10)
    entry = store.AuditRecord(
        account_id,
        store.entry_key(at, entry_id),
        entry_id=entry_id,
        at=at,
        actor_type=actor.type,
        actor_id=actor.id,
        actor_label=actor.label,
        action=action,
        target=target,
        ip=ip or None,
        expires_at=at + RETENTION,
    )
    try:
        store.put(entry)
    except Exception:
        logger.exception("audit entry not written", extra={"audit_entry": entry_json(entry), "account_id": account_id})


def entry_json(entry: store.AuditRecord) -> dict[str, Any]:
    return {
        "id": entry.entry_id,
        "at": iso(entry.at),
        "actor": {"type": entry.actor_type, "id": entry.actor_id, "label": entry.actor_label},
        "action": entry.action,
        "target": entry.target,
        "ip": entry.ip,
    }


def list_entries(account_id: str, *, limit: int, cursor: str | None, now: datetime) -> dict[str, Any]:
    """GET /v1/audit: the account's entries, newest first, ``{"data", "next_cursor"}``."""
    return page_json(lambda: store.list_for_account(account_id, limit=limit, cursor=cursor, now=now), entry_json)
