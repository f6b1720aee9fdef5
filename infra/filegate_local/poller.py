"""The thread every event source of the local stack runs in, and Lambda's reading of a partial batch response.
A poll that raised (moto down or busy) is logged and retried after a back-off doubling up to a cap.
"""

import logging
import threading
from collections.abc import Iterable, Mapping
from typing import Any

log = logging.getLogger("filegate_local.events")  # the event sources'

ERROR_BACKOFF_FIRST_SECONDS = 0.5
ERROR_BACKOFF_MAX_SECONDS = 10.0


def backoff_seconds(attempt: int, first: float, cap: float) -> float:
    """first, 2·first, 4·first, … up to cap, for attempt 1, 2, 3, …"""
    return float(min(cap, first * 2 ** min(max(0, attempt - 1), 30)))


def failed_ids(ok: bool, result: Any, ids: Iterable[str]) -> set[str]:
    """The records of a batch Lambda counts as failed, from the function's reply (None for a mapping without
    ReportBatchItemFailures): all of them after a function error, or when the reply is not a partial batch
    response or reports an empty, null or unknown `itemIdentifier`."""
    everything = set(ids)
    if not ok or not isinstance(result, Mapping | None):
        return everything
    if not isinstance(failures := (result or {}).get("batchItemFailures") or [], list):
        return everything
    reported = [item.get("itemIdentifier") if isinstance(item, Mapping) else None for item in failures]
    return set(reported) if all(isinstance(i, str) and i in everything for i in reported) else everything


class PollerThread(threading.Thread):
    """Calls its subclass's `poll()` (whether it found work) until `stop` is set; after n idle polls in a row
    it waits `idle_seconds(n)` (None: until woken) unless `wake()` ends the wait."""

    def __init__(self, name: str, stop: threading.Event) -> None:
        super().__init__(name=name, daemon=True)
        self.stop_event, self._woken = stop, threading.Event()
        self.wake = self._woken.set
        self.thread = self  # what tests/integration/test_local_ready.py checks is alive

    def idle_seconds(self, idle_polls: int) -> float | None:
        return None

    def run(self) -> None:
        failures = idle = 0
        while not self.stop_event.is_set():
            try:
                failures, idle = 0, 0 if self.poll() else idle + 1
                wait = self.idle_seconds(idle) if idle else 0.0
            except Exception:  # a transient moto/network error must not kill the event source
                if self.stop_event.is_set():
                    return  # moto stopped first
                failures += 1
                log.exception("%s failed (%d in a row); retrying", self.name, failures)
                wait = backoff_seconds(failures, ERROR_BACKOFF_FIRST_SECONDS, ERROR_BACKOFF_MAX_SECONDS)
            if not self.stop_event.is_set() and (wait is None or wait > 0):
                self._woken.wait(wait)
            self._woken.clear()


def wake_all(pollers: Iterable[PollerThread]) -> None:
    for poller in pollers:
        poller.wake()
