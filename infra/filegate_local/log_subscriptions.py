"""CloudWatch Logs subscriptions (`Type: CloudWatchLogs`): a function's log lines, filtered, handed in batches
to the subscribed function as CloudWatch Logs does (`{"awslogs": {"data": base64(gzip(JSON))}}`), FLUSH_SECONDS
after the first line of a batch; a failed invocation is retried twice, as Lambda retries an asynchronous invoke,
then dropped. Only the filter patterns the template uses: `""` and `{ $.a.b = "*" }` (the JSON line has it).
"""

from __future__ import annotations

import base64
import gzip
import json
import re
import threading
import time
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from filegate_local.poller import PollerThread, log

if TYPE_CHECKING:  # workers imports the model, which reads these specs
    from filegate_local.workers import FunctionPool, LogSink

FLUSH_SECONDS = 0.2
_EXISTS = re.compile(r'\{\s*\$((?:\.\w+)+)\s*=\s*"\*"\s*\}')


@dataclass(frozen=True)
class LogSubscriptionSpec:
    function: str  # the subscriber's logical id
    event: str
    source: str  # the logical id of the function whose log group is read
    log_group: str
    filter_pattern: str


class UnsupportedFilterPattern(ValueError):
    pass


def matcher(pattern: str) -> Callable[[str], bool]:
    """A predicate on one log line for a filter pattern (only the forms the template uses)."""
    if not pattern.strip():
        return lambda _line: True
    if (found := _EXISTS.fullmatch(pattern.strip())) is None:
        raise UnsupportedFilterPattern(f"filter pattern {pattern!r} is not emulated locally")

    def matches(line: str) -> bool:
        try:
            value: Any = json.loads(line)
        except ValueError:
            return False
        for name in found.group(1)[1:].split("."):
            value = value.get(name) if isinstance(value, dict) else None
        return value is not None

    return matches


def subscription_event(log_group: str, events: list[tuple[int, str]]) -> dict[str, Any]:
    log_events = [{"id": str(i), "timestamp": ts, "message": message} for i, (ts, message) in enumerate(events)]
    data = {"messageType": "DATA_MESSAGE", "owner": "000000000000", "logGroup": log_group, "logStream": "local"}
    data |= {"subscriptionFilters": ["local"], "logEvents": log_events}
    return {"awslogs": {"data": base64.b64encode(gzip.compress(json.dumps(data).encode())).decode()}}


class LogSubscription(PollerThread):
    """One subscription: offered its source's lines by the sink's writers, delivers them from its own thread."""

    def __init__(self, spec: LogSubscriptionSpec, pool: FunctionPool, stop: threading.Event) -> None:
        super().__init__(f"logs-{spec.function}-{spec.event}", stop)
        self.spec, self.pool, self._matches, self.delivered = spec, pool, matcher(spec.filter_pattern), 0
        self._pending: deque[tuple[int, str]] = deque()

    def offer(self, line: bytes) -> None:
        if self._matches(text := line.decode("utf-8", "replace").rstrip("\n")):
            self._pending.append((int(time.time() * 1000), text))
            self.wake()

    def _take(self) -> list[tuple[int, str]]:
        return [self._pending.popleft() for _ in range(len(self._pending))]

    def poll(self) -> bool:
        if not self._pending:
            return False
        self.stop_event.wait(FLUSH_SECONDS)  # what comes meanwhile goes in the same batch
        self._deliver(self._take())
        return True

    def _deliver(self, batch: list[tuple[int, str]]) -> None:
        event = subscription_event(self.spec.log_group, batch)
        for _attempt in range(3):  # Lambda retries an asynchronous invoke twice
            if (invocation := self.pool.invoke(event)).ok or self.stop_event.is_set():
                self.delivered += len(batch) if invocation.ok else 0
                return
        log.warning("%s: %d log events dropped after retries", self.name, len(batch))


def start_log_subscriptions(
    specs: list[LogSubscriptionSpec],
    pools: Mapping[str, FunctionPool],
    sinks: Mapping[str, LogSink],
    stop: threading.Event,
) -> list[LogSubscription]:
    started = [LogSubscription(spec, pools[spec.function], stop) for spec in specs]
    for subscription in started:
        sinks[subscription.spec.source].subscribe(subscription.offer)
        subscription.start()
    return started
