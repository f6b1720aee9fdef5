"""The HTTP transport of the local gateway: a ThreadingHTTPServer on 127.0.0.1 that reads one request at a
time (request line, headers, a Content-Length or chunked body, within bounds and time limits), hands it to
the request path (`Gateway.handle`) and writes the answer in one send.

Nothing a client sends can hang a thread or go unanswered: malformed requests, an oversized body and a body
that stops short of its Content-Length get the API's DEFAULT_4XX / REQUEST_TOO_LARGE gateway response
through `protocol_error`, and the connection is closed.
"""

from __future__ import annotations

import contextlib
import logging
import re
import socket
import threading
import time
from dataclasses import dataclass
from email.errors import MissingHeaderBodySeparatorDefect
from email.utils import formatdate
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Protocol

from filegate_local.events import IncomingRequest

log = logging.getLogger("filegate_local.gateway")

MAX_PAYLOAD_BYTES = 10 * 1024 * 1024  # API Gateway's payload limit
MAX_REQUEST_LINE = 8192
IDLE_CONNECTION_SECONDS = 30  # silence before a request starts: a slow client never pins a thread
# Silence in the middle of a body: the client sent less than its Content-Length and waits for an answer.
# Loopback clients never pause this long while sending, so this is a short body, not a slow one.
BODY_STALL_SECONDS = 2.0


@dataclass
class HttpResponse:
    status: int
    headers: list[tuple[str, str]]
    body: bytes
    close: bool = False
    answered_by: str = "gateway"  # or the logical id of the function whose proxy response this is


class RequestPath(Protocol):
    """What the transport needs from the gateway behind it."""

    def handle(self, request: IncomingRequest) -> HttpResponse: ...

    def protocol_error(self, status: int, source_ip: str, headers: list[tuple[str, str]]) -> HttpResponse: ...


class GatewayServer(ThreadingHTTPServer):
    """One thread per connection; tracks connections so stopping closes the idle keep-alive ones."""

    daemon_threads = True
    block_on_close = False  # server_close must not wait for requests in flight: stopping has a deadline
    allow_reuse_address = True
    request_queue_size = 256
    gateway: RequestPath

    def __init__(self, address: tuple[str, int], handler: type[BaseHTTPRequestHandler]) -> None:
        self._connections: set[socket.socket] = set()
        self._connections_lock = threading.Lock()
        super().__init__(address, handler)

    def process_request(self, request: Any, client_address: Any) -> None:
        with self._connections_lock:
            self._connections.add(request)
        super().process_request(request, client_address)

    def shutdown_request(self, request: Any) -> None:
        with self._connections_lock:
            self._connections.discard(request)
        super().shutdown_request(request)

    def close_connections(self) -> None:
        """Close idle keep-alive connections so their threads end with the server."""
        with self._connections_lock:
            connections = list(self._connections)
        for connection in connections:
            with contextlib.suppress(OSError):
                connection.shutdown(socket.SHUT_RDWR)


class _BodyTooLarge(Exception):
    pass


class _BadRequest(Exception):
    pass


class GatewayRequestHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "filegate-local"
    sys_version = ""
    timeout = IDLE_CONNECTION_SECONDS
    server: GatewayServer

    # ------------------------------------------------------------------ request loop

    def setup(self) -> None:
        super().setup()
        # Never let Nagle hold a small segment (a 100 Continue, the tail of a response) until the client's
        # delayed ACK: up to 40 ms per exchange, even on loopback.
        with contextlib.suppress(OSError):
            self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def handle_one_request(self) -> None:
        """Like BaseHTTPRequestHandler's, but every method goes to the gateway and nothing can hang it."""
        try:
            self.raw_requestline = self.rfile.readline(MAX_REQUEST_LINE + 1)
            if len(self.raw_requestline) > MAX_REQUEST_LINE:
                self.requestline = self.request_version = self.command = ""
                self.send_error(414)
                return
            if not self.raw_requestline:
                self.close_connection = True
                return
            if not self.parse_request():
                return
            self._serve()
            self.wfile.flush()
        except (TimeoutError, ConnectionError, OSError):
            self.close_connection = True

    def handle_expect_100(self) -> bool:
        # Refuse an oversized body before the client sends it.
        try:
            length = self._content_length()
        except _BadRequest:
            length = None
        if length is not None and length > MAX_PAYLOAD_BYTES:
            self._write(self.server.gateway.protocol_error(413, self.client_address[0], self._header_list()))
            return False
        return super().handle_expect_100()

    def send_error(self, code: int, message: str | None = None, explain: str | None = None) -> None:
        # Malformed request lines and headers end here (400, 414, 431, 505...): a JSON gateway response.
        self.close_connection = True
        # Answer with a status line and headers even when the request line was not HTTP/1.x at all.
        self.request_version = "HTTP/1.1"
        with contextlib.suppress(OSError):
            response = self.server.gateway.protocol_error(code, self.client_address[0], [])
            response.status = code
            self._write(response)

    def log_message(self, format: str, *args: Any) -> None:
        log.debug("%s - %s", self.address_string(), format % args)

    def _header_list(self) -> list[tuple[str, str]]:
        return list(self.headers.items())

    # ------------------------------------------------------------------ body

    def _content_length(self) -> int | None:
        values = self.headers.get_all("Content-Length") or []
        if not values:
            return None
        if len(set(values)) != 1 or not values[0].strip().isdigit():
            raise _BadRequest("invalid Content-Length")
        return int(values[0].strip())

    def _read_body(self) -> bytes:
        """The request body, or _BadRequest / _BodyTooLarge; a body that stops arriving is a short one."""
        self.connection.settimeout(BODY_STALL_SECONDS)
        try:
            return self._read_framed_body()
        except TimeoutError as exc:
            raise _BadRequest("body shorter than Content-Length") from exc
        finally:
            self.connection.settimeout(self.timeout)

    def _read_framed_body(self) -> bytes:
        chunked = "chunked" in (self.headers.get("Transfer-Encoding") or "").lower()
        length = self._content_length()
        if chunked and length is not None:
            raise _BadRequest("both Content-Length and Transfer-Encoding")
        if chunked:
            return self._read_chunked()
        if length is None or length == 0:
            return b""
        if length > MAX_PAYLOAD_BYTES:
            raise _BodyTooLarge
        return self._read_exactly(length, "body shorter than Content-Length")

    def _read_exactly(self, size: int, short_message: str) -> bytes:
        data = self.rfile.read(size)
        if len(data) != size:
            raise _BadRequest(short_message)
        return data

    def _read_chunked(self) -> bytes:
        parts: list[bytes] = []
        total = 0
        while True:
            line = self.rfile.readline(1024)
            if not line.endswith(b"\n"):
                raise _BadRequest("bad chunk header")
            try:
                size = int(line.split(b";")[0].strip(), 16)
            except ValueError as exc:
                raise _BadRequest("bad chunk size") from exc
            if size == 0:
                while self.rfile.readline(8192) not in (b"\r\n", b"\n", b""):
                    pass  # trailers
                return b"".join(parts)
            total += size
            if total > MAX_PAYLOAD_BYTES:
                raise _BodyTooLarge
            parts.append(self._read_exactly(size, "truncated chunk"))
            self.rfile.readline(8)

    # ------------------------------------------------------------------ serving

    def _serve(self) -> None:
        gateway = self.server.gateway
        source_ip = self.client_address[0]
        # A header line without a colon ends the headers early. (Other "defects" the email parser reports,
        # like a multipart Content-Type without a body yet, are not errors in HTTP.)
        if any(isinstance(d, MissingHeaderBodySeparatorDefect) for d in self.headers.defects):
            self.close_connection = True
            self._write(gateway.protocol_error(400, source_ip, []))
            return
        try:
            body = self._read_body()
        except _BodyTooLarge:
            self.close_connection = True  # the unread body makes the connection unusable
            self._write(gateway.protocol_error(413, source_ip, self._header_list()))
            return
        except _BadRequest as exc:
            log.info("%s: bad request: %s", source_ip, exc)
            self.close_connection = True
            self._write(gateway.protocol_error(400, source_ip, self._header_list()))
            return
        raw_path, _, query = self.path.partition("?")
        if not raw_path.startswith("/"):  # absolute-form request targets
            match = re.match(r"^[a-zA-Z]+://[^/]*(/.*)?$", raw_path)
            raw_path = (match.group(1) if match else None) or "/"
        request = IncomingRequest(
            method=self.command.upper(),
            raw_path=raw_path,
            query=query,
            headers=list(self.headers.items()),
            body=body,
            source_ip=source_ip,
            gateway_port=self.server.server_address[1],
            protocol=self.request_version,
        )
        started = time.monotonic()
        response = gateway.handle(request)
        self._write(response, head=self.command.upper() == "HEAD")
        log.info(
            '%s "%s %s" %d %.1fms %s',
            source_ip,
            request.method,
            self.path,
            response.status,
            (time.monotonic() - started) * 1000,
            request.request_id,
        )

    def _write(self, response: HttpResponse, head: bool = False) -> None:
        self.send_response_only(response.status)
        for name, value in response.headers:
            self.send_header(name, value)
        self.send_header("Date", formatdate(usegmt=True))
        self.send_header("Content-Length", str(len(response.body)))
        if response.close or self.close_connection:
            self.close_connection = True
            self.send_header("Connection", "close")
        # The status line, headers and body in one sendall (one copy of the body is cheaper than a second
        # small segment on the wire).
        head_bytes = b""
        if self.request_version != "HTTP/0.9":  # what end_headers() does, without its separate write
            lines: list[bytes] = getattr(self, "_headers_buffer", [])
            head_bytes = b"".join([*lines, b"\r\n"])
            lines.clear()
        self.wfile.write(head_bytes + response.body if not head and response.body else head_bytes)
