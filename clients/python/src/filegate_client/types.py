"""The API's JSON bodies (docs/api.md §5) as TypedDicts: what a method returns, for editors and type checkers.

At run time they are plain dicts; fields the API adds later are present too, just not listed here.
"""

from __future__ import annotations

from typing import Any, TypedDict


class Page(TypedDict):
    data: list[dict[str, Any]]
    next_cursor: str | None


class Key(TypedDict):
    id: str
    name: str
    key_prefix: str
    scopes: list[str]
    allowed_ips: list[str]
    created_at: str
    last_used_at: str | None
    expires_at: str | None
    revoked_at: str | None


class NewKey(TypedDict):
    api_key: str  # shown once
    key_id: str
    name: str
    key_prefix: str
    scopes: list[str]
    allowed_ips: list[str]
    expires_at: str | None
    created_at: str


class FreeKey(TypedDict):
    api_key: str
    key_id: str
    plan: str
    monthly_limit: int
    message: str


class Entitlements(TypedDict):
    account_id: str
    tier: str
    key: dict[str, Any]
    limits: dict[str, int]
    usage: dict[str, Any]


class Usage(TypedDict):
    months: list[dict[str, Any]]
    days: list[dict[str, Any]]


class ActivityBucket(TypedDict):
    start: str  # the hour's or day's start (UTC)
    requests: int
    succeeded: int  # 2xx and 3xx
    client_errors: int  # every other 4xx
    refused: int  # 401/403 once the key was recognised: revoked, outside its allowlist, a scope it lacks
    rate_limited: int
    quota_exceeded: int
    conversions: int
    units: int


class KeyActivity(TypedDict):
    key_id: str
    granularity: str  # hour | day
    data: list[ActivityBucket]
    last_used_at: str | None
    last_used_ip: str | None


class Conversion(TypedDict, total=False):
    id: str
    status: str  # queued | processing | succeeded | failed
    source_file_id: str | None
    target: str
    options: dict[str, Any]
    output_file_id: str | None
    error: Any
    progress: int  # percent done, 0-100: only grows; 100 when it succeeded
    created_at: str
    completed_at: str | None


class File(TypedDict, total=False):
    id: str
    filename: str
    status: str
    size: int | None
    format: str | None
    content_type: str | None
    metadata: dict[str, Any]
    origin: str  # upload | conversion | import
    error: dict[str, Any] | None  # a failed import's {"code", "message"}
    created_at: str
    completed_at: str | None
    expires_at: str
    upload: dict[str, Any]  # only in POST /v1/files: {"url", "fields", "expires_at"}


class Webhook(TypedDict):
    id: str
    url: str
    events: list[str]
    created_at: str
