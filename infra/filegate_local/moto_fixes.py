"""Where moto's DynamoDB Streams differ from AWS in ways the stream pollers would feel, made to agree, and
where moto holds memory for ever.

Applied in the moto server process (moto_process.py) before it serves:
- moto keeps every model instance it ever created (each DynamoDB item version, stream record, S3 object
  and its buffer, SQS message, table copy) in a class-wide list for its dashboard, so nothing deleted or
  overwritten is ever freed: the local stack grew by every write. The list holds weak references instead
  (`WeakTracked`): the dashboard still sees every live instance.
- Shard iterators expire 15 minutes after they are handed out (ExpiredIteratorException). moto keeps
  every iterator for ever, and a poller takes a new one with each read, a few a second at about 2 KB each:
  a day of `make dev` would hold gigabytes.
- An iterator reads the table's current shard. moto rolls a failed transaction back by putting deep copies
  of its tables in place, stream shard included; an iterator taken before would read on from the old
  copy, which nothing writes to any more, and the mapping would see no record again.
- An iterator does not keep a rolled-back table alive: after each transaction, iterators move to the
  current shard (see repoint_iterators).
- Stream reads wait for a transaction in progress. moto applies a transaction's writes one by one (each
  adds a stream record) before it finds one whose condition fails and rolls back; a read in between would
  hand out records that never happened, whose sequence numbers the next real records then reuse (and a
  reader after them would skip those).
- An iterator that points at records expired since (expiry trims records older than 24 hours) reads on from
  the oldest record kept, as Lambda's poller goes on after records it did not read in time.
"""

from __future__ import annotations

import threading
import time
import weakref
from collections.abc import Iterator
from typing import Any

SHARD_ITERATOR_LIFETIME_SECONDS = 15 * 60.0
PRUNE_AT_MOST = 1000  # iterators forgotten per call: bounded work on the request path
TRANSACTION_LOCK = threading.RLock()  # no stream read (nor TTL deletion) while a transaction may roll back


class WeakTracked:
    """What moto's `instances_tracked` lists do (append, iterate, len), without keeping anything alive."""

    def __init__(self, items: Any = ()) -> None:
        self._refs: list[weakref.ref[Any]] = []
        self._pruned_at = 64
        for item in items:
            self.append(item)

    def append(self, item: Any) -> None:
        try:
            self._refs.append(weakref.ref(item))
        except TypeError:
            return  # not weakly referenceable: not tracked (moto's dashboard only)
        if len(self._refs) >= 2 * self._pruned_at:  # drop dead references, amortised
            self._refs = [ref for ref in self._refs if ref() is not None]
            self._pruned_at = max(64, len(self._refs))

    def _live(self) -> list[Any]:
        return [item for ref in list(self._refs) if (item := ref()) is not None]

    def __iter__(self) -> Iterator[Any]:
        return iter(self._live())

    def __len__(self) -> int:
        return len(self._live())


def _track_weakly() -> None:
    from moto.core.common_models import BaseModel

    def new(cls: Any, *args: Any, **kwargs: Any) -> Any:
        instance = object.__new__(cls)
        tracked = cls.__dict__.get("instances_tracked")
        if not isinstance(tracked, WeakTracked):
            tracked = WeakTracked(tracked or ())
            cls.instances_tracked = tracked
        tracked.append(instance)
        return instance

    BaseModel.__new__ = staticmethod(new)  # type: ignore[method-assign]


def repoint_iterators(backend: Any) -> int:
    """Point every shard iterator of the backend's tables at the table's current shard; returns how many
    moved. After a rollback, iterators still hold the shard of the table copy that was rolled back, and
    through it that whole copy (every item, every record) for their 15 minutes: a copy per failed
    transaction, gigabytes in an hour of tests."""
    from moto.dynamodbstreams.models import dynamodbstreams_backends

    streams = dynamodbstreams_backends[backend.account_id][backend.region_name]
    moved = 0
    for iterator in list(streams.shard_iterators.values()):
        table = backend.tables.get(iterator.stream_shard.table.name)
        current = table.stream_shard if table is not None else None
        if current is not None and current is not iterator.stream_shard and current.id == iterator.stream_shard.id:
            iterator.stream_shard = current
            moved += 1
    return moved


def apply() -> None:
    """Patch moto's DynamoDB Streams backend (idempotent)."""
    from moto.core.exceptions import JsonRESTError
    from moto.dynamodb.models import DynamoDBBackend
    from moto.dynamodbstreams.models import DynamoDBStreamsBackend, ShardIterator

    if getattr(DynamoDBStreamsBackend, "_filegate_fixed", False):
        return
    _track_weakly()
    issue = DynamoDBStreamsBackend.get_shard_iterator
    read = DynamoDBStreamsBackend.get_records
    iterate = ShardIterator.get
    transact = DynamoDBBackend.transact_write_items

    def issued(backend: DynamoDBStreamsBackend, arn: str) -> None:
        born: dict[str, float] = backend.__dict__.setdefault("_filegate_born", {})
        now = time.monotonic()
        born[arn] = now
        for old in list(born)[:PRUNE_AT_MOST]:  # oldest first: dicts keep insertion order
            if born.get(old, now) > now - SHARD_ITERATOR_LIFETIME_SECONDS:
                break
            born.pop(old, None)
            backend.shard_iterators.pop(old, None)

    def get_shard_iterator(backend: DynamoDBStreamsBackend, *args: Any, **kwargs: Any) -> ShardIterator:
        iterator = issue(backend, *args, **kwargs)
        issued(backend, iterator.arn)
        return iterator

    def get_records(backend: DynamoDBStreamsBackend, iterator_arn: str, limit: int) -> dict[str, Any]:
        if iterator_arn not in backend.shard_iterators:
            raise JsonRESTError(
                "ExpiredIteratorException", "Iterator expired. The iterator was created more than 15 minutes ago."
            )
        result = read(backend, iterator_arn, limit)
        issued(backend, result["NextShardIterator"])
        return result

    def get(iterator: ShardIterator, limit: int = 1000) -> dict[str, Any]:
        with TRANSACTION_LOCK:
            table = iterator.streams_backend.dynamodb.tables.get(iterator.stream_shard.table.name)
            current = table.stream_shard if table is not None else None
            if current is not None and current.id == iterator.stream_shard.id:
                iterator.stream_shard = current
            iterator.sequence_number = max(iterator.sequence_number, iterator.stream_shard.starting_sequence_number)
            return iterate(iterator, limit)

    def transact_write_items(backend: DynamoDBBackend, *args: Any, **kwargs: Any) -> None:
        with TRANSACTION_LOCK:
            try:
                transact(backend, *args, **kwargs)
            finally:
                repoint_iterators(backend)

    DynamoDBStreamsBackend.get_shard_iterator = get_shard_iterator  # type: ignore[method-assign,assignment]
    DynamoDBStreamsBackend.get_records = get_records  # type: ignore[method-assign,assignment]
    ShardIterator.get = get  # type: ignore[method-assign,assignment]
    DynamoDBBackend.transact_write_items = transact_write_items  # type: ignore[method-assign,assignment]
    DynamoDBStreamsBackend._filegate_fixed = True  # type: ignore[attr-defined]
