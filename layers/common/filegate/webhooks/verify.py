"""Receiver-side verification of a Standard Webhooks delivery (what our docs tell customers to do)."""

from __future__ import annotations

import base64
import binascii
import hmac
import json
import time
from collections.abc import Mapping
from typing import Any

from filegate.webhooks.signing import (
    HEADER_ID,
    HEADER_SIGNATURE,
    HEADER_TIMESTAMP,
    SIGNATURE_VERSION,
    InvalidWebhookSecret,
    decode_secret,
    signature_bytes,
)

DEFAULT_TOLERANCE_SECONDS = 300
_MAX_SIGNATURES = 16  # a header is a handful of signatures; a huge one is not worth hashing through


class WebhookVerificationError(Exception):
    """The delivery is not authentic, is stale, or is malformed. Reject it (e.g. with a 400)."""


def verify(
    payload: bytes | str,
    headers: Mapping[str, str],
    secret: str | bytes,
    tolerance: int = DEFAULT_TOLERANCE_SECONDS,
    *,
    now: float | None = None,
) -> dict[str, Any]:
    """The parsed JSON body if one of the ``v1`` signatures matches and the timestamp is fresh.

    ``payload`` must be the raw request body, before any JSON parsing. Header names are matched
    case-insensitively. ``now`` (unix seconds) is for tests.
    """
    lowered = {name.lower(): value for name, value in headers.items()}
    msg_id = lowered.get(HEADER_ID)
    msg_timestamp = lowered.get(HEADER_TIMESTAMP)
    msg_signature = lowered.get(HEADER_SIGNATURE)
    if not (msg_id and msg_timestamp and msg_signature):
        raise WebhookVerificationError("Missing required webhook headers.")

    # Integer seconds only; int() alone would also take " 12", "+12" and "1_2".
    if not (msg_timestamp.isascii() and msg_timestamp.isdigit() and len(msg_timestamp) <= 12):
        raise WebhookVerificationError("Invalid webhook-timestamp header.")
    timestamp = int(msg_timestamp)
    current = time.time() if now is None else now
    if timestamp < current - tolerance:
        raise WebhookVerificationError("Message timestamp too old.")
    if timestamp > current + tolerance:
        raise WebhookVerificationError("Message timestamp too new.")

    try:
        key = decode_secret(secret, min_bytes=1)
    except InvalidWebhookSecret as exc:
        raise WebhookVerificationError(f"Unusable webhook secret: {exc}") from exc
    body = payload.encode("utf-8") if isinstance(payload, str) else payload
    try:
        expected = signature_bytes(key, msg_id, timestamp, body)
    except UnicodeEncodeError as exc:
        raise WebhookVerificationError("Invalid webhook-id header.") from exc

    matched = False
    for versioned in msg_signature.split(" ")[:_MAX_SIGNATURES]:
        version, _, encoded = versioned.partition(",")
        if version != SIGNATURE_VERSION or not encoded:
            continue  # other schemes (e.g. v1a) may sit alongside; they are not ours to judge
        try:
            candidate = base64.b64decode(encoded, validate=True)
        except (binascii.Error, ValueError):
            continue
        # No early exit: the work done does not depend on which signature matched.
        matched |= hmac.compare_digest(expected, candidate)
    if not matched:
        raise WebhookVerificationError("No matching signature found.")

    try:
        document = json.loads(body)
    except (UnicodeDecodeError, ValueError) as exc:
        raise WebhookVerificationError("The payload is not valid JSON.") from exc
    if not isinstance(document, dict):
        raise WebhookVerificationError("The payload is not a JSON object.")
    return document
