"""Verify a FileGate webhook (Standard Webhooks): HMAC-SHA256 of "{id}.{timestamp}.{body}", fresh timestamp.

A copy of the server's rule, on purpose: a client must not import the server package.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import time
from collections.abc import Iterable, Mapping
from typing import Any

SECRET_PREFIX = "whsec_"  # noqa: S105 - a prefix, not a secret
TOLERANCE_SECONDS = 5 * 60  # docs/api.md: receivers reject timestamps older than 5 minutes


class WebhookVerificationError(ValueError):
    """The delivery is not signed by one of the secrets, or its timestamp is out of tolerance."""


def _key(secret: str | bytes) -> bytes:
    if isinstance(secret, bytes):
        return secret
    if not secret.startswith(SECRET_PREFIX):
        raise WebhookVerificationError("A webhook secret starts with 'whsec_'.")
    encoded = secret[len(SECRET_PREFIX) :]
    try:
        return base64.b64decode(encoded + "=" * (-len(encoded) % 4), validate=True)
    except (binascii.Error, ValueError) as exc:
        raise WebhookVerificationError("A webhook secret is 'whsec_' followed by base64.") from exc


def verify(
    secret: str | bytes | Iterable[str | bytes],
    headers: Mapping[str, str],
    body: bytes | str,
    *,
    tolerance: int = TOLERANCE_SECONDS,
    now: float | None = None,
) -> dict[str, Any]:
    """The delivery's JSON payload if it is authentic and fresh; else WebhookVerificationError.

    ``secret`` may be several secrets (during a rotation both sign). Header names are case-insensitive.
    """
    lowered = {k.lower(): v for k, v in headers.items()}
    msg_id = lowered.get("webhook-id")
    timestamp = lowered.get("webhook-timestamp")
    signature = lowered.get("webhook-signature")
    if not msg_id or not timestamp or not signature:
        raise WebhookVerificationError("Missing webhook-id, webhook-timestamp or webhook-signature header.")
    try:
        sent_at = int(timestamp)
    except ValueError as exc:
        raise WebhookVerificationError("webhook-timestamp is not a unix time in seconds.") from exc
    current = time.time() if now is None else now
    if abs(current - sent_at) > tolerance:
        raise WebhookVerificationError("webhook-timestamp is outside the tolerance window.")
    raw = body.encode() if isinstance(body, str) else body
    secrets = [secret] if isinstance(secret, (str, bytes)) else list(secret)
    signed = b"%s.%d.%s" % (msg_id.encode(), sent_at, raw)
    expected = [base64.b64encode(hmac.new(_key(s), signed, hashlib.sha256).digest()).decode("ascii") for s in secrets]
    for part in signature.split():
        version, _, value = part.partition(",")
        if version == "v1" and any(hmac.compare_digest(value, e) for e in expected):
            payload: dict[str, Any] = json.loads(raw)
            return payload
    raise WebhookVerificationError("No matching signature.")
