"""Where moto's DynamoDB Streams differ from AWS's in ways the stream pollers would feel, and where moto holds
memory for ever; `apply()` patches moto before moto_process serves:

- moto keeps every model instance it creates (each item version, stream record, S3 object, table copy) in a
  class-wide `instances_tracked` list for its dashboard, so nothing was ever freed: weak references instead.
- Shard iterators expire 15 minutes after they are issued (ExpiredIteratorException) and are forgotten:
  moto keeps them for ever, and a poller takes a new one with each read.
- An iterator holds its table's name and reads the table's current shard: moto rolls a failed transaction
  back by swapping in deep copies of its tables, and an iterator holding the old shard would read on from a
  copy nothing writes to any more (and keep that whole copy alive).
- Stream reads (and TTL deletions, see expiry) wait for a transaction in progress: moto applies its writes,
  each adding a stream record, before one fails and it rolls back; a read in between would hand out records
  that never happened, whose sequence numbers the next real ones reuse.
- An iterator pointing at records trimmed since (see expiry) reads on from the oldest kept, as Lambda does.
"""

from __future__ import annotations

import contextlib
import itertools
import threading
import time
import weakref
from collections.abc import Iterator
from typing import Any

SHARD_ITERATOR_LIFETIME_SECONDS = 15 * 60.0
TRANSACTION_LOCK = threading.RLock()


class WeakTracked(weakref.WeakValueDictionary):  # type: ignore[type-arg]
    """What moto does with an `instances_tracked` list (append, iterate, len), keeping nothing alive."""

    def append(self, item: Any) -> None:
        with contextlib.suppress(TypeError):  # not weakly referenceable: only moto's dashboard misses it
            self[id(item)] = item

    def __iter__(self) -> Iterator[Any]:
        return iter([item for ref in list(self.data.values()) if (item := ref()) is not None])  # copied at once


def _new_tracked_weakly(cls: Any, *args: Any, **kwargs: Any) -> Any:
    instance = object.__new__(cls)
    if not isinstance(cls.__dict__.get("instances_tracked"), WeakTracked):
        cls.instances_tracked = WeakTracked()  # replaces moto's list (of instances made before `apply`)
    cls.instances_tracked.append(instance)
    return instance


def _hold_table_name(iterator: Any, shard: Any) -> None:  # `stream_shard`'s setter: moto's, as it issues one
    iterator.table_name, iterator.issued = shard.table.name, time.monotonic()


def _current_shard(iterator: Any) -> Any:
    return iterator.streams_backend.dynamodb.get_table(iterator.table_name).stream_shard


def apply() -> None:
    """Patch moto (idempotent)."""
    from moto.core.common_models import BaseModel
    from moto.core.exceptions import JsonRESTError
    from moto.dynamodb.models import DynamoDBBackend
    from moto.dynamodbstreams.models import DynamoDBStreamsBackend, ShardIterator

    if isinstance(ShardIterator.__dict__.get("stream_shard"), property):
        return
    iterate, read = ShardIterator.get, DynamoDBStreamsBackend.get_records
    transact = DynamoDBBackend.transact_write_items

    def get(iterator: Any, limit: int = 1000) -> dict[str, Any]:
        with TRANSACTION_LOCK:
            iterator.sequence_number = max(iterator.sequence_number, iterator.stream_shard.starting_sequence_number)
            return iterate(iterator, limit)

    def get_records(backend: Any, iterator_arn: str, limit: int) -> dict[str, Any]:
        iterators, before = backend.shard_iterators, time.monotonic() - SHARD_ITERATOR_LIFETIME_SECONDS
        expired = itertools.takewhile(lambda arn: getattr(iterators.get(arn), "issued", 0) <= before, list(iterators))
        for arn in list(expired):  # the oldest first, as a dict keeps them
            iterators.pop(arn, None)
        if iterator_arn not in backend.shard_iterators:
            message = "Iterator expired. The iterator was created more than 15 minutes ago."
            raise JsonRESTError("ExpiredIteratorException", message)
        return read(backend, iterator_arn, limit)

    def transact_write_items(backend: Any, *args: Any, **kwargs: Any) -> None:
        with TRANSACTION_LOCK:
            transact(backend, *args, **kwargs)

    BaseModel.__new__ = staticmethod(_new_tracked_weakly)  # type: ignore[method-assign]
    ShardIterator.stream_shard = property(_current_shard, _hold_table_name)  # type: ignore[attr-defined]
    ShardIterator.get = get  # type: ignore[method-assign]
    DynamoDBStreamsBackend.get_records = get_records  # type: ignore[method-assign]
    DynamoDBBackend.transact_write_items = transact_write_items  # type: ignore[method-assign]
