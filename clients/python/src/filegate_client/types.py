"""The API's JSON bodies (docs/api.md §5) as TypedDicts: what a method returns, for editors and type
checkers.

Written by `make openapi` from the server's models (layers/common/filegate/models): do not edit. At run time they
are plain dicts; fields the API adds later are present too, just not listed here.
"""

from __future__ import annotations

from typing import Any, Literal, TypedDict


class Page(TypedDict):
    """Any list's page: `data` holds the listed items (a KeyList's Keys, a FileList's Files, ...)."""

    data: list[dict[str, Any]]
    next_cursor: str | None


class Health(TypedDict):
    status: Literal["ok"]


class FreeKey(TypedDict):
    api_key: str
    key_id: str
    plan: Literal["free"]
    monthly_limit: int
    message: str


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


class KeyList(TypedDict):
    data: list[Key]
    next_cursor: str | None


class NewKey(TypedDict):
    """Every answer that creates a key (sign-up aside): the raw key, exactly once."""

    api_key: str
    key_id: str
    name: str
    key_prefix: str
    scopes: list[str]
    allowed_ips: list[str]
    expires_at: str | None
    created_at: str


class CallingKey(TypedDict):
    id: str
    key_prefix: str
    scopes: list[str]


class Limits(TypedDict):
    requests_per_minute: int
    conversions_per_month: int
    max_file_bytes: int
    sync_max_bytes: int


class MonthUsage(TypedDict):
    period: str
    conversions: int
    remaining: int


class Entitlements(TypedDict):
    account_id: str
    tier: str
    key: CallingKey
    limits: Limits
    usage: MonthUsage


class MonthCount(TypedDict):
    month: str
    conversions: int


class DayCount(TypedDict):
    date: str
    conversions: int


Usage = TypedDict(
    "Usage",
    {
        "from": str,
        "to": str,
        "months": list[MonthCount],
        "days": list[DayCount],
    },
)


class ActivityBucket(TypedDict):
    """One hour's or day's requests of a key, by outcome (filegate.activity.outcomes), and what they started."""

    start: str
    requests: int
    succeeded: int
    client_errors: int
    refused: int
    rate_limited: int
    quota_exceeded: int
    conversions: int
    units: int


class KeyActivity(TypedDict):
    key_id: str
    granularity: Literal["hour", "day"]
    data: list[ActivityBucket]
    last_used_at: str | None
    last_used_ip: str | None


class Actor(TypedDict):
    type: Literal["key", "session", "admin", "github"]
    id: str
    label: str


class AuditEntry(TypedDict):
    id: str
    at: str
    actor: Actor
    action: str
    target: str
    ip: str | None


class AuditList(TypedDict):
    data: list[AuditEntry]
    next_cursor: str | None


class FileError(TypedDict):
    code: Literal["import_refused", "import_failed", "file_too_large", "unsupported_media_type"]
    message: str


class File(TypedDict):
    id: str
    filename: str
    status: Literal["pending", "importing", "ready", "failed"]
    origin: Literal["upload", "conversion", "import"]
    size: int | None
    format: str | None
    content_type: str | None
    metadata: dict[str, Any] | None
    error: FileError | None
    created_at: str
    completed_at: str | None
    expires_at: str


class Upload(TypedDict):
    """A presigned POST: send `fields` and then the file as multipart/form-data to `url` before `expires_at`."""

    url: str
    fields: dict[str, str]
    expires_at: str


class NewFile(TypedDict):
    id: str
    filename: str
    status: Literal["pending", "importing", "ready", "failed"]
    origin: Literal["upload", "conversion", "import"]
    size: int | None
    format: str | None
    content_type: str | None
    metadata: dict[str, Any] | None
    error: FileError | None
    created_at: str
    completed_at: str | None
    expires_at: str
    upload: Upload


class FileList(TypedDict):
    data: list[File]
    next_cursor: str | None


class ConversionError(TypedDict):
    code: str
    message: str


class Conversion(TypedDict):
    id: str
    status: Literal["queued", "processing", "succeeded", "failed"]
    mode: Literal["sync", "async"] | None
    source_file_id: str | None
    target: str
    options: dict[str, Any]
    output_file_id: str | None
    error: ConversionError | None
    progress: int
    created_at: str
    completed_at: str | None


class ConversionList(TypedDict):
    data: list[Conversion]
    next_cursor: str | None


class BulkConversions(TypedDict):
    data: list[Conversion]


class StoredOutput(TypedDict):
    """A sync conversion's output over the sync limit: stored; `url` (also Location) is a short-lived download."""

    id: str
    status: Literal["succeeded"]
    url: str


class Format(TypedDict):
    kind: Literal["image", "document", "audio", "video"]
    to: list[str]
    options: list[str]
    content_type: str
    extensions: list[str]
    compress: bool
    compress_options: list[str]


Merge = TypedDict(
    "Merge",
    {
        "target": str,
        "from": list[str],
        "options": list[str],
    },
)


class Formats(TypedDict):
    formats: dict[str, Format]
    merge: Merge


class SigningSecret(TypedDict):
    """The signing secret as a listing shows it: never the secret itself."""

    secret_prefix: str
    created_at: str
    previous_secret_expires_at: str | None


class WebhookSecret(TypedDict):
    secret_prefix: str
    created_at: str
    previous_secret_expires_at: str | None
    secret: str


class Webhook(TypedDict):
    id: str
    url: str
    events: list[str]
    created_at: str


class WebhookList(TypedDict):
    data: list[Webhook]
    next_cursor: str | None
    signing_secret: SigningSecret | None


class Delivery(TypedDict):
    id: str
    webhook_id: str
    event: str
    message_id: str | None
    conversion_id: str | None
    status: Literal["pending", "succeeded", "failed"]
    dead_lettered: bool
    attempt_count: int
    last_status_code: int | None
    last_error: str | None
    attempts: list[dict[str, Any]]
    next_attempt_at: str | None
    created_at: str
    completed_at: str | None


class DeliveryList(TypedDict):
    data: list[Delivery]
    next_cursor: str | None


class Feedback(TypedDict):
    token_hash: str
    token_type: str
    label: Literal["true_positive", "false_positive"]
