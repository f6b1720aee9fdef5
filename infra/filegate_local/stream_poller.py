"""DynamoDB stream event source mappings: read a table's stream in moto, invoke the function with its records.

As Lambda's stream poller does, per shard and in order (a shard's records are never given to two
invocations at once, and a record is never given before the ones ahead of it are done):
- records are read from the mapping's StartingPosition, those the FilterCriteria reject are dropped, and
  the rest go to the function in batches of at most BatchSize (waiting up to MaximumBatchingWindowInSeconds
  for a full one);
- a success moves the shard's checkpoint past the batch; with ReportBatchItemFailures the checkpoint moves
  to the lowest reported `itemIdentifier` (a SequenceNumber) and only the records from there are retried
  (an empty or null identifier, or one not in the batch, fails the whole batch);
- a function error (raised, timed out, crashed) splits the batch in two with BisectBatchOnFunctionError
  (not counted as a retry) and otherwise retries it, in order, after a short backoff; after
  MaximumRetryAttempts retries the batch is discarded (-1: retried for ever, the records never expire here).

`StreamReader` and `ShardCursor` hold the positions and decisions; the service harness shares them and
`stream_record`, so its stream events are the local stack's.
"""

from __future__ import annotations

import base64
import enum
import logging
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from botocore.exceptions import ClientError

from filegate_local.event_filters import passes
from filegate_local.model import StreamMappingSpec
from filegate_local.poller import PollerThread, backoff_seconds
from filegate_local.resources import client
from filegate_local.workers import FunctionPool

log = logging.getLogger("filegate_local.streams")

# Between reads of a stream: Lambda polls each shard about 4 times a second; an idle stream is read less and
# less often, up to IDLE_POLL_MAX_SECONDS, and at once again when a function ran (it may have written).
IDLE_POLL_SECONDS = 0.25
IDLE_POLL_MAX_SECONDS = 2.0
SHARD_REFRESH_SECONDS = 10.0  # DynamoDB opens new shards every few hours; look for them now and then
READ_LIMIT = 1000  # GetRecords' largest page
READ_AHEAD_BATCHES = 10  # records read but not yet done, per shard, in batches: bounds memory on a backlog
RETRY_BASE_SECONDS = 0.1
RETRY_MAX_SECONDS = 5.0
EVENT_VERSION = "1.1"  # what Lambda's DynamoDB events carry (moto's GetRecords says 1.0)


# ------------------------------------------------------------------ records


