"""One webhook delivery attempt through the egress guard (``filegate.egress``).

The connection goes to an address that ``egress.policy.vet_url`` checked (``egress.connection``); the whole
attempt, connect to last byte read, is bounded by ``timeout``. Redirects are never followed. Only a small
excerpt of the response is read.

Use ``vet_and_deliver`` for every attempt: it re-resolves and re-checks the URL first (docs/api.md §5, DNS
rebinding), then delivers to the addresses of that check.
"""

from __future__ import annotations

import contextlib
import http.client
import ssl
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Final

from filegate.egress.connection import PinnedConnection, watchdog
from filegate.egress.policy import RefusedDestination, Resolver, VettedTarget, vet_url

DEFAULT_TIMEOUT_SECONDS: Final = 10.0
MAX_RESPONSE_EXCERPT_BYTES: Final = 512
MAX_LOCATION_CHARS: Final = 200
USER_AGENT: Final = "FileGate-Webhooks/1.0"
# Set by delivery itself; a caller's value would desynchronize framing or the pinned host.
_RESERVED_HEADERS: Final = frozenset({"host", "content-length", "connection", "transfer-encoding"})

# DeliveryResult.error_kind values. Every failure is retried per the schedule; the kind is for the log.
ERROR_TIMEOUT: Final = "timeout"
ERROR_CONNECT: Final = "connect_error"
ERROR_TLS: Final = "tls_error"
ERROR_NETWORK: Final = "network_error"
ERROR_PROTOCOL: Final = "protocol_error"
ERROR_REDIRECT: Final = "redirect"
ERROR_HTTP_STATUS: Final = "http_status"
ERROR_UNSAFE_URL: Final = "unsafe_url"
ERROR_INVALID_REQUEST: Final = "invalid_request"


@dataclass(frozen=True)
class DeliveryResult:
    status_code: int | None  # None when no HTTP response was received
    error: str | None  # "<kind>: <detail>", None on success
    latency_ms: float
    response_excerpt: str  # at most MAX_RESPONSE_EXCERPT_BYTES of the body, decoded leniently
    error_kind: str | None = None
    remote_address: str | None = None  # the vetted address actually connected to

    @property
    def ok(self) -> bool:
        return self.error is None and self.status_code is not None and 200 <= self.status_code < 300


def _describe(exc: BaseException, aborted: bool, timeout: float) -> tuple[str, str]:
    if aborted or isinstance(exc, TimeoutError):
        return ERROR_TIMEOUT, f"no complete response within {timeout:g} s"
    if isinstance(exc, ssl.SSLCertVerificationError):
        return ERROR_TLS, str(exc.verify_message or exc)
    if isinstance(exc, ssl.SSLError):
        return ERROR_TLS, str(exc.reason or exc)
    if isinstance(exc, ConnectionRefusedError):
        return ERROR_CONNECT, "connection refused"
    if isinstance(exc, http.client.HTTPException):
        return ERROR_PROTOCOL, f"{type(exc).__name__}: {exc}"[:200]
    if isinstance(exc, OSError):
        return ERROR_NETWORK, exc.strerror or str(exc) or type(exc).__name__
    return ERROR_INVALID_REQUEST, str(exc)[:200]


def _failure(
    kind: str,
    detail: str,
    started: float,
    status: int | None = None,
    excerpt: str = "",
    address: str | None = None,
) -> DeliveryResult:
    return DeliveryResult(
        status_code=status,
        error=f"{kind}: {detail}",
        latency_ms=(time.monotonic() - started) * 1000,
        response_excerpt=excerpt,
        error_kind=kind,
        remote_address=address,
    )


def deliver(
    target: VettedTarget,
    body: bytes,
    headers: Mapping[str, str],
    timeout: float = DEFAULT_TIMEOUT_SECONDS,
    *,
    ssl_context: ssl.SSLContext | None = None,
) -> DeliveryResult:
    """POST ``body`` with ``headers`` to ``target``; never raises for network or HTTP failures.

    Success is a 2xx status. A 3xx is a failure (``redirect``) and is not followed.
    """
    started = time.monotonic()
    conn = PinnedConnection(target, started + timeout, ssl_context)
    alarm = watchdog.schedule(started + timeout, conn.abort)
    status = 0
    location = ""
    excerpt = b""
    try:
        send_headers = {"content-type": "application/json", "user-agent": USER_AGENT}
        send_headers.update({k.lower(): v for k, v in headers.items() if k.lower() not in _RESERVED_HEADERS})
        conn.connect()
        conn.putrequest("POST", target.path, skip_host=True, skip_accept_encoding=True)
        conn.putheader("Host", target.host_header)
        for name, value in send_headers.items():
            conn.putheader(name, value)
        conn.putheader("Content-Length", str(len(body)))
        conn.putheader("Connection", "close")
        if conn.sock is not None:
            conn.sock.settimeout(conn.remaining())
        conn.endheaders(body)
        if conn.sock is not None:
            conn.sock.settimeout(conn.remaining())
        response = conn.getresponse()
        if conn.aborted:  # the watchdog cut the headers short: whatever parsed is not a real response
            raise TimeoutError("deadline reached while reading the response")
        status = response.status
        location = response.getheader("Location") or ""
        # read1: whatever is there, up to the cap; never wait for a whole large body. The status is what
        # counts: a broken body after it does not change the outcome.
        with contextlib.suppress(OSError, http.client.HTTPException):
            excerpt = response.read1(MAX_RESPONSE_EXCERPT_BYTES)
    except (OSError, http.client.HTTPException, ValueError) as exc:
        kind, detail = _describe(exc, conn.aborted, timeout)
        return _failure(kind, detail, started, address=conn.remote_address)
    finally:
        alarm.cancel()
        conn.close()

    text = excerpt.decode("utf-8", errors="replace")
    if 200 <= status < 300:
        return DeliveryResult(
            status_code=status,
            error=None,
            latency_ms=(time.monotonic() - started) * 1000,
            response_excerpt=text,
            remote_address=conn.remote_address,
        )
    if 300 <= status < 400:
        detail = f"{status} not followed" + (f" (Location: {location[:MAX_LOCATION_CHARS]})" if location else "")
        return _failure(ERROR_REDIRECT, detail, started, status, text, conn.remote_address)
    return _failure(ERROR_HTTP_STATUS, str(status), started, status, text, conn.remote_address)


def vet_and_deliver(
    url: str,
    body: bytes,
    headers: Mapping[str, str],
    *,
    allow_insecure_loopback: bool = False,
    resolver: Resolver | None = None,
    timeout: float = DEFAULT_TIMEOUT_SECONDS,
    ssl_context: ssl.SSLContext | None = None,
) -> DeliveryResult:
    """One delivery attempt as the worker runs it: re-resolve and re-check ``url`` now, then deliver to the
    addresses just checked. A URL that has become unsafe is a failed attempt (``unsafe_url``), not an error.
    Resolution time counts against ``timeout``.
    """
    started = time.monotonic()
    try:
        target = vet_url(url, allow_insecure_loopback=allow_insecure_loopback, resolver=resolver)
    except RefusedDestination as exc:
        return _failure(ERROR_UNSAFE_URL, exc.reason, started)
    remaining = timeout - (time.monotonic() - started)
    if remaining <= 0:
        return _failure(ERROR_TIMEOUT, f"name resolution took the whole {timeout:g} s", started)
    return deliver(target, body, headers, remaining, ssl_context=ssl_context)
