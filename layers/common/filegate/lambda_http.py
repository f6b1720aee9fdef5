"""The one way an HTTP function becomes a Lambda handler: its FastAPI app behind Mangum.

Mangum derives the ASGI ``server`` tuple from the client's ``Host`` (and ``X-Forwarded-Port``) header
with ``host.split(":")`` and ``int(port)``, so ``Host: [::1]:3000``, ``Host: 127.0.0.1:abc`` or two Host
headers raise inside Mangum, before any exception handler of ours, and API Gateway answers 502. No client
header may cause a 5xx, and nothing in FileGate reads the server tuple, so the event's Host and
X-Forwarded-Port are reduced here to a single value Mangum can parse, or dropped.
"""

from __future__ import annotations

import re
from typing import Any

from mangum import Mangum
from mangum.types import ASGI

from filegate.observability import Handler

# A DNS name or IPv4 address with an optional decimal port: what Mangum's parser accepts.
_PARSEABLE_HOST = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9.-]{0,252})(?::[0-9]{1,5})?")
_PORT = re.compile(r"[0-9]{1,5}")
_GUARDED = {"host": _PARSEABLE_HOST, "x-forwarded-port": _PORT}


def _single_parseable(values: list[Any], pattern: re.Pattern[str]) -> str | None:
    """The header's value if the client sent exactly one and it parses; otherwise none at all."""
    if len(values) != 1 or not isinstance(values[0], str):
        return None
    return values[0] if pattern.fullmatch(values[0]) else None


def sanitize_event(event: dict[str, Any]) -> dict[str, Any]:
    """The event with its Host and X-Forwarded-Port headers safe for Mangum (a copy; the event is kept)."""
    headers: dict[str, Any] = dict(event.get("headers") or {})
    multi: dict[str, Any] = dict(event.get("multiValueHeaders") or {})
    for name, pattern in _GUARDED.items():
        in_single = [k for k in headers if k.lower() == name]
        in_multi = [k for k in multi if k.lower() == name]
        # API Gateway puts the last value in `headers` and every value in `multiValueHeaders`.
        values: list[Any] = []
        for key in in_multi:
            listed = multi.pop(key)
            values.extend(listed if isinstance(listed, list) else [listed])
        for key in in_single:
            value = headers.pop(key)
            if not in_multi:
                values.append(value)
        safe = _single_parseable(values, pattern)
        if safe is not None:
            headers[name] = safe
            if in_multi:
                multi[name] = [safe]
    return {**event, "headers": headers, "multiValueHeaders": multi or None}


def http_handler(app: ASGI) -> Handler:
    """``app`` as a Lambda handler for API Gateway proxy events."""
    adapter = Mangum(app, lifespan="off")

    def handle(event: dict[str, Any], context: Any) -> Any:
        return adapter(sanitize_event(event), context)

    return handle
