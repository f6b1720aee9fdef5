"""The local stack's DynamoDB stream event source mappings: records held against SAM's, FilterCriteria,
Lambda's checkpoint / partial failure / bisect / retry positions, and the poller over moto's streams (moto
in this process, with the local stack's moto_fixes)."""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from moto import mock_aws

from filegate_local import moto_fixes, stream_poller
from filegate_local.event_filters import FilterError, matches, passes, validate_pattern
from filegate_local.model import StreamMappingSpec
from filegate_local.stream_poller import (
    Settled,
    ShardCursor,
    StreamPoller,
    StreamReader,
    records_done,
    stream_record,
)
from filegate_local.workers import Invocation
from tests.helpers.sam_cli import sam_event

ROOT = Path(__file__).resolve().parents[2]
REGION = "us-east-1"
IMAGE_KEYS = {"Keys", "NewImage", "OldImage"}  # their attributes are the item's own


# ------------------------------------------------------------------ moto


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[Any, Any, str]]:
    """(dynamodb, dynamodbstreams) clients on moto in this process (no network), and a table with a stream."""
    for name in ("AWS_ENDPOINT_URL", "AWS_PROFILE", "AWS_DEFAULT_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    # botocore sends DynamoDB Streams calls to <account>.streams-ddb.<region>.amazonaws.com, which moto's
    # in-process mock does not route; the regional endpoint it does.
    monkeypatch.setenv("AWS_ACCOUNT_ID_ENDPOINT_MODE", "disabled")
    moto_fixes.apply()  # as the local stack's moto runs
    with mock_aws():
        dynamodb = boto3.client("dynamodb", region_name=REGION)
        streams = boto3.client("dynamodbstreams", region_name=REGION)
        table = f"t-{uuid.uuid4().hex}"
        dynamodb.create_table(
            TableName=table,
            AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
            KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
            BillingMode="PAY_PER_REQUEST",
            StreamSpecification={"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"},
        )
        yield dynamodb, streams, table


def mapping(**overrides: Any) -> StreamMappingSpec:
    fields: dict[str, Any] = {
        "function": "Fn",
        "event": "Changes",
        "table": "Table",
        "table_name": "t",
        "stream_arn": "arn:aws:dynamodb:us-east-1:123456789012:table/t/stream/1970-01-01T00:00:00.000",
        "batch_size": 100,
        "batching_window_seconds": 0.0,
        "starting_position": "TRIM_HORIZON",
        "bisect_on_error": True,
        "maximum_retry_attempts": -1,
        "report_batch_item_failures": True,
        "filters": ({"eventName": ["MODIFY"]},),
    }
    return StreamMappingSpec(**{**fields, **overrides})


def put(aws: tuple[Any, Any, str], item_id: str, **attributes: Any) -> None:
    dynamodb, _, table = aws
    item = {"id": {"S": item_id}, **{k: {"N": str(v)} for k, v in attributes.items()}}
    dynamodb.put_item(TableName=table, Item=item)


def reader_for(aws: tuple[Any, Any, str], region: str = REGION, **overrides: Any) -> StreamReader:
    dynamodb, streams, table = aws
    return StreamReader(mapping(table_name=table, **overrides), dynamodb, streams, region)


# ------------------------------------------------------------------ records


def assert_same_shape(ours: Any, sams: Any, path: str = "record") -> None:
    """The same keys at every level and the same JSON types; an image's attributes are the item's own."""
    if isinstance(sams, dict):
        assert isinstance(ours, dict), f"{path}: {type(ours).__name__}, sam has an object"
        if path.rsplit(".", 1)[-1] in IMAGE_KEYS:
            assert all(isinstance(v, dict) and len(v) == 1 for v in ours.values()), f"{path}: {ours}"
            return
        assert set(ours) == set(sams), f"{path}: {sorted(ours)} vs sam's {sorted(sams)}"
        for key, value in sams.items():
            assert_same_shape(ours[key], value, f"{path}.{key}")
    else:
        assert type(ours) is type(sams), f"{path}: {type(ours).__name__}, sam has {type(sams).__name__}"


def test_stream_records_have_the_shape_sam_generates(aws: tuple[Any, Any, str]) -> None:
    sams = {r["eventName"]: r for r in sam_event("dynamodb", "update")["Records"]}
    dynamodb, _, table = aws
    put(aws, "101", n=1)
    put(aws, "101", n=2)
    dynamodb.delete_item(TableName=table, Key={"id": {"S": "101"}})
    reader = reader_for(aws, "eu-west-1", filters=())
    assert reader.read() == 3
    (cursor,) = reader.cursors.values()
    assert [r["eventName"] for r in cursor.pending] == ["INSERT", "MODIFY", "REMOVE"]
    for ours in cursor.pending:
        assert_same_shape(ours, sams[ours["eventName"]])
        assert ours["eventVersion"] == "1.1" and ours["eventSource"] == "aws:dynamodb"
        assert ours["awsRegion"] == "eu-west-1"
        assert ours["eventSourceARN"] == reader.stream_arn
        assert ours["eventSourceARN"].startswith(f"arn:aws:dynamodb:us-east-1:123456789012:table/{table}/stream/")
        assert abs(ours["dynamodb"]["ApproximateCreationDateTime"] - time.time()) < 60
        assert ours["dynamodb"]["Keys"] == {"id": {"S": "101"}}
    insert, modify, remove = cursor.pending
    assert "OldImage" not in insert["dynamodb"] and "NewImage" not in remove["dynamodb"]
    assert modify["dynamodb"]["OldImage"]["n"] == {"N": "1"} and modify["dynamodb"]["NewImage"]["n"] == {"N": "2"}
    sequence = [int(r["dynamodb"]["SequenceNumber"]) for r in cursor.pending]
    assert sequence == sorted(sequence) and len(set(sequence)) == 3


def test_binary_attributes_reach_the_function_in_base64() -> None:
    raw = {
        "eventID": "e1",
        "eventName": "INSERT",
        "dynamodb": {
            "ApproximateCreationDateTime": 1428537600.5,
            "Keys": {"id": {"B": b"\x00\xff"}},
            "NewImage": {
                "id": {"B": b"\x00\xff"},
                "set": {"BS": [b"a"]},
                "nested": {"M": {"list": {"L": [{"B": b"b"}, {"S": "s"}]}}},
            },
            "SequenceNumber": "100",
            "SizeBytes": 10,
            "StreamViewType": "NEW_IMAGE",
        },
    }
    record = stream_record(raw, "arn:stream", REGION)
    assert record["dynamodb"]["Keys"] == {"id": {"B": "AP8="}}
    image = record["dynamodb"]["NewImage"]
    assert image["set"] == {"BS": ["YQ=="]}
    assert image["nested"] == {"M": {"list": {"L": [{"B": "Yg=="}, {"S": "s"}]}}}
    assert record["dynamodb"]["ApproximateCreationDateTime"] == 1428537600
    json.dumps(record)  # what the worker is sent


# ------------------------------------------------------------------ filters

MODIFY = {"eventName": "MODIFY", "dynamodb": {"NewImage": {"tier": {"S": "pro"}, "n": 5}, "tags": ["a", "b"]}}


@pytest.mark.parametrize(
    ("pattern", "expected"),
    [
        ({"eventName": ["MODIFY"]}, True),  # template.yaml's one pattern
        ({"eventName": ["INSERT", "MODIFY"]}, True),
        ({"eventName": ["INSERT"]}, False),
        ({"eventName": ["modify"]}, False),
        ({"dynamodb": {"NewImage": {"tier": {"S": ["pro"]}}}}, True),
        ({"eventName": ["MODIFY"], "dynamodb": {"NewImage": {"tier": {"S": ["free"]}}}}, False),  # every key
        ({"dynamodb": {"OldImage": {"tier": {"S": ["pro"]}}}}, False),  # a missing field
        ({"dynamodb": {"NewImage": {"n": [5.0]}}}, True),
        ({"dynamodb": {"NewImage": {"n": ["5"]}}}, False),  # a string never equals a number
        ({"dynamodb": {"tags": ["b"]}}, True),  # one element of a list
    ],
)
def test_filter_patterns_match_exact_values(pattern: dict[str, Any], expected: bool) -> None:
    validate_pattern(pattern)
    assert matches(pattern, MODIFY) is expected
    assert passes((), MODIFY) and passes(({"eventName": ["INSERT"]}, {"eventName": ["MODIFY"]}), MODIFY)


@pytest.mark.parametrize(
    "pattern",
    [
        {},
        {"eventName": []},
        {"eventName": "MODIFY"},
        {"eventName": [{"prefix": "MO"}]},
        {"$or": [{"eventName": ["MODIFY"]}]},
    ],
)
def test_operators_the_template_does_not_use_are_refused(pattern: dict[str, Any]) -> None:
    with pytest.raises(FilterError):
        validate_pattern(pattern)


# ------------------------------------------------------------------ checkpoints


def batch_of(*sequence_numbers: int) -> list[dict[str, Any]]:
    return [{"dynamodb": {"SequenceNumber": str(n)}} for n in sequence_numbers]


def failures(*identifiers: Any) -> dict[str, Any]:
    return {"batchItemFailures": [{"itemIdentifier": i} for i in identifiers]}


@pytest.mark.parametrize(
    ("ok", "result", "report", "done"),
    [
        (True, None, True, 4),
        (True, {}, True, 4),
        (True, {"batchItemFailures": []}, True, 4),
        (True, {"batchItemFailures": None}, True, 4),
        (True, failures("12"), True, 2),
        (True, failures("13", "11"), True, 1),  # the lowest sequence number is the checkpoint
        (True, failures("10"), True, 0),
        (True, failures(""), True, 0),  # empty identifier: the whole batch failed
        (True, failures(None), True, 0),
        (True, failures("99"), True, 0),  # not in the batch
        (True, {"batchItemFailures": [{"id": "12"}]}, True, 0),  # bad key name
        (True, "not a response", True, 0),
        (True, failures("12"), False, 4),  # not reported unless the mapping asks for it
        (False, None, True, 0),  # a function error
    ],
)
def test_records_done_after_an_invocation(ok: bool, result: Any, report: bool, done: int) -> None:
    assert records_done(batch_of(10, 11, 12, 13), ok=ok, result=result, report_failures=report) == done


def cursor_with(*sequence_numbers: int) -> ShardCursor:
    cursor = ShardCursor("shard-1")
    cursor.add(batch_of(*sequence_numbers), now=0.0)
    return cursor


def numbers(batch: list[dict[str, Any]]) -> list[int]:
    return [int(r["dynamodb"]["SequenceNumber"]) for r in batch]


def test_a_partial_failure_retries_from_the_failed_record_and_no_further() -> None:
    cursor = cursor_with(1, 2, 3, 4, 5, 6)
    batch = cursor.next_batch(4)
    assert numbers(batch) == [1, 2, 3, 4]
    settled = cursor.settle(4, 2, function_error=False, bisect=False, maximum_retries=-1)
    assert settled is Settled.RETRY
    assert numbers(cursor.next_batch(4)) == [3, 4]  # the rest of that batch, not records after it
    assert cursor.settle(2, 2, function_error=False, bisect=False, maximum_retries=-1) is Settled.DONE
    assert numbers(cursor.next_batch(4)) == [5, 6]


def test_a_function_error_bisects_until_the_failing_record_is_alone_and_retries_it_for_ever() -> None:
    cursor = cursor_with(1, 2, 3, 4, 5)
    given: list[list[int]] = []
    for _ in range(12):
        batch = cursor.next_batch(100)
        if not batch:
            break
        given.append(numbers(batch))
        fails = 4 in numbers(batch) and len(given) < 10  # record 4 fails until the 10th invocation
        cursor.settle(len(batch), 0 if fails else len(batch), function_error=fails, bisect=True, maximum_retries=-1)
    assert given == [
        [1, 2, 3, 4, 5],
        [1, 2, 3],  # the first half, then the second
        [4, 5],
        [4],
        [4],
        [4],
        [4],
        [4],
        [4],
        [4],  # in order: 5 waits until 4 is done
        [5],
    ]


def test_without_bisect_a_failed_batch_is_retried_whole_and_new_records_wait() -> None:
    cursor = cursor_with(1, 2)
    assert cursor.settle(2, 0, function_error=True, bisect=False, maximum_retries=-1) is Settled.RETRY
    cursor.add(batch_of(3), now=1.0)
    assert numbers(cursor.next_batch(10)) == [1, 2]
    assert cursor.attempts == 1
    assert cursor.settle(2, 2, function_error=False, bisect=False, maximum_retries=-1) is Settled.DONE
    assert numbers(cursor.next_batch(10)) == [3] and cursor.attempts == 0


def test_a_partial_failure_with_bisect_retries_only_the_rest() -> None:
    cursor = cursor_with(1, 2, 3, 4)
    assert cursor.settle(4, 1, function_error=False, bisect=True, maximum_retries=-1) is Settled.RETRY
    cursor.add(batch_of(5), now=1.0)
    assert numbers(cursor.next_batch(10)) == [2, 3, 4]


def test_retries_are_counted_per_checkpoint_and_exhausted_batches_are_discarded() -> None:
    cursor = cursor_with(1, 2, 3)
    assert cursor.settle(3, 0, function_error=True, bisect=False, maximum_retries=2) is Settled.RETRY
    assert cursor.settle(3, 1, function_error=False, bisect=False, maximum_retries=2) is Settled.RETRY
    assert cursor.attempts == 1  # the checkpoint moved: its record's first failure
    assert cursor.settle(2, 0, function_error=True, bisect=False, maximum_retries=2) is Settled.RETRY
    assert cursor.settle(2, 0, function_error=True, bisect=False, maximum_retries=2) is Settled.DISCARDED
    assert cursor.pending == [] and cursor.segments == [] and cursor.attempts == 0


def test_a_batch_is_ready_when_full_when_the_window_ends_or_when_a_retry_is_due() -> None:
    cursor = cursor_with(1)
    assert not cursor.ready(now=1.0, batch_size=2, window_seconds=5.0)
    assert cursor.ready(now=5.0, batch_size=2, window_seconds=5.0)
    cursor.add(batch_of(2), now=1.0)
    assert cursor.ready(now=1.0, batch_size=2, window_seconds=5.0)
    cursor.settle(2, 0, function_error=True, bisect=False, maximum_retries=-1)
    cursor.retry_at = 3.0
    assert not cursor.ready(now=2.0, batch_size=2, window_seconds=0.0)
    assert cursor.ready(now=3.0, batch_size=2, window_seconds=0.0)


# ------------------------------------------------------------------ reading the stream


def test_reader_filters_and_starts_at_the_mappings_position(aws: tuple[Any, Any, str]) -> None:
    put(aws, "a", n=1)
    put(aws, "a", n=2)
    trim = reader_for(aws)
    latest = reader_for(aws, starting_position="LATEST")
    assert trim.read() == 1  # the INSERT is filtered out
    assert latest.read() == 0
    put(aws, "b", n=1)
    put(aws, "a", n=3)
    assert trim.read() == 1 and latest.read() == 1
    for reader in (trim, latest):
        (cursor,) = reader.cursors.values()
        assert [r["dynamodb"]["NewImage"]["n"] for r in cursor.pending][-1] == {"N": "3"}
    assert trim.read() == 0  # nothing is read twice


def test_shard_iterators_expire_and_the_reader_carries_on_after_its_last_record(
    aws: tuple[Any, Any, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from moto.dynamodbstreams.models import dynamodbstreams_backends

    monkeypatch.setattr(moto_fixes, "SHARD_ITERATOR_LIFETIME_SECONDS", 0.2)
    backend = dynamodbstreams_backends["123456789012"][REGION]
    put(aws, "a", n=1)
    put(aws, "a", n=2)
    reader = reader_for(aws)
    assert reader.read() == 1
    for _ in range(20):
        reader.read()  # each read takes a new iterator
    time.sleep(0.3)
    put(aws, "a", n=3)
    reader_for(aws).read()  # moto forgets the expired iterators, the reader's current one too
    assert len(backend.shard_iterators) < 5
    assert reader.read() == 1  # a new iterator after the last record read: nothing lost, nothing twice
    (cursor,) = reader.cursors.values()
    assert [r["dynamodb"]["NewImage"]["n"] for r in cursor.pending] == [{"N": "2"}, {"N": "3"}]


def test_the_reader_follows_the_table_after_moto_rolls_a_failed_transaction_back(
    aws: tuple[Any, Any, str],
) -> None:
    dynamodb, _, table = aws
    put(aws, "a", n=1)
    put(aws, "a", n=2)
    reader = reader_for(aws)
    assert reader.read() == 1
    with pytest.raises(dynamodb.exceptions.TransactionCanceledException):
        dynamodb.transact_write_items(
            TransactItems=[
                {
                    "Put": {
                        "TableName": table,
                        "Item": {"id": {"S": "a"}, "n": {"N": "9"}},
                        "ConditionExpression": "attribute_not_exists(id)",
                    }
                }
            ]
        )
    put(aws, "a", n=3)
    assert reader.read() == 1  # moto put a copy of the table in place: the reader reads the new one
    (cursor,) = reader.cursors.values()
    assert [r["dynamodb"]["NewImage"]["n"] for r in cursor.pending] == [{"N": "2"}, {"N": "3"}]


def test_stream_reads_wait_for_a_transaction_moto_may_still_roll_back(
    aws: tuple[Any, Any, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from moto.dynamodb.models import DynamoDBBackend

    dynamodb, _, table = aws
    put(aws, "a", n=1)
    put(aws, "a", n=2)
    reader = reader_for(aws, filters=())
    assert reader.read() == 2
    put_item = DynamoDBBackend.put_item
    read_during_the_transaction: list[bool] = []
    readers: list[threading.Thread] = []

    def put_item_then_read(backend: Any, table_name: str, item_attrs: dict[str, Any], *args: Any, **kwargs: Any) -> Any:
        done = put_item(backend, table_name, item_attrs, *args, **kwargs)
        if item_attrs["id"] == {"S": "phantom"}:  # written, not yet rolled back: a reader now would see it
            reading = threading.Thread(target=reader.read)
            readers.append(reading)
            reading.start()
            reading.join(timeout=0.5)
            read_during_the_transaction.append(not reading.is_alive())
        return done

    monkeypatch.setattr(DynamoDBBackend, "put_item", put_item_then_read)
    condition = "attribute_not_exists(id)"
    with pytest.raises(dynamodb.exceptions.TransactionCanceledException):
        dynamodb.transact_write_items(
            TransactItems=[
                {"Put": {"TableName": table, "Item": {"id": {"S": "phantom"}}}},
                {"Put": {"TableName": table, "Item": {"id": {"S": "a"}}, "ConditionExpression": condition}},
            ]
        )
    readers[0].join(timeout=5)
    assert read_during_the_transaction == [False]  # it waited for the rollback
    put(aws, "b", n=1)
    deadline = time.monotonic() + 5
    (cursor,) = reader.cursors.values()
    while len(cursor.pending) < 3 and time.monotonic() < deadline:
        reader.read()
    assert [r["dynamodb"]["Keys"]["id"]["S"] for r in cursor.pending] == ["a", "a", "b"]  # no phantom, nothing lost


class FakePool:
    """Records the batches given; the function fails (raises) while a batch holds a record marked `fail`."""

    def __init__(self, failing: int) -> None:
        self.failing = failing  # how many invocations holding a `fail` record fail
        self.batches: list[list[str]] = []
        self.lock = threading.Lock()

    def invoke(self, event: dict[str, Any]) -> Invocation:
        ids = [r["dynamodb"]["Keys"]["id"]["S"] for r in event["Records"]]
        with self.lock:
            self.batches.append(ids)
            if any(i.startswith("fail") for i in ids) and self.failing > 0:
                self.failing -= 1
                return Invocation("r", "error", error={"errorMessage": "boom", "errorType": "RuntimeError"})
        return Invocation("r", "ok", result={"batchItemFailures": []})


def test_the_poller_bisects_retries_in_order_and_stops_promptly(
    aws: tuple[Any, Any, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(stream_poller, "IDLE_POLL_SECONDS", 0.05)
    monkeypatch.setattr(stream_poller, "RETRY_BASE_SECONDS", 0.01)
    for item in ("a", "b", "fail", "d"):
        put(aws, item, n=1)
    for item in ("a", "b", "fail", "d"):
        put(aws, item, n=2)  # four MODIFY records, one batch of four
    pool = FakePool(failing=4)
    stop = threading.Event()
    poller = StreamPoller(reader_for(aws, batch_size=10), pool, stop)  # type: ignore[arg-type]
    poller.start()
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and (not pool.batches or pool.batches[-1] != ["d"]):
        time.sleep(0.02)
    stopped_at = time.monotonic()
    stop.set()
    poller.join(timeout=2)
    assert not poller.thread.is_alive() and time.monotonic() - stopped_at < 1.0
    assert pool.batches == [
        ["a", "b", "fail", "d"],
        ["a", "b"],
        ["fail", "d"],
        ["fail"],
        ["fail"],
        ["fail"],  # the fourth failure, then success
        ["d"],
    ]


# ------------------------------------------------------------------ the template
