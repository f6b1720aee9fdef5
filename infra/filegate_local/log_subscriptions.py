"""CloudWatch Logs subscriptions (`Type: CloudWatchLogs` events): a function's log lines, filtered, handed in
batches to the subscribed function, as CloudWatch Logs does (`{"awslogs": {"data": base64(gzip(JSON))}}`).

Only the filter patterns FileGate's template uses: `""` (every line) and `{ $.a.b = "*" }` (the JSON line has
that field, any value). Delivery is asynchronous, ``FLUSH_SECONDS`` after the first line of a batch; a failed
invocation is retried twice, as Lambda retries an asynchronous invoke, then dropped with a warning.
"""

from __future__ import annotations

import base64
import gzip
import json
import logging
import re
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from filegate_local.poller import PollerThread

if TYPE_CHECKING:  # workers imports the model, which reads these specs
    from filegate_local.workers import FunctionPool, LogSink

log = logging.getLogger("filegate_local.logs")

FLUSH_SECONDS = 0.2
MAX_BATCH = 1000  # log events per invocation
ASYNC_RETRIES = 2
_EXISTS = re.compile(r'^\{\s*\$((?:\.[A-Za-z_][A-Za-z0-9_]*)+)\s*=\s*"\*"\s*\}$')


@dataclass(frozen=True)
class LogSubscriptionSpec:
    function: str  # the subscriber's logical id
    event: str
    source: str  # the logical id of the function whose log group is read
    log_group: str
    filter_pattern: str


class UnsupportedFilterPattern(ValueError):
    pass


def matcher(pattern: str) -> Any:
    """A predicate on one log line for a filter pattern (only the forms the template uses)."""
    if not pattern.strip():
        return lambda _line: True
    found = _EXISTS.match(pattern.strip())
    if found is None:
        raise UnsupportedFilterPattern(f"filter pattern {pattern!r} is not emulated locally")
    path = found.group(1).strip(".").split(".")

    def matches(line: str) -> bool:
        try:
            value: Any = json.loads(line)
        except ValueError:
            return False
        for name in path:
            if not isinstance(value, dict) or name not in value:
                return False
            value = value[name]
        return value is not None

    return matches


def subscription_event(log_group: str, events: list[tuple[int, str]]) -> dict[str, Any]:
    data = {
        "messageType": "DATA_MESSAGE",
        "owner": "000000000000",
        "logGroup": log_group,
        "logStream": "local",
        "subscriptionFilters": ["local"],
        "logEvents": [{"id": str(i), "timestamp": ts, "message": msg} for i, (ts, msg) in enumerate(events)],
    }
    return {"awslogs": {"data": base64.b64encode(gzip.compress(json.dumps(data).encode())).decode()}}


class LogSubscription(PollerThread):
    """One subscription: lines offered by the source's sink, delivered by one thread once the first of them
    is FLUSH_SECONDS old (the thread sleeps while there is nothing to deliver)."""

    def __init__(self, spec: LogSubscriptionSpec, pool: FunctionPool, stop: threading.Event) -> None:
        super().__init__(f"logs-{spec.function}-{spec.event}", stop)
        self.spec = spec
        self.pool = pool
        self._matches = matcher(spec.filter_pattern)
        self._lock = threading.Lock()
        self._pending: list[tuple[int, str]] = []
        self._first_pending_at = 0.0  # monotonic time the oldest pending line came
        self.delivered = 0

    def offer(self, line: bytes) -> None:
        text = line.decode("utf-8", "replace").rstrip("\n")
        if self._matches(text):
            with self._lock:
                if not self._pending:
                    self._first_pending_at = time.monotonic()
                    self.wake()
                self._pending.append((int(time.time() * 1000), text))

    def _take(self) -> list[tuple[int, str]]:
        with self._lock:
            batch, self._pending = self._pending[:MAX_BATCH], self._pending[MAX_BATCH:]
            self._first_pending_at = time.monotonic()
        return batch

    def _flush_in(self) -> float | None:
        """Seconds until the pending lines are due (0: now), or None when there are none."""
        with self._lock:
            if not self._pending:
                return None
            return max(0.0, FLUSH_SECONDS - (time.monotonic() - self._first_pending_at))

    def poll_once(self) -> bool:
        if self._flush_in() != 0.0:
            return False
        self._deliver(self._take())
        return True

    def idle_seconds(self, idle_polls: int) -> float | None:
        return self._flush_in()

    def _deliver(self, batch: list[tuple[int, str]]) -> None:
        event = subscription_event(self.spec.log_group, batch)
        for _attempt in range(1 + ASYNC_RETRIES):
            invocation = self.pool.invoke(event)
            if invocation.ok or self.stopping:
                self.delivered += len(batch) if invocation.ok else 0
                return
        log.warning("%s.%s: %d log events dropped after retries", self.spec.function, self.spec.event, len(batch))


def start_log_subscriptions(
    specs: list[LogSubscriptionSpec],
    pools: Mapping[str, FunctionPool],
    sinks: Mapping[str, LogSink],
    stop: threading.Event,
) -> list[LogSubscription]:
    started: list[LogSubscription] = []
    for spec in specs:
        pool, sink = pools.get(spec.function), sinks.get(spec.source)
        if pool is None or sink is None:
            continue
        subscription = LogSubscription(spec, pool, stop)
        sink.subscribe(subscription.offer)
        subscription.start()
        started.append(subscription)
    return started
