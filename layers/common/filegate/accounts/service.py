"""Accounts (docs/api.md §5 "Keys and account"): signing up, the plan and what it allows, usage, and the
operators' changes (filegate-admin). Beside the keys (filegate.keys), whose records and changes they use.

Every change that alters what an account may do takes a version, writes it with the change and stamps it on
the account's counter items before returning (filegate.keys.stamps), so it applies on the very next request
through any function. ``horizon`` is how long API Gateway may cache an authorizer answer (its TTL).
"""

from __future__ import annotations

import re
import secrets
from datetime import datetime, timedelta
from typing import Any

from filegate import errors
from filegate.audit import service as audit
from filegate.clock import iso
from filegate.context import AuthContext
from filegate.db import accounts as accounts_table
from filegate.db import keys as keys_table
from filegate.keys import changes, stamps
from filegate.keys.checkpoints import checkpoint
from filegate.keys.service import IssuedKey, is_alive, key_json, last_uses, new_key_record
from filegate.metering import limits, usage
from filegate.observability import logger
from filegate.routes import SCOPES
from filegate.tiers import ACCOUNT_STATUSES, SYNC_MAX_BYTES, TEST_MODE_MAX_INPUT_BYTES, TIERS, tier

EMAIL_RE = re.compile(r"^[^@\s]{1,64}@[^@\s]+\.[^@\s]{2,}$")
MAX_EMAIL_LENGTH = 254
FIRST_KEY_NAME = "default"


def normalise_email(email: str) -> str:
    value = email.strip().lower()
    if len(value) > MAX_EMAIL_LENGTH or not EMAIL_RE.match(value):
        raise errors.InvalidRequest("email: not a valid email address.")
    return value


def create_free_account(email: str, source_ip: str, now: datetime) -> tuple[str, IssuedKey]:
    """A new free account and its first key, which carries every scope. Limited per source IP."""
    address = normalise_email(email)
    limits.hit_signup_limit(source_ip, now)
    account_id, issued = _create_account(address, "free", now)
    first = issued.record
    new_key = audit.Actor("key", first.key_id, first.key_prefix)  # the sign-up's own key: the only actor it has
    audit.record(account_id, new_key, audit.KEY_CREATED, first.key_id, source_ip, now=now)
    return account_id, issued


def sign_up_free(email: str, source_ip: str, now: datetime) -> dict[str, Any]:
    """POST /v1/keys/free: the new account's first key, shown once, and what the free plan includes."""
    _, issued = create_free_account(email, source_ip, now)
    plan = tier("free")
    return {
        "api_key": issued.raw_key,
        "key_id": issued.record.key_id,
        "plan": plan.name,
        "monthly_limit": plan.conversions_per_month,
        "message": "Save this key — it will not be shown again.",
    }


def usage_report(caller: AuthContext, start: str | None, end: str | None, now: datetime) -> dict[str, Any]:
    """GET /v1/usage: the account's conversions per month and day; 400 naming a bad month."""
    return usage.report(caller.account_id, start, end, now)


def create_account_for_operator(
    email: str, tier_name: str, now: datetime, actor: audit.Actor | None = None
) -> tuple[str, IssuedKey]:
    """Admin path: like the free sign-up, with a chosen tier and no per-IP limit."""
    account_id, issued = _create_account(normalise_email(email), tier_name, now)
    audit.record(account_id, actor or audit.admin_actor(), audit.KEY_CREATED, issued.record.key_id, "", now=now)
    return account_id, issued


def _new_account_id() -> str:
    return "acct_" + secrets.token_hex(10)


def account_for_sign_in(email: str, now: datetime) -> accounts_table.AccountRecord:
    """The dashboard's sign-in, where sign-up and sign-in are one flow: the address's account, created free
    and without a key the first time (a key is made in the dashboard, shown once)."""
    address = normalise_email(email)
    existing = accounts_table.find_by_email(address)
    if existing is not None:
        return existing
    account = accounts_table.AccountRecord(
        _new_account_id(), email=address, tier="free", status="active", created_at=now
    )
    try:
        accounts_table.create(account)
    except accounts_table.EmailAlreadyUsed:
        found = accounts_table.find_by_email(address)  # a concurrent first sign-in made it
        if found is None:
            raise
        return found
    return account


