"""A real webhook receiver for integration tests: an HTTP server on 127.0.0.1 in a thread.

Each path follows a script of responses, one per request, the last repeated: an HTTP status (``200``,
``500``), ``"slow"`` (holds the request past the dispatcher's timeout, then answers 200) or
``"redirect"`` (``302`` to ``/redirected``, which records whatever reaches it). Every request is recorded
with its raw body and headers, so tests verify the real bytes that arrived.
"""

from __future__ import annotations

import http.server
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field

Step = int | str
SLOW_SECONDS = 15.0  # above the dispatcher's 10 s timeout


@dataclass(frozen=True)
class Received:
    path: str
    headers: dict[str, str]  # lower-cased names
    body: bytes
    at: float  # time.time() when it arrived
    answered: Step


@dataclass
class Receiver:
    server: http.server.ThreadingHTTPServer
    scripts: dict[str, list[Step]] = field(default_factory=dict)
    received: list[Received] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    arrived: threading.Condition = field(default_factory=threading.Condition)
    release: threading.Event = field(default_factory=threading.Event)  # ends slow handlers at teardown

    @property
    def port(self) -> int:
        return int(self.server.server_address[1])

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def script(self, path: str, steps: Sequence[Step]) -> str:
        """Answer requests to ``path`` with ``steps`` in turn (the last one repeats); returns its URL."""
        with self.lock:
            self.scripts[path] = list(steps)
        return self.url(path)

    def next_step(self, path: str) -> Step:
        with self.lock:
            steps = self.scripts.get(path) or [200]
            return steps.pop(0) if len(steps) > 1 else steps[0]

    def requests_to(self, path: str) -> list[Received]:
        with self.lock:
            return [r for r in self.received if r.path == path]

    def wait_for(self, path: str, count: int, timeout: float) -> list[Received]:
        """At least ``count`` requests to ``path`` (waits up to ``timeout`` seconds)."""
        deadline = time.monotonic() + timeout
        with self.arrived:
            while len(self.requests_to(path)) < count:
                left = deadline - time.monotonic()
                if left <= 0:
                    got = self.requests_to(path)
                    raise AssertionError(f"{len(got)} of {count} requests reached {path} within {timeout}s")
                self.arrived.wait(left)
        return self.requests_to(path)


def _handler(receiver: Receiver) -> type[http.server.BaseHTTPRequestHandler]:
    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: object) -> None:  # quiet test output
            pass

        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length)
            path = self.path
            step = receiver.next_step(path)
            with receiver.lock:
                receiver.received.append(
                    Received(path, {k.lower(): v for k, v in self.headers.items()}, body, time.time(), step)
                )
            with receiver.arrived:
                receiver.arrived.notify_all()
            if step == "slow":
                receiver.release.wait(SLOW_SECONDS)
                step = 200
            if step == "redirect":
                self._answer(302, b"", {"Location": receiver.url("/redirected")})
                return
            status = int(step)
            self._answer(status, b"ok" if status < 400 else b"receiver error", {})

        def _answer(self, status: int, body: bytes, headers: dict[str, str]) -> None:
            try:
                self.send_response(status)
                for name, value in headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(body)))
                self.send_header("Connection", "close")
                self.end_headers()
                self.wfile.write(body)
            except OSError:
                pass  # the dispatcher gave up on a slow answer and closed the connection

    return Handler


@contextmanager
def running_receiver() -> Iterator[Receiver]:
    """A receiver on a free port of 127.0.0.1, stopped (and its slow handlers released) on exit."""
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), http.server.BaseHTTPRequestHandler)
    server.daemon_threads = True
    receiver = Receiver(server)
    server.RequestHandlerClass = _handler(receiver)
    thread = threading.Thread(target=server.serve_forever, name="webhook-receiver", daemon=True)
    thread.start()
    try:
        yield receiver
    finally:
        receiver.release.set()
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
