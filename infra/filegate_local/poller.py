"""The thread every event source of the local stack runs in: SQS queues, DynamoDB streams, log subscriptions.

A `PollerThread` calls `poll_once()` until the stack's stop event is set. A poll that found nothing to do
is followed by a wait of `idle_seconds(n)` (n: idle polls in a row), cut short by `wake()` or by stopping,
so an idle stack does not spin; a poll that raised is logged and retried after a back-off that doubles
up to a cap, so a moto that is down or busy is not hammered. Stopping is bounded: the loop checks the stop
event between polls, `wake()` ends a wait at once, and `join` takes a timeout.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterable

log = logging.getLogger("filegate_local")

ERROR_BACKOFF_FIRST_SECONDS = 0.5
ERROR_BACKOFF_MAX_SECONDS = 10.0


def backoff_seconds(attempt: int, first: float, cap: float) -> float:
    """first, 2·first, 4·first, … up to cap, for attempt 1, 2, 3, …"""
    return float(min(cap, first * 2 ** max(0, attempt - 1)))


class PollerThread:
    """One daemon thread running `poll_once` in a loop (subclasses say what one poll is)."""

    def __init__(self, name: str, stop: threading.Event) -> None:
        self.name = name
        self._stop = stop
        self._wake = threading.Event()
        self.thread = threading.Thread(target=self._run, name=name, daemon=True)

    # ------------------------------------------------------------------ what subclasses define

    def poll_once(self) -> bool:
        """One round of work; whether it found any (then the next round starts at once)."""
        raise NotImplementedError

    def idle_seconds(self, idle_polls: int) -> float | None:
        """How long to wait after `idle_polls` rounds in a row found nothing (None: until woken)."""
        return 0.0

    # ------------------------------------------------------------------ lifecycle

    def start(self) -> None:
        self.thread.start()

    def wake(self) -> None:
        """End the current idle wait: there may be work (or the stack is stopping)."""
        self._wake.set()

    def join(self, timeout: float) -> None:
        self.thread.join(timeout)

    @property
    def stopping(self) -> bool:
        return self._stop.is_set()

    def pause(self, seconds: float | None) -> None:
        """Wait up to `seconds` (None: indefinitely), unless woken or stopped first."""
        if seconds is not None and seconds <= 0:
            return
        if not self.stopping:
            self._wake.wait(seconds)
        self._wake.clear()

    def _run(self) -> None:
        failures = idle = 0
        while not self.stopping:
            try:
                busy = self.poll_once()
            except Exception:  # keep polling: a transient moto/network error must not kill the event source
                if self.stopping:
                    return
                failures += 1
                log.exception("%s failed (%d in a row); retrying", self.name, failures)
                self.pause(backoff_seconds(failures, ERROR_BACKOFF_FIRST_SECONDS, ERROR_BACKOFF_MAX_SECONDS))
                continue
            failures = 0
            idle = 0 if busy else idle + 1
            if idle:
                self.pause(self.idle_seconds(idle))


def wake_all(pollers: Iterable[PollerThread]) -> None:
    for poller in pollers:
        poller.wake()
