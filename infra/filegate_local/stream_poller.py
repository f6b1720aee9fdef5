"""DynamoDB stream event source mappings, as Lambda's poller with the template's settings (TRIM_HORIZON, no
batching window, retries for ever): records read in order, those FilterCriteria reject dropped, the rest given
one batch (≤ BatchSize) at a time; a success moves the checkpoint past the batch, a ReportBatchItemFailures reply
to the lowest failure reported; a function error halves the batch (BisectBatchOnFunctionError) down to one
record; what failed is given again, in order, after a back-off. moto gives a table one shard, never split.
"""

import base64
import json
import threading
import time
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from botocore.exceptions import ClientError

from filegate_local.event_filters import passes
from filegate_local.model import StreamMappingSpec
from filegate_local.poller import PollerThread, backoff_seconds, failed_ids, log
from filegate_local.resources import client
from filegate_local.workers import FunctionPool

# Lambda reads a shard about 4 times a second; an idle stream, and a failed batch's retries, less and less
# often up to BACKOFF_MAX_SECONDS; an idle stream at once again when a function ran (it may have written).
POLL_SECONDS = 0.25
BACKOFF_MAX_SECONDS = 2.0
READ_AHEAD_BATCHES = 10  # records read but not yet done, in batches: bounds memory on a backlog


def _json(value: Any) -> Any:
    """boto3 hands binary attribute values over as bytes, Lambda as base64; and times as datetimes."""
    return int(value.timestamp()) if isinstance(value, datetime) else base64.b64encode(value).decode()


def stream_record(raw: Mapping[str, Any], stream_arn: str, region: str) -> dict[str, Any]:
    """One record of a stream event (as `sam local generate-event dynamodb update`), from a GetRecords record."""
    # Lambda's events say version 1.1 (moto's GetRecords 1.0), and a TTL deletion's {"type", "principalId"}.
    record = {**raw, "eventVersion": "1.1", "awsRegion": region, "eventSourceARN": stream_arn}
    if identity := raw.get("userIdentity"):
        record["userIdentity"] = {"type": identity["Type"], "principalId": identity["PrincipalId"]}
    return dict(json.loads(json.dumps(record, default=_json)))


class StreamReader:
    """One mapping's shard: `pending` holds the records read (filtered) and not yet done, in order. The stream
    is the table's LatestStreamArn: its label is its creation time, which the template can only guess."""

    def __init__(self, mapping: StreamMappingSpec, dynamodb: Any, streams: Any, region: str) -> None:
        self.mapping, self.dynamodb, self.streams, self.region = mapping, dynamodb, streams, region
        self.stream_arn = ""
        self.pending: list[dict[str, Any]] = []
        self.segments: list[int] = []  # sizes of the next batches when a failure fixed them
        self.attempts = 0  # failed invocations since the checkpoint last moved
        self._iterator: str | None = None
        self._last_read: str | None = None  # sequence number of the last record read: where a new iterator starts

    def _open(self) -> str:
        streams, table = self.streams, self.mapping.table_name
        self.stream_arn = self.stream_arn or self.dynamodb.describe_table(TableName=table)["Table"]["LatestStreamArn"]
        shard = streams.describe_stream(StreamArn=self.stream_arn)["StreamDescription"]["Shards"][0]["ShardId"]
        after = {"ShardIteratorType": "AFTER_SEQUENCE_NUMBER", "SequenceNumber": self._last_read}
        where = after if self._last_read else {"ShardIteratorType": "TRIM_HORIZON"}
        return str(streams.get_shard_iterator(StreamArn=self.stream_arn, ShardId=shard, **where)["ShardIterator"])

    def read(self) -> int:
        """Read new records, up to a few batches ahead; returns how many are pending."""
        while len(self.pending) < READ_AHEAD_BATCHES * self.mapping.batch_size:
            try:
                page = self.streams.get_records(ShardIterator=self._iterator or self._open())
            except ClientError as exc:
                if exc.response["Error"]["Code"] != "ExpiredIteratorException":
                    raise
                self._iterator = None  # iterators live 15 minutes: a new one after the last record read
                continue
            self._iterator = page.get("NextShardIterator")
            if not (raw := page.get("Records")):
                break
            self._last_read = raw[-1]["dynamodb"]["SequenceNumber"]
            records = [stream_record(r, self.stream_arn, self.region) for r in raw]
            self.pending += [r for r in records if passes(self.mapping.filters, r)]
        return len(self.pending)

    def next_batch(self) -> list[dict[str, Any]]:
        return self.pending[: self.segments[0] if self.segments else self.mapping.batch_size]

    def settle(self, batch: list[dict[str, Any]], ok: bool, result: Any) -> int:
        """Move the checkpoint past the records of the batch given that are done; returns how many."""
        position = {record["dynamodb"]["SequenceNumber"]: n for n, record in enumerate(batch)}
        failed = failed_ids(ok, result if self.mapping.report_batch_item_failures else None, position)
        done = min((position[i] for i in failed), default=len(batch))
        del self.pending[:done]
        rest = len(batch) - done
        self.attempts = 0 if not rest else 1 if done else self.attempts + 1
        halves = not ok and self.mapping.bisect_on_error
        self.segments[:1] = [n for n in ([(rest + 1) // 2, rest // 2] if halves else [rest]) if n]
        return done


class StreamPoller(PollerThread):
    """One thread per mapping: reads its shard, invokes the function with one batch at a time."""

    def __init__(self, reader: StreamReader, pool: FunctionPool, stop: threading.Event) -> None:
        super().__init__(f"stream-{reader.mapping.function}-{reader.mapping.event}", stop)
        self.reader, self.pool = reader, pool
        self._read_at = 0.0

    def poll(self) -> bool:
        # Woken after every invocation of any function: under load, still no more than 4 reads a second.
        self.stop_event.wait(self._read_at + POLL_SECONDS - time.monotonic())
        self._read_at = time.monotonic()
        self.reader.read()
        if not (batch := self.reader.next_batch()) or self.stop_event.is_set():
            return False
        invocation = self.pool.invoke({"Records": batch})
        if (done := self.reader.settle(batch, invocation.ok, invocation.result)) < len(batch):
            log.info("%s: a batch of %d failed at its record %d (%s)", self.name, len(batch), done, invocation.status)
            self.stop_event.wait(backoff_seconds(self.reader.attempts, POLL_SECONDS, BACKOFF_MAX_SECONDS))
        return True

    def idle_seconds(self, idle_polls: int) -> float:
        return backoff_seconds(idle_polls, POLL_SECONDS, BACKOFF_MAX_SECONDS)


def start_stream_pollers(
    mappings: list[StreamMappingSpec],
    pools: Mapping[str, FunctionPool],
    endpoint: str,
    region: str,
    stop: threading.Event,
) -> list[StreamPoller]:
    pollers = []
    for m in mappings:
        dynamodb, streams = (client(service, endpoint, region) for service in ("dynamodb", "dynamodbstreams"))
        pollers.append(StreamPoller(StreamReader(m, dynamodb, streams, region), pools[m.function], stop))
        pollers[-1].start()
    return pollers