def _create_account(address: str, tier_name: str, now: datetime) -> tuple[str, IssuedKey]:
    account_id = _new_account_id()
    issued = new_key_record(
        account_id=account_id,
        name=FIRST_KEY_NAME,
        scopes=list(SCOPES),
        allowed_ips=[],
        expires_at=None,
        mode="live",
        now=now,
    )
    account = accounts_table.AccountRecord(account_id, email=address, tier=tier_name, status="active", created_at=now)
    try:
        accounts_table.create_with_key(account, issued.record)
    except accounts_table.EmailAlreadyUsed as exc:
        raise errors.EmailTaken() from exc
    return account_id, issued


def entitlements(caller: AuthContext, now: datetime) -> dict[str, Any]:
    plan = tier(caller.tier)
    return {
        "account_id": caller.account_id,
        "tier": plan.name,
        "key": {"id": caller.key_id, "key_prefix": caller.key_prefix, "scopes": sorted(caller.scopes)},
        "limits": {
            "requests_per_minute": plan.requests_per_minute,
            "conversions_per_month": plan.conversions_per_month,
            "max_file_bytes": TEST_MODE_MAX_INPUT_BYTES if caller.test_mode else plan.max_file_bytes,
            "sync_max_bytes": SYNC_MAX_BYTES,
        },
        "usage": _month_usage(caller.account_id, plan.conversions_per_month, now),
    }


def _month_usage(account_id: str, monthly_limit: int, now: datetime) -> dict[str, Any]:
    used = limits.conversions_this_month(account_id, now)
    return {"period": now.strftime("%Y-%m"), "conversions": used, "remaining": max(monthly_limit - used, 0)}


def set_account_tier(
    account_id: str, tier_name: str, *, now: datetime, horizon: timedelta, actor: audit.Actor | None = None
) -> None:
    """Operator change of plan; applies on the next request."""
    if tier_name not in TIERS:
        raise errors.InvalidRequest(f"tier: must be one of {', '.join(TIERS)}.")
    _change_account(account_id, now=now, horizon=horizon, tier_name=tier_name)
    audit.record(account_id, actor or audit.admin_actor(), audit.ACCOUNT_UPDATED, f"tier={tier_name}", "", now=now)


def set_account_status(
    account_id: str, status: str, *, now: datetime, horizon: timedelta, actor: audit.Actor | None = None
) -> None:
    """Suspend or reactivate an account; applies on the next request."""
    if status not in ACCOUNT_STATUSES:
        raise errors.InvalidRequest(f"status: must be one of {', '.join(ACCOUNT_STATUSES)}.")
    _change_account(account_id, now=now, horizon=horizon, status=status)
    audit.record(account_id, actor or audit.admin_actor(), audit.ACCOUNT_UPDATED, f"status={status}", "", now=now)


# ------------------------------------------------------------------ operators (filegate-admin)


def _every_key(account_id: str) -> list[keys_table.KeyRecord]:
    records: list[keys_table.KeyRecord] = []
    cursor: str | None = None
    while True:
        page = keys_table.list_for_account(account_id, limit=100, cursor=cursor)
        records.extend(page.items)
        if page.next_cursor is None:
            return records
        cursor = page.next_cursor


def _existing_account(account_id: str) -> accounts_table.AccountRecord:
    account = accounts_table.get(account_id)
    if account is None:
        raise errors.NotFound("No such account.")
    return account


def account_overview(account_id: str, now: datetime) -> dict[str, Any]:
    """An account as an operator sees it: tier, status, every key (prefix, last use), this month's usage."""
    account = _existing_account(account_id)
    plan = tier(account.tier)
    records = [record for record in _every_key(account_id) if record.pending_rotation_of is None]
    uses = last_uses([record.key_id for record in records], now)
    return {
        "account_id": account.account_id,
        "email": account.email,
        "tier": account.tier,
        "status": account.status,
        "created_at": iso(account.created_at),
        "keys": [
            {**key_json(record, uses.get(record.key_id)), "mode": record.mode, "active": is_alive(record, now)}
            for record in records
        ],
        "usage": {**_month_usage(account_id, plan.conversions_per_month, now), "limit": plan.conversions_per_month},
    }


