"""Driving races and faults of key and account changes deterministically, and seeing what they cost.

- :class:`Held` runs a change in a thread and holds it at one of the code's named checkpoints
  (filegate.keys.checkpoints) while the test does something else, then releases it.
- :func:`context_of` and :func:`served` play API Gateway's cache: an authorizer answer built now, and a
  request served from it later without calling the authorizer.
- :class:`DynamoDBCalls` counts the calls the code really sends, at the botocore clients of the tables'
  pynamodb connections (nothing of ours is replaced).
- :class:`StamperClock` stands in for the stamper's clock and sleep, so its wait for a change's caller
  takes no real time and a test can act "while the stamper waits".
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from filegate.context import AuthContext
from tests.service.harness import Response
from tests.service.helpers import Account


class Held:
    """Run ``work`` in a thread and hold it at checkpoint ``at`` until :meth:`release`."""

    def __init__(self, work: Callable[[], Any], at: str) -> None:
        self.reached = threading.Event()
        self.go = threading.Event()
        self.at = at
        self.result: Any = None
        self.error: BaseException | None = None
        self.thread = threading.Thread(target=self._run, daemon=True)
        self._work = work

    def _run(self) -> None:
        try:
            self.result = self._work()
        except BaseException as exc:
            self.error = exc

    def hook(self, name: str) -> None:
        if threading.current_thread() is self.thread and name == self.at and not self.reached.is_set():
            self.reached.set()
            assert self.go.wait(30), "never released"

    def start(self) -> Held:
        self.thread.start()
        assert self.reached.wait(30), f"never reached {self.at}"
        return self

    def release(self) -> Any:
        self.go.set()
        self.thread.join(30)
        return self.result


def context_of(account: Account, key: str, source_ip: str | None = None) -> dict[str, Any]:
    """The authorizer's answer for this key now: what API Gateway would cache and hand on for the TTL."""
    context = account.api.authorizer_context(
        "GET", "/v1/entitlements/me", key=key, source_ip=source_ip or account.source_ip
    )
    assert context is not None
    return context


def auth(context: dict[str, Any]) -> AuthContext:
    parsed = AuthContext.from_authorizer_context(context)
    assert parsed is not None
    return parsed


def served(account: Account, key: str, cached: dict[str, Any], source_ip: str | None = None) -> Response:
    """A request served from a cached policy, as API Gateway does while it caches the authorizer's answer."""
    return account.call(
        "GET", "/v1/entitlements/me", key=key, cached_authorizer=cached, source_ip=source_ip or account.source_ip
    )


def now() -> datetime:
    return datetime.now(UTC)


# ------------------------------------------------------------------ counting DynamoDB calls


@dataclass(frozen=True)
class Call:
    operation: str
    table: str
    params: dict[str, Any]

    @property
    def counter_id(self) -> str:
        return str((self.params.get("Key") or {}).get("counter_id", {}).get("S", ""))

    @property
    def is_stamp(self) -> bool:
        """A change stamp written on a rate item (filegate.db.counters.stamp)."""
        return self.operation == "UpdateItem" and "SET #s = :v" in str(self.params.get("UpdateExpression", ""))


WRITES = frozenset({"PutItem", "UpdateItem", "DeleteItem", "TransactWriteItems", "BatchWriteItem"})


@dataclass
class DynamoDBCalls:
    """The DynamoDB calls made while counting (``paused`` leaves out calls made meanwhile, by any thread)."""

    calls: list[Call] = field(default_factory=list)
    paused: bool = False
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def _seen(self, params: dict[str, Any], event_name: str, **_: Any) -> None:
        if self.paused:
            return
        operation = event_name.rsplit(".", 1)[-1]
        with self._lock:
            self.calls.append(Call(operation, str(params.get("TableName", "")), dict(params)))

    def writes(self, about: str = "") -> list[Call]:
        """Writes whose parameters mention ``about`` (an account or key id), all when empty."""
        return [c for c in self.calls if c.operation in WRITES and about in repr(c.params)]


@contextmanager
def dynamodb_calls() -> Iterator[DynamoDBCalls]:
    """Count every call to the tables the key changes use, made by this process meanwhile."""
    from filegate.db.accounts import AccountRecord
    from filegate.db.audit import AuditRecord
    from filegate.db.counters import CounterRecord
    from filegate.db.keys import KeyRecord

    counted = DynamoDBCalls()
    clients = {
        id(c): c
        for c in (m._get_connection().connection.client for m in (AccountRecord, AuditRecord, CounterRecord, KeyRecord))
    }
    for client in clients.values():
        client.meta.events.register("provide-client-params.dynamodb", counted._seen, unique_id=f"count-{id(counted)}")
    try:
        yield counted
    finally:
        for client in clients.values():
            client.meta.events.unregister("provide-client-params.dynamodb", unique_id=f"count-{id(counted)}")


# ------------------------------------------------------------------ the stamper's time


class StamperClock:
    """The stamper's clock and sleep: a wait moves the clock on at once, after running ``on_wait`` (once)."""

    def __init__(self) -> None:
        self.offset = timedelta()
        self.waited = 0.0
        self.on_wait: Callable[[], None] | None = None

    def now(self) -> datetime:
        return datetime.now(UTC) + self.offset

    def wait(self, seconds: float) -> None:
        action, self.on_wait = self.on_wait, None
        if action is not None:
            action()
        self.offset += timedelta(seconds=seconds)
        self.waited += seconds
