"""GET a URL through the egress guard, for URL imports (docs/api.md "Files" → "Import from a URL").

Every hop is vetted (``egress.policy.vet_url``) and dialled at the very addresses that were checked
(``egress.connection.PinnedConnection``). Redirects are followed by hand: at most ``max_redirects``, each
re-vetted, never from https down to http, and the caller's headers (a private link's ``Authorization``)
go to the original origin only. The body is read to the connection's close whatever ``Content-Length``
says, and counted against ``max_bytes`` on the bytes actually received; no content encoding is asked for
(``Accept-Encoding: identity``) and a compressed answer is refused. One deadline (the wall clock) bounds the
whole exchange, redirects included; each connect is also bounded by ``connect_timeout``.

Header values are never logged, nor put in an error message.
"""

from __future__ import annotations

import contextlib
import http.client
import re
import ssl
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Final
from urllib.parse import urljoin, urlsplit

from filegate.egress.connection import PinnedConnection, watchdog
from filegate.egress.policy import MAX_URL_LENGTH, RefusedDestination, Resolver, VettedTarget, vet_url
from filegate.errors import InvalidParameter

USER_AGENT: Final = "FileGate-Import/1.0"
MAX_HEADERS: Final = 10
MAX_HEADER_VALUE_CHARS: Final = 4096
REDIRECT_STATUSES: Final = frozenset({301, 302, 303, 307, 308})
CHUNK_BYTES: Final = 1 << 16
# Once the declared length has arrived, how long to wait for more bytes (a lying Content-Length) before
# taking the silence of a server that keeps the connection open, despite "Connection: close", as the end.
LINGER_SECONDS: Final = 2.0
# Set by the fetch itself: a caller's value would desynchronise framing, the pinned host or the encoding.
RESERVED_HEADERS: Final = frozenset(
    {
        "host",
        "content-length",
        "transfer-encoding",
        "connection",
        "keep-alive",
        "upgrade",
        "te",
        "trailer",
        "accept-encoding",
        "expect",
        "proxy-authorization",
        "proxy-connection",
    }
)
_TOKEN: Final = re.compile(r"^[!#$%&'*+.^_`|~0-9A-Za-z-]{1,64}$")
# A header value is visible ASCII, with spaces and tabs inside (RFC 9110 field-value): a value HTTP cannot
# carry as it is (Latin-1, UTF-8, control characters) is refused at the request, never when the job runs.
_VALUE: Final = re.compile(r"[\x21-\x7e]+(?:[ \t]+[\x21-\x7e]+)*|")

# FetchFailed codes: the file's `error.code` (docs/api.md).
IMPORT_REFUSED: Final = "import_refused"
IMPORT_FAILED: Final = "import_failed"
FILE_TOO_LARGE: Final = "file_too_large"


class FetchFailed(Exception):
    """The import could not fetch the URL; ``code`` is one of the codes above, ``message`` says why."""

    def __init__(self, code: str, message: str) -> None:
        self.code = code
        self.message = message
        super().__init__(f"{code}: {message}")


@dataclass(frozen=True)
class FetchLimits:
    max_bytes: int
    connect_timeout: float = 5.0
    wall_seconds: float = 600.0
    max_redirects: int = 5