def revoke_all_keys(
    account_id: str, *, now: datetime, horizon: timedelta, actor: audit.Actor | None = None
) -> list[str]:
    """Every live key of the account dead at once (a leak); the ids revoked. Already dead keys are left.

    One account-wide change: the keys and the account carry its version (a key changed meanwhile gets a
    newer one, and so does the account), stamped account-wide, so every cached answer of the account is
    re-read once. A retry, even one that finds no live key, re-publishes the account's current version."""
    _existing_account(account_id)
    live = [record for record in _every_key(account_id) if is_alive(record, now)]
    change = changes.begin(account_id, now)
    version = change.version
    revoked: dict[str, int] = {}  # key id: the version its revocation was written at
    for record in live:
        for _ in range(changes.CHANGE_ATTEMPTS):
            checkpoint("versioned")
            try:
                if keys_table.revoke(record, now, version):
                    revoked[record.key_id] = version
                break
            except keys_table.StaleVersion:
                version = changes.begin(account_id, now).version
        else:
            raise errors.Conflict("A key kept changing while the account's keys were revoked; retry.")
    version = _write_account(account_id, now=now, version=version)
    checkpoint("written")
    _publish_account_change(account_id, version, now=now, horizon=horizon, shards=change.shards)
    for key_id, key_version in revoked.items():
        # The account-wide stamp, newer than every key's revocation, announced them all: mark each published,
        # so the stream's stamper does not stamp each key's change again.
        keys_table.mark_published(key_id, key_version)
        audit.record(account_id, actor or audit.admin_actor(), audit.KEY_REVOKED, key_id, "", now=now)
    return list(revoked)


def _write_account(
    account_id: str,
    *,
    now: datetime,
    version: int,
    tier_name: str | None = None,
    status: str | None = None,
    wider: tuple[int, datetime] | None = None,
) -> int:
    """Write an account change at ``version``, or at a newer one when a newer change landed first (account
    changes never conflict with each other: each sets only its own fields). The version written."""
    for _ in range(changes.CHANGE_ATTEMPTS):
        account = accounts_table.AccountRecord(account_id)
        try:
            accounts_table.update(account, now=now, version=version, tier=tier_name, status=status, stamp_shards=wider)
            return version
        except accounts_table.StaleVersion:
            version = changes.begin(account_id, now).version
    raise errors.Conflict("The account kept changing while this change was being made; retry.")


def _change_account(
    account_id: str, *, now: datetime, horizon: timedelta, tier_name: str | None = None, status: str | None = None
) -> None:
    change = changes.begin(account_id, now)
    shards = change.shards
    wider: tuple[int, datetime] | None = None
    if tier_name is not None:
        new_shards = tier(tier_name).rate_shards
        if change.shards > new_shards:
            # Answers cached before this change still name the old tier, and write its shards, for a TTL.
            wider = (change.shards, now + horizon + stamps.STAMP_MARGIN)
        shards = max(change.shards, new_shards)
    checkpoint("versioned")
    version = _write_account(
        account_id, now=now, version=change.version, tier_name=tier_name, status=status, wider=wider
    )
    checkpoint("written")
    _publish_account_change(account_id, version, now=now, horizon=horizon, shards=shards)


def _publish_account_change(account_id: str, version: int, *, now: datetime, horizon: timedelta, shards: int) -> None:
    try:
        stamps.publish_account_change(account_id, version, now=now, horizon=horizon, shards=shards)
    except stamps.StampingFailed as exc:
        logger.exception("change not stamped everywhere", extra={"account_id": account_id, "version": version})
        raise errors.InternalError("The change was saved but could not be applied everywhere yet; retry.") from exc
