"""Keys and the account: sign-up, key management, entitlements, usage, activity, the audit log."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import Field, WithJsonSchema

from filegate.models.base import RequestBody, ResponseBody, Timestamp
from filegate.routes import SCOPES
from filegate.tiers import MAX_ROTATION_GRACE_SECONDS, TIERS

# A key's scopes are the route table's: the only ones a key can hold (the service refuses others by name).
Scope = Annotated[str, WithJsonSchema({"type": "string", "enum": list(SCOPES)})]
RawKey = Annotated[str, WithJsonSchema({"type": "string", "pattern": "^fg_(live|test)_[a-z2-7]{39}$"})]


# ------------------------------------------------------------------ requests


class FreeKeyRequest(RequestBody):
    # The service checks the address (its own message); the schema says what it takes.
    email: str = Field(max_length=254, json_schema_extra={"format": "email"})


class CreateKeyRequest(RequestBody):
    name: str = Field(max_length=100)
    scopes: list[Scope] | None = Field(default=None, max_length=20)
    allowed_ips: list[str] | None = Field(default=None, max_length=100)
    expires_at: datetime | None = None
    mode: Literal["live", "test"] = "live"


class UpdateKeyRequest(RequestBody):
    name: str | None = Field(default=None, max_length=100)
    scopes: list[Scope] | None = Field(default=None, max_length=20)
    allowed_ips: list[str] | None = Field(default=None, max_length=100)


class RotateRequest(RequestBody):
    grace_seconds: int = Field(default=0, ge=0, le=MAX_ROTATION_GRACE_SECONDS)


# ------------------------------------------------------------------ responses


class Health(ResponseBody):
    status: Literal["ok"]


class FreeKey(ResponseBody):
    api_key: RawKey  # shown once
    key_id: str
    plan: Literal["free"]
    monthly_limit: int
    message: str


class Key(ResponseBody):
    id: str
    name: str
    key_prefix: str
    scopes: list[Scope]
    allowed_ips: list[str]
    created_at: Timestamp
    last_used_at: Timestamp | None
    expires_at: Timestamp | None
    revoked_at: Timestamp | None


class KeyList(ResponseBody):
    data: list[Key]
    next_cursor: str | None


class NewKey(ResponseBody):
    """Every answer that creates a key (sign-up aside): the raw key, exactly once."""

    api_key: RawKey
    key_id: str
    name: str
    key_prefix: str
    scopes: list[Scope]
    allowed_ips: list[str]
    expires_at: Timestamp | None
    created_at: Timestamp


class CallingKey(ResponseBody):
    id: str
    key_prefix: str
    scopes: list[Scope]


class Limits(ResponseBody):
    requests_per_minute: int
    conversions_per_month: int
    max_file_bytes: int
    sync_max_bytes: int


class MonthUsage(ResponseBody):
    period: str
    conversions: int
    remaining: int


class Entitlements(ResponseBody):
    account_id: str
    tier: Annotated[str, WithJsonSchema({"type": "string", "enum": sorted(TIERS)})]
    key: CallingKey
    limits: Limits
    usage: MonthUsage


class MonthCount(ResponseBody):
    month: str
    conversions: int


class DayCount(ResponseBody):
    date: str
    conversions: int


class Usage(ResponseBody):
    from_: str = Field(alias="from")
    to: str
    months: list[MonthCount]
    days: list[DayCount]


class ActivityBucket(ResponseBody):
    """One hour's or day's requests of a key, by outcome (filegate.activity.outcomes), and what they started."""

    start: Timestamp
    requests: int
    succeeded: int
    client_errors: int
    refused: int
    rate_limited: int
    quota_exceeded: int
    conversions: int
    units: int


class KeyActivity(ResponseBody):
    key_id: str
    granularity: Literal["hour", "day"]
    data: list[ActivityBucket]
    last_used_at: Timestamp | None
    last_used_ip: str | None


class Actor(ResponseBody):
    type: Literal["key", "session", "admin", "github"]
    id: str
    label: str


class AuditEntry(ResponseBody):
    id: str
    at: Timestamp
    actor: Actor
    action: str
    target: str
    ip: str | None


class AuditList(ResponseBody):
    data: list[AuditEntry]
    next_cursor: str | None