def check_headers(headers: object, label: str = "headers") -> dict[str, str]:
    """A request's private-link headers, refused (422 naming ``label``) when they could smuggle a request:
    at most 10, token names, no CR/LF/NUL in values, none of the headers the fetch sets itself. Values are
    never quoted in a message."""
    if headers is None:
        return {}
    if not isinstance(headers, Mapping):
        raise InvalidParameter(f"{label}: must be an object of header names to values.")
    if len(headers) > MAX_HEADERS:
        raise InvalidParameter(f"{label}: at most {MAX_HEADERS} headers.")
    checked: dict[str, str] = {}
    for name, value in headers.items():
        if not isinstance(name, str) or not _TOKEN.fullmatch(name):
            raise InvalidParameter(f"{label}: header names must be HTTP tokens (letters, digits, '-').")
        if name.lower() in RESERVED_HEADERS:
            raise InvalidParameter(f"{label}.{name}: this header is set by FileGate and cannot be sent.")
        if name.lower() in (n.lower() for n in checked):
            raise InvalidParameter(f"{label}.{name}: given twice.")
        if not isinstance(value, str) or len(value) > MAX_HEADER_VALUE_CHARS or not _VALUE.fullmatch(value):
            raise InvalidParameter(
                f"{label}.{name}: must be a string of at most {MAX_HEADER_VALUE_CHARS} visible ASCII characters "
                "(spaces inside allowed; no line breaks, control or non-ASCII characters)."
            )
        checked[name] = value
    return checked


def _describe(exc: BaseException, aborted: bool, limits: FetchLimits) -> str:
    if aborted:
        return f"the download did not finish within {limits.wall_seconds:g} s"
    if isinstance(exc, TimeoutError):
        return f"no answer within the time limit (connect: {limits.connect_timeout:g} s)"
    if isinstance(exc, ssl.SSLCertVerificationError):
        return f"TLS certificate not accepted: {exc.verify_message or 'verification failed'}"
    # Never an exception's class name: the message is the customer's (docs/api.md §4, no internal names).
    if isinstance(exc, ssl.SSLError):
        return "the TLS handshake failed"
    if isinstance(exc, ConnectionRefusedError):
        return "the connection was refused"
    if isinstance(exc, http.client.HTTPException):
        return "the server's answer is not valid HTTP"
    if isinstance(exc, OSError):
        return f"network error: {exc.strerror}" if exc.strerror else "a network error ended the download"
    return "the download failed"


class Body:
    """The answer's bytes, as they arrive, counted against the cap (never against Content-Length)."""

    def __init__(
        self, conn: PinnedConnection, response: http.client.HTTPResponse, limits: FetchLimits, url: str
    ) -> None:
        self._conn = conn
        self._response = response
        self._limits = limits
        self.url = url  # the final URL, after redirects
        self.received = 0
        self.content_type = response.getheader("Content-Type")
        declared = response.getheader("Content-Length")
        self.declared_length = int(declared) if declared and declared.strip().isdigit() else None

    def chunks(self, size: int = CHUNK_BYTES) -> Iterator[bytes]:
        """What arrives, as it arrives (at most one socket read per chunk), to the connection's close."""
        lingering = False
        while True:
            if not lingering and self.declared_length is not None and self.received >= self.declared_length:
                lingering = self._linger()
            try:
                chunk = self._response.read1(size)
            except TimeoutError:
                if lingering and not self._conn.aborted:
                    return  # the declared length arrived and nothing followed: the whole body
                raise FetchFailed(IMPORT_FAILED, _describe(TimeoutError(), self._conn.aborted, self._limits)) from None
            except (OSError, http.client.HTTPException, ValueError) as exc:
                raise FetchFailed(IMPORT_FAILED, _describe(exc, self._conn.aborted, self._limits)) from None
            if self._conn.aborted:  # the watchdog shut the socket: what arrived is not the whole body
                raise FetchFailed(IMPORT_FAILED, _describe(TimeoutError(), True, self._limits))
            if not chunk:
                if self.declared_length is not None and self.received < self.declared_length:
                    raise FetchFailed(
                        IMPORT_FAILED,
                        f"the connection closed after {self.received} of {self.declared_length} bytes",
                    )
                return
            self.received += len(chunk)
            if self.received > self._limits.max_bytes:
                raise FetchFailed(
                    FILE_TOO_LARGE,
                    f"The file is over your plan's limit of {self._limits.max_bytes} bytes "
                    f"(more than {self._limits.max_bytes} bytes arrived); the download was stopped.",
                )
            yield chunk

    def _linger(self) -> bool:
        """Bound the wait for bytes past the declared length (see LINGER_SECONDS); False without a socket."""
        sock = self._conn.sock
        if sock is None:
            return False
        try:
            budget = min(LINGER_SECONDS, self._conn.remaining())
        except TimeoutError:
            return False  # the wall clock is up: the watchdog ends the read
        sock.settimeout(budget)
        return True


