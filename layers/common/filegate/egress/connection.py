"""Connections to vetted addresses only (docs/architecture.md "one egress guard"), over the standard library's
http.client (light for Lambda).

``PinnedConnection`` dials one of the addresses ``egress.policy.vet_url`` checked, never a fresh DNS answer;
for https the TLS handshake still names and verifies the original host (SNI + certificate host name check).
A whole exchange, connect to last byte read, is bounded by a deadline: per-operation socket timeouts alone
would let a server that drips a byte at a time hold a worker forever, so one watchdog thread shuts the
socket at the deadline. The connect itself is also bounded by ``connect_timeout``.
"""

from __future__ import annotations

import contextlib
import functools
import heapq
import http.client
import itertools
import socket
import ssl
import threading
import time
from collections.abc import Callable

from filegate.egress.policy import VettedTarget


@functools.cache
def default_ssl_context() -> ssl.SSLContext:
    """System CAs, host name checking, TLS 1.2+. Built once per process: loading CAs costs milliseconds."""
    context = ssl.create_default_context()
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    return context


class _Alarm:
    __slots__ = ("callback", "cancelled")

    def __init__(self, callback: Callable[[], None]) -> None:
        self.callback = callback
        self.cancelled = False

    def cancel(self) -> None:
        self.cancelled = True


class _Watchdog:
    """One daemon thread firing deadline callbacks for all deliveries of the process.

    A thread per delivery (threading.Timer) costs a thread start on every attempt; this costs a heap push.
    """

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._heap: list[tuple[float, int, _Alarm]] = []
        self._order = itertools.count()
        self._thread: threading.Thread | None = None

    def schedule(self, deadline: float, callback: Callable[[], None]) -> _Alarm:
        alarm = _Alarm(callback)
        with self._cond:
            heapq.heappush(self._heap, (deadline, next(self._order), alarm))
            if self._thread is None or not self._thread.is_alive():  # first use, or after a fork
                self._thread = threading.Thread(target=self._run, name="egress-watchdog", daemon=True)
                self._thread.start()
            if self._heap[0][2] is alarm:  # only an earlier deadline changes how long the thread sleeps
                self._cond.notify()
        return alarm

    def _run(self) -> None:
        while True:
            with self._cond:
                while True:
                    while self._heap and self._heap[0][2].cancelled:
                        heapq.heappop(self._heap)
                    if not self._heap:
                        self._cond.wait()
                        continue
                    wait = self._heap[0][0] - time.monotonic()
                    if wait <= 0:
                        alarm = heapq.heappop(self._heap)[2]
                        break
                    self._cond.wait(wait)
            if not alarm.cancelled:
                with contextlib.suppress(Exception):  # a failing callback must not stop the watchdog
                    alarm.callback()


watchdog = _Watchdog()


class PinnedConnection(http.client.HTTPConnection):
    """An HTTP(S) connection to one of the target's vetted addresses, abortable from another thread."""

    def __init__(
        self,
        target: VettedTarget,
        deadline: float,
        ssl_context: ssl.SSLContext | None,
        connect_timeout: float | None = None,
    ) -> None:
        super().__init__(target.host, target.port, timeout=max(deadline - time.monotonic(), 0.001))
        self._target = target
        self._deadline = deadline
        self._connect_timeout = connect_timeout
        self._ssl_context = ssl_context
        self._lock = threading.Lock()
        self._current: socket.socket | None = None
        self.aborted = False
        self.remote_address: str | None = None

    def remaining(self) -> float:
        left = self._deadline - time.monotonic()
        if left <= 0:
            raise TimeoutError("deadline reached")
        return left

    def abort(self) -> None:
        """Called by the watchdog: a blocked connect/send/recv returns at once."""
        with self._lock:
            self.aborted = True
            self._shutdown(self._current)

    @staticmethod
    def _shutdown(sock: socket.socket | None) -> None:
        if sock is None:
            return
        # The base method on purpose: SSLSocket.shutdown would also drop the TLS state under the reader.
        with contextlib.suppress(OSError):
            socket.socket.shutdown(sock, socket.SHUT_RDWR)

    def _track(self, sock: socket.socket) -> None:
        with self._lock:
            self._current = sock
            if self.aborted:
                self._shutdown(sock)

    def connect(self) -> None:
        raw: socket.socket | None = None
        last_error: OSError | None = None
        for address in self._target.addresses:  # all were vetted; try the next only if one is unreachable
            try:
                budget = self.remaining()
                if self._connect_timeout is not None:
                    budget = min(budget, self._connect_timeout)
                raw = socket.create_connection((address, self._target.port), timeout=budget)
            except TimeoutError:
                raise
            except OSError as exc:
                last_error = exc
                continue
            self.remote_address = address
            break
        if raw is None:
            raise last_error or OSError("no address to connect to")
        self._track(raw)
        sock: socket.socket = raw
        if self._target.scheme == "https":
            raw.settimeout(self.remaining())
            context = self._ssl_context or default_ssl_context()
            sock = context.wrap_socket(raw, server_hostname=self._target.host)
            self._track(sock)
        self.sock = sock