def _attribute_value(value: Any) -> Any:
    """An AttributeValue as DynamoDB's JSON has it: boto3 hands binary values over as bytes, Lambda as base64."""
    if isinstance(value, bytes | bytearray):
        return base64.b64encode(value).decode()
    if isinstance(value, Mapping):
        return {k: _attribute_value(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set):
        return [_attribute_value(v) for v in value]
    return value


def _epoch_seconds(value: Any) -> int:
    return int(value.timestamp()) if hasattr(value, "timestamp") else int(float(value))


def stream_record(raw: Mapping[str, Any], stream_arn: str, region: str) -> dict[str, Any]:
    """One record of a DynamoDB stream event, from a GetRecords record (the shape `sam local generate-event
    dynamodb update` prints)."""
    change = raw["dynamodb"]
    dynamodb: dict[str, Any] = {
        "ApproximateCreationDateTime": _epoch_seconds(change["ApproximateCreationDateTime"]),
        "Keys": _attribute_value(change["Keys"]),
    }
    for image in ("NewImage", "OldImage"):
        if image in change:
            dynamodb[image] = _attribute_value(change[image])
    dynamodb.update(
        {
            "SequenceNumber": str(change["SequenceNumber"]),
            "SizeBytes": int(change["SizeBytes"]),
            "StreamViewType": change["StreamViewType"],
        }
    )
    record: dict[str, Any] = {
        "eventID": raw["eventID"],
        "eventName": raw["eventName"],
        "eventVersion": EVENT_VERSION,
        "eventSource": "aws:dynamodb",
        "awsRegion": region,
        "dynamodb": dynamodb,
        "eventSourceARN": stream_arn,
    }
    identity = raw.get("userIdentity")
    if identity:  # deletions by TTL: GetRecords says {"Type", "PrincipalId"}, Lambda's event {"type", "principalId"}
        record["userIdentity"] = {"type": identity.get("Type"), "principalId": identity.get("PrincipalId")}
    return record


def records_done(batch: list[dict[str, Any]], *, ok: bool, result: Any, report_failures: bool) -> int:
    """How many records, from the front of the batch, Lambda counts as done after an invocation."""
    if not ok:
        return 0
    if not report_failures or result is None:
        return len(batch)
    if not isinstance(result, Mapping):
        return 0  # not a partial batch response: the whole batch failed
    failures = result.get("batchItemFailures")
    if not failures:
        return len(batch)  # an empty or null list is a success
    if not isinstance(failures, list):
        return 0
    position = {record["dynamodb"]["SequenceNumber"]: index for index, record in enumerate(batch)}
    reported: list[int] = []
    for item in failures:
        identifier = item.get("itemIdentifier") if isinstance(item, Mapping) else None
        if not identifier or identifier not in position:
            return 0  # an empty, null or unknown identifier fails the whole batch
        reported.append(position[identifier])
    return min(reported)  # the lowest sequence number is the checkpoint


# ------------------------------------------------------------------ positions


class Settled(enum.Enum):
    DONE = "done"  # the checkpoint moved past the batch
    RETRY = "retry"  # some records (from the checkpoint) are to be given again
    DISCARDED = "discarded"  # retries exhausted: the checkpoint moved past the batch anyway


@dataclass
class ShardCursor:
    """One shard's position: the records read (filtered) and not yet done, and how the next batch is cut."""

    shard_id: str
    parent_id: str | None = None
    iterator: str | None = None
    last_read: str | None = None  # sequence number of the last record read, to get a fresh iterator after it
    ended: bool = False  # a closed shard read to its end
    pending: list[dict[str, Any]] = field(default_factory=list)
    # Sizes of the next batches when a failure fixed them: a retry gives exactly the records still due,
    # and a bisected batch goes as its two halves; otherwise batches are cut at BatchSize.
    segments: list[int] = field(default_factory=list)
    attempts: int = 0  # failed invocations since the checkpoint last moved (bisecting does not count)
    retry_at: float = 0.0
    pending_since: float = 0.0

    @property
    def finished(self) -> bool:
        return self.ended and not self.pending

    def next_batch(self, batch_size: int) -> list[dict[str, Any]]:
        return self.pending[: self.segments[0] if self.segments else batch_size]

    def ready(self, now: float, batch_size: int, window_seconds: float) -> bool:
        """Whether the poller gives a batch now: a full one, a retry due, or the batching window over."""
        if not self.pending or now < self.retry_at:
            return False
        return bool(self.segments) or len(self.pending) >= batch_size or now - self.pending_since >= window_seconds

    def add(self, records: list[dict[str, Any]], now: float) -> None:
        if records and not self.pending:
            self.pending_since = now
        self.pending.extend(records)

    def settle(self, size: int, done: int, *, function_error: bool, bisect: bool, maximum_retries: int) -> Settled:
        """Move the checkpoint after a batch of `size` records of which the first `done` are done."""
        if done >= size and not function_error:
            self._advance(size)
            return Settled.DONE
        if function_error and bisect and size > 1:
            first = (size + 1) // 2
            self.segments[:1] = [first, size - first]
            return Settled.RETRY
        if done > 0:
            del self.pending[:done]
            self.attempts = 0
        remaining = size - done
        self.segments[:1] = [remaining]
        self.attempts += 1
        if 0 <= maximum_retries < self.attempts:
            self._advance(remaining)
            return Settled.DISCARDED
        return Settled.RETRY

    def _advance(self, count: int) -> None:
        del self.pending[:count]
        del self.segments[:1]
        self.attempts = 0
        self.retry_at = 0.0


class StreamReader:
    """One mapping's stream, shard by shard: what was read from each (filtered) and is not yet done.

    The stream's ARN is the table's LatestStreamArn: a stream's label is its creation time, so the
    template can only guess it before the table exists.
    """

    def __init__(self, mapping: StreamMappingSpec, dynamodb: Any, streams: Any, region: str) -> None:
        self.mapping = mapping
        self.dynamodb = dynamodb
        self.streams = streams
        self.region = region
        self.cursors: dict[str, ShardCursor] = {}
        self._stream_arn: str | None = None
        self._shards_read_at: float | None = None

    @property
    def stream_arn(self) -> str:
        if self._stream_arn is None:
            table = self.dynamodb.describe_table(TableName=self.mapping.table_name)["Table"]
            arn = table.get("LatestStreamArn")
            if not arn:
                raise RuntimeError(f"table {self.mapping.table_name} has no stream")
            self._stream_arn = str(arn)
        return self._stream_arn

    def refresh_shards(self, now: float) -> None:
        if self._shards_read_at is not None and now - self._shards_read_at < SHARD_REFRESH_SECONDS:
            return
        first_look = self._shards_read_at is None
        self._shards_read_at = now
        request: dict[str, Any] = {"StreamArn": self.stream_arn}
        while True:
            description = self.streams.describe_stream(**request)["StreamDescription"]
            for shard in description.get("Shards") or []:
                if shard["ShardId"] not in self.cursors:
                    # Shards found later are children of the ones read so far: read from their start.
                    position = self.mapping.starting_position if first_look else "TRIM_HORIZON"
                    self.cursors[shard["ShardId"]] = ShardCursor(shard["ShardId"], shard.get("ParentShardId"))
                    self._open(self.cursors[shard["ShardId"]], position)
            last = description.get("LastEvaluatedShardId")
            if not last:
                return
            request["ExclusiveStartShardId"] = last

    def _open(self, cursor: ShardCursor, position: str) -> None:
        request: dict[str, Any] = {"StreamArn": self.stream_arn, "ShardId": cursor.shard_id}
        if cursor.last_read is not None:
            request.update(ShardIteratorType="AFTER_SEQUENCE_NUMBER", SequenceNumber=cursor.last_read)
        else:
            request["ShardIteratorType"] = position
        cursor.iterator = self.streams.get_shard_iterator(**request)["ShardIterator"]

    def readable(self) -> list[ShardCursor]:
        """Shards whose records may be given now: a child shard waits until its parent is done."""
        return [
            cursor
            for cursor in self.cursors.values()
            if cursor.parent_id is None
            or cursor.parent_id not in self.cursors
            or self.cursors[cursor.parent_id].finished
        ]

    def read(self, now: float | None = None) -> int:
        """Read new records of every shard (up to a few batches ahead); returns how many were kept."""
        now = time.monotonic() if now is None else now
        self.refresh_shards(now)
        kept = 0
        for cursor in self.readable():
            while cursor.iterator is not None and len(cursor.pending) < READ_AHEAD_BATCHES * self.mapping.batch_size:
                try:
                    page = self.streams.get_records(ShardIterator=cursor.iterator, Limit=READ_LIMIT)
                except ClientError as exc:
                    if exc.response["Error"]["Code"] != "ExpiredIteratorException":
                        raise
                    self._open(cursor, self.mapping.starting_position)  # iterators live 15 minutes
                    continue
                raw = page.get("Records") or []
                cursor.iterator = page.get("NextShardIterator")
                cursor.ended = cursor.iterator is None
                if raw:
                    cursor.last_read = str(raw[-1]["dynamodb"]["SequenceNumber"])
                records = [stream_record(r, self.stream_arn, self.region) for r in raw]
                wanted = [r for r in records if passes(self.mapping.filters, r)]
                cursor.add(wanted, now)
                kept += len(wanted)
                if not raw:
                    break
        return kept


# ------------------------------------------------------------------ the poller


class StreamPoller(PollerThread):
    """One thread per mapping: reads every shard, invokes the function with one shard's batch at a time."""

    def __init__(self, reader: StreamReader, pool: FunctionPool, stop: threading.Event) -> None:
        super().__init__(f"stream-{reader.mapping.function}-{reader.mapping.event}", stop)
        self.mapping = reader.mapping
        self.reader = reader
        self.pool = pool
        self.batches = 0
        self._read_at = 0.0

    def poll_once(self) -> bool:
        # Woken after every invocation of any function: under load, still no more than Lambda's 4 reads a second.
        self._stop.wait(self._read_at + IDLE_POLL_SECONDS - time.monotonic())
        self._read_at = time.monotonic()
        self.reader.read()
        return self._give_batches()

    def idle_seconds(self, idle_polls: int) -> float:
        if any(cursor.pending for cursor in self.reader.cursors.values()):
            return IDLE_POLL_SECONDS  # records wait for their batching window or retry: look again soon
        return backoff_seconds(idle_polls, IDLE_POLL_SECONDS, IDLE_POLL_MAX_SECONDS)

    def _give_batches(self) -> bool:
        """One batch per shard that has one ready; whether any was given."""
        given = False
        for cursor in self.reader.readable():
            if self.stopping:
                break
            mapping = self.mapping
            if cursor.ready(time.monotonic(), mapping.batch_size, mapping.batching_window_seconds):
                self._give(cursor, cursor.next_batch(mapping.batch_size))
                given = True
        return given

    def _give(self, cursor: ShardCursor, batch: list[dict[str, Any]]) -> None:
        mapping = self.mapping
        self.batches += 1
        invocation = self.pool.invoke({"Records": batch})
        if self.stopping:
            return  # the pool is closing under it: not the function's failure
        done = records_done(
            batch, ok=invocation.ok, result=invocation.result, report_failures=mapping.report_batch_item_failures
        )
        settled = cursor.settle(
            len(batch),
            done,
            function_error=not invocation.ok,
            bisect=mapping.bisect_on_error,
            maximum_retries=mapping.maximum_retry_attempts,
        )
        if settled is Settled.DONE:
            return
        first = batch[done]["dynamodb"]["SequenceNumber"]
        if settled is Settled.DISCARDED:
            log.warning(
                "%s.%s: %d records from %s discarded after %d retries (no OnFailure destination locally)",
                mapping.function,
                mapping.event,
                len(batch) - done,
                first,
                mapping.maximum_retry_attempts,
            )
            return
        cursor.retry_at = time.monotonic() + min(RETRY_MAX_SECONDS, RETRY_BASE_SECONDS * 2**cursor.attempts)
        log.info(
            "%s.%s: batch of %d failed at %s (%s); next batches %s",
            mapping.function,
            mapping.event,
            len(batch),
            first,
            invocation.status if not invocation.ok else "batchItemFailures",
            cursor.segments,
        )


def start_stream_pollers(
    mappings: list[StreamMappingSpec],
    pools: Mapping[str, FunctionPool],
    endpoint: str,
    region: str,
    stop: threading.Event,
) -> list[StreamPoller]:
    pollers: list[StreamPoller] = []
    for mapping in mappings:
        pool = pools.get(mapping.function)
        if pool is None:
            continue
        dynamodb, streams = client("dynamodb", endpoint, region), client("dynamodbstreams", endpoint, region)
        poller = StreamPoller(StreamReader(mapping, dynamodb, streams, region), pool, stop)
        poller.start()
        pollers.append(poller)
    return pollers