def _same_origin(a: VettedTarget, b: VettedTarget) -> bool:
    return a.origin == b.origin


def _vet(url: str, allow_insecure_loopback: bool, resolver: Resolver | None) -> VettedTarget:
    try:
        return vet_url(url, allow_insecure_loopback=allow_insecure_loopback, resolver=resolver)
    except RefusedDestination as exc:
        raise FetchFailed(IMPORT_REFUSED, f"The destination is not allowed: {exc.reason}.") from None


@contextlib.contextmanager
def fetch(
    url: str,
    headers: Mapping[str, str],
    limits: FetchLimits,
    *,
    allow_insecure_loopback: bool = False,
    resolver: Resolver | None = None,
    ssl_context: ssl.SSLContext | None = None,
) -> Iterator[Body]:
    """GET ``url`` and yield its body once a 2xx answer arrives; ``FetchFailed`` otherwise."""
    private = check_headers(headers)
    deadline = time.monotonic() + limits.wall_seconds
    origin = _vet(url, allow_insecure_loopback, resolver)
    target = origin
    current = url
    redirects = 0
    while True:
        conn = PinnedConnection(target, deadline, ssl_context, connect_timeout=limits.connect_timeout)
        alarm = watchdog.schedule(deadline, conn.abort)
        try:
            try:
                conn.connect()
                conn.putrequest("GET", target.path, skip_host=True, skip_accept_encoding=True)
                conn.putheader("Host", target.host_header)
                conn.putheader("User-Agent", USER_AGENT)
                conn.putheader("Accept", "*/*")
                conn.putheader("Accept-Encoding", "identity")
                if _same_origin(target, origin):  # a private link's headers never leave its origin
                    for name, value in private.items():
                        conn.putheader(name, value)
                conn.putheader("Connection", "close")
                if conn.sock is not None:
                    conn.sock.settimeout(conn.remaining())
                conn.endheaders()
                response = conn.getresponse()
            except (OSError, http.client.HTTPException, ValueError) as exc:
                raise FetchFailed(IMPORT_FAILED, _describe(exc, conn.aborted, limits)) from None
            if conn.aborted:
                raise FetchFailed(IMPORT_FAILED, _describe(TimeoutError(), True, limits))
            status = response.status
            if status in REDIRECT_STATUSES:
                location = response.getheader("Location") or ""
                if not location:
                    raise FetchFailed(IMPORT_FAILED, f"the server answered {status} without a Location")
                if redirects >= limits.max_redirects:
                    raise FetchFailed(IMPORT_FAILED, f"more than {limits.max_redirects} redirects")
                following = urljoin(current, location)
                if len(following) > MAX_URL_LENGTH:
                    raise FetchFailed(IMPORT_REFUSED, f"a redirect's URL is longer than {MAX_URL_LENGTH} characters")
                if target.scheme == "https" and urlsplit(following).scheme.lower() == "http":
                    raise FetchFailed(IMPORT_REFUSED, "a redirect from https to plain http is not followed")
                redirects += 1
                target = _vet(following, allow_insecure_loopback, resolver)
                current = following
                continue
            if not 200 <= status < 300 or status in (204, 205):
                raise FetchFailed(IMPORT_FAILED, f"the server answered HTTP {status}")
            encoding = (response.getheader("Content-Encoding") or "identity").strip().lower()
            if encoding not in ("", "identity"):
                raise FetchFailed(IMPORT_FAILED, "the server sent a compressed body although none was asked for")
            if not response.chunked:
                response.length = None  # read to the close: the cap counts what arrives, not what is declared
            yield Body(conn, response, limits, current)
            return
        finally:
            alarm.cancel()
            conn.close()
