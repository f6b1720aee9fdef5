"""Standard Webhooks signing (docs/api.md §5): secrets, message ids, the body and the signed headers.

A message is serialized once (``build_message``) and those exact bytes are stored, signed and sent on every
attempt. Each attempt gets a fresh ``webhook-timestamp`` and signature (``sign_headers``) because receivers
reject timestamps older than five minutes and retries run for hours; the ``webhook-id`` stays the same so
receivers can deduplicate.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import re
import secrets as _secrets
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Final

SECRET_PREFIX: Final = "whsec_"  # noqa: S105 - a prefix, not a secret
SECRET_BYTES: Final = 32
# Standard Webhooks: secrets are 24 to 64 random bytes. Receivers' helpers accept any non-empty key.
MIN_SECRET_BYTES: Final = 24
MAX_SECRET_BYTES: Final = 64
SECRET_DISPLAY_CHARS: Final = 12  # "whsec_" + 6 characters, enough to tell two secrets apart

MESSAGE_ID_PREFIX: Final = "msg_"
_ID_RANDOM_BYTES: Final = 16  # 128 bits: 26 lowercase base32 characters

HEADER_ID: Final = "webhook-id"
HEADER_TIMESTAMP: Final = "webhook-timestamp"
HEADER_SIGNATURE: Final = "webhook-signature"
SIGNATURE_VERSION: Final = "v1"
CONTENT_TYPE: Final = "application/json"

# An id goes into a header and into the signed string "{id}.{ts}.{body}": no dots, spaces or controls.
_MESSAGE_ID_RE: Final = re.compile(r"^[A-Za-z0-9_\-]{1,128}$")


class InvalidWebhookSecret(ValueError):
    """A secret that is not ``whsec_`` + base64 of an acceptable number of bytes."""


# --- secrets -------------------------------------------------------------------------------------


def generate_secret() -> str:
    """A new signing secret: ``whsec_`` + base64 of 32 random bytes."""
    return SECRET_PREFIX + base64.b64encode(_secrets.token_bytes(SECRET_BYTES)).decode("ascii")


def decode_secret(secret: str | bytes, *, min_bytes: int = MIN_SECRET_BYTES) -> bytes:
    """The HMAC key of a secret. ``bytes`` are taken as the raw key; a string must be ``whsec_<base64>``.

    Padding may be missing (other Standard Webhooks libraries accept that too); any character outside the
    base64 alphabet is an error rather than silently skipped.
    """
    if isinstance(secret, bytes):
        key = secret
    else:
        if not secret.startswith(SECRET_PREFIX):
            raise InvalidWebhookSecret("A webhook secret starts with 'whsec_'.")
        encoded = secret[len(SECRET_PREFIX) :]
        try:
            key = base64.b64decode(encoded + "=" * (-len(encoded) % 4), validate=True)
        except (binascii.Error, ValueError) as exc:
            raise InvalidWebhookSecret("A webhook secret is 'whsec_' followed by base64.") from exc
    if not min_bytes <= len(key) <= MAX_SECRET_BYTES:
        raise InvalidWebhookSecret(
            f"A webhook secret decodes to {min_bytes} to {MAX_SECRET_BYTES} bytes, not {len(key)}."
        )
    return key


def secret_display_prefix(secret: str) -> str:
    """What may be shown of a secret after creation (like an API key's prefix)."""
    return secret[:SECRET_DISPLAY_CHARS]


# --- messages ------------------------------------------------------------------------------------


def new_message_id() -> str:
    """``msg_`` + 26 lowercase base32 characters (128 random bits)."""
    encoded = base64.b32encode(_secrets.token_bytes(_ID_RANDOM_BYTES)).decode("ascii")
    return MESSAGE_ID_PREFIX + encoded.rstrip("=").lower()


def iso_timestamp(moment: datetime) -> str:
    """ISO-8601 in UTC with a ``Z`` and microseconds, e.g. ``2025-01-02T03:04:05.000006Z``."""
    if moment.tzinfo is None:
        raise ValueError("Webhook timestamps must be timezone-aware.")
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def encode_body(event_type: str, data: Mapping[str, Any], occurred_at: datetime) -> bytes:
    """The JSON body ``{"type","timestamp","data"}``: compact, UTF-8, no NaN/Infinity (not JSON)."""
    document = {"type": event_type, "timestamp": iso_timestamp(occurred_at), "data": dict(data)}
    return json.dumps(document, separators=(",", ":"), ensure_ascii=False, allow_nan=False).encode("utf-8")


@dataclass(frozen=True)
class WebhookMessage:
    """One event for one endpoint: its id and the exact bytes every attempt sends."""

    id: str
    event_type: str
    body: bytes


def build_message(
    event_type: str,
    data: Mapping[str, Any],
    *,
    occurred_at: datetime | None = None,
    message_id: str | None = None,
) -> WebhookMessage:
    msg_id = message_id if message_id is not None else new_message_id()
    _check_message_id(msg_id)
    when = occurred_at if occurred_at is not None else datetime.now(UTC)
    return WebhookMessage(id=msg_id, event_type=event_type, body=encode_body(event_type, data, when))


# --- signatures ----------------------------------------------------------------------------------


def _check_message_id(msg_id: str) -> None:
    if not _MESSAGE_ID_RE.fullmatch(msg_id):
        raise ValueError("A webhook message id is 1-128 characters of [A-Za-z0-9_-].")


def signature_bytes(key: bytes, msg_id: str, timestamp: int, body: bytes) -> bytes:
    """HMAC-SHA256 of ``{id}.{timestamp}.{body}``: the one place the signed content is defined."""
    return hmac.new(key, b"%s.%d.%s" % (msg_id.encode("ascii"), timestamp, body), hashlib.sha256).digest()


def sign(msg_id: str, timestamp: int, body: bytes, secrets: Sequence[str | bytes]) -> str:
    """The ``webhook-signature`` value: ``v1,<b64>`` per secret, space-separated (rotation sends two)."""
    if not secrets:
        raise ValueError("At least one webhook secret is required to sign.")
    _check_message_id(msg_id)
    parts: list[str] = []
    for secret in secrets:
        mac = signature_bytes(decode_secret(secret), msg_id, timestamp, body)
        part = f"{SIGNATURE_VERSION},{base64.b64encode(mac).decode('ascii')}"
        if part not in parts:  # the same secret twice adds nothing
            parts.append(part)
    return " ".join(parts)


def sign_headers(
    message: WebhookMessage, secrets: Sequence[str | bytes], *, timestamp: int | None = None
) -> dict[str, str]:
    """The headers of one delivery attempt of ``message`` (fresh unix-seconds timestamp by default)."""
    ts = int(time.time()) if timestamp is None else timestamp
    return {
        HEADER_ID: message.id,
        HEADER_TIMESTAMP: str(ts),
        HEADER_SIGNATURE: sign(message.id, ts, message.body, secrets),
        "content-type": CONTENT_TYPE,
    }


def build_webhook(
    event_type: str,
    data: Mapping[str, Any],
    secrets: Sequence[str | bytes],
    *,
    now: datetime | None = None,
    message_id: str | None = None,
) -> tuple[WebhookMessage, dict[str, str]]:
    """A message and the headers of its first attempt; the body timestamp and header timestamp agree."""
    when = now if now is not None else datetime.now(UTC)
    message = build_message(event_type, data, occurred_at=when, message_id=message_id)
    return message, sign_headers(message, secrets, timestamp=int(when.timestamp()))
