"""The local stack's DynamoDB stream event source mappings: records held against SAM's, FilterCriteria, the
checkpoint after a partial failure or a function error (bisected), and the poller over moto's streams (moto in
this process, with the local stack's moto_fixes)."""

from __future__ import annotations

import dataclasses
import datetime
import functools
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
from filegate_local.model import StreamMappingSpec, build_model
from filegate_local.stream_poller import StreamPoller, StreamReader, stream_record
from filegate_local.template import Template
from filegate_local.workers import Invocation
from tests.helpers.sam_cli import sam_event

ROOT = Path(__file__).resolve().parents[2]
REGION = "us-east-1"
Aws = tuple[Any, Any, str]


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch) -> Iterator[Aws]:
    """(dynamodb, dynamodbstreams) clients on moto in this process, and a table with a stream."""
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
        table = f"t-{uuid.uuid4().hex}"
        dynamodb.create_table(
            TableName=table,
            AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
            KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
            BillingMode="PAY_PER_REQUEST",
            StreamSpecification={"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"},
        )
        yield dynamodb, boto3.client("dynamodbstreams", region_name=REGION), table


@functools.cache
def templates_mapping() -> StreamMappingSpec:
    """The stamper's KeyChanges mapping as template.yaml declares it (BatchSize 100, bisect, MODIFY only...)."""
    return build_model(Template(ROOT / "template.yaml", stack_name="st")).stream_mappings[0]


def reader_for(aws: Aws | None = None, region: str = REGION, **overrides: Any) -> StreamReader:
    dynamodb, streams, table = aws or (None, None, "t")
    return StreamReader(
        dataclasses.replace(templates_mapping(), table_name=table, **overrides), dynamodb, streams, region
    )


def put(aws: Aws, item_id: str, n: int) -> None:
    aws[0].put_item(TableName=aws[2], Item={"id": {"S": item_id}, "n": {"N": str(n)}})


def images(reader: StreamReader) -> list[tuple[str, str]]:
    return [(r["dynamodb"]["Keys"]["id"]["S"], r["dynamodb"]["NewImage"]["n"]["N"]) for r in reader.pending]


def test_stream_records_have_the_shape_sam_generates(aws: Aws) -> None:
    sams = {r["eventName"]: r for r in sam_event("dynamodb", "update")["Records"]}
    put(aws, "101", 1)
    put(aws, "101", 2)
    aws[0].delete_item(TableName=aws[2], Key={"id": {"S": "101"}})
    reader = reader_for(aws, "eu-west-1", filters=())
    assert reader.read() == 3
    assert [r["eventName"] for r in reader.pending] == ["INSERT", "MODIFY", "REMOVE"]
    for ours in reader.pending:
        sam = sams[ours["eventName"]]
        assert set(ours) == set(sam) and set(ours["dynamodb"]) == set(sam["dynamodb"])
        assert all(type(ours[k]) is type(v) for k, v in sam.items())
        assert all(type(ours["dynamodb"][k]) is type(v) for k, v in sam["dynamodb"].items())
        assert ours["eventVersion"] == "1.1" and ours["awsRegion"] == "eu-west-1"
        assert ours["eventSourceARN"] == aws[0].describe_table(TableName=aws[2])["Table"]["LatestStreamArn"]
        assert abs(ours["dynamodb"]["ApproximateCreationDateTime"] - time.time()) < 60
    _, modify, _ = reader.pending
    assert modify["dynamodb"]["OldImage"]["n"] == {"N": "1"} and modify["dynamodb"]["NewImage"]["n"] == {"N": "2"}


def test_binary_attributes_reach_the_function_in_base64_and_ttl_deletions_say_who() -> None:
    image = {"id": {"B": b"\x00\xff"}, "set": {"BS": [b"a"]}, "nested": {"M": {"l": {"L": [{"B": b"b"}]}}}}
    change = {"ApproximateCreationDateTime": datetime.datetime.fromtimestamp(1428537600.5, datetime.UTC)}
    change |= {"Keys": {"id": image["id"]}, "OldImage": image, "SequenceNumber": "100", "SizeBytes": 10}
    raw = {"eventID": "e", "eventName": "REMOVE", "eventVersion": "1.0", "eventSource": "aws:dynamodb"}
    raw |= {"dynamodb": change | {"StreamViewType": "OLD_IMAGE"}, "awsRegion": REGION}
    raw |= {"userIdentity": {"Type": "Service", "PrincipalId": "dynamodb.amazonaws.com"}}
    record = stream_record(raw, "arn:stream", REGION)
    assert record["dynamodb"]["Keys"] == {"id": {"B": "AP8="}}
    assert record["dynamodb"]["OldImage"] == {
        "id": {"B": "AP8="},
        "set": {"BS": ["YQ=="]},
        "nested": {"M": {"l": {"L": [{"B": "Yg=="}]}}},
    }
    assert record["dynamodb"]["ApproximateCreationDateTime"] == 1428537600
    assert record["userIdentity"] == {"type": "Service", "principalId": "dynamodb.amazonaws.com"}


MODIFY = {"eventName": "MODIFY", "dynamodb": {"NewImage": {"tier": {"S": "pro"}, "n": 5}, "tags": ["a", "b"]}}


@pytest.mark.parametrize(
    ("pattern", "expected"),
    [
        ({"eventName": ["MODIFY"]}, True),  # template.yaml's one pattern
        ({"eventName": ["INSERT", "MODIFY"]}, True),
        ({"eventName": ["modify"]}, False),
        ({"eventName": ["MODIFY"], "dynamodb": {"NewImage": {"tier": {"S": ["free"]}}}}, False),  # every key
        ({"dynamodb": {"OldImage": {"tier": {"S": ["pro"]}}}}, False),  # a missing field
        ({"dynamodb": {"NewImage": {"n": [5.0]}}}, True),
        ({"dynamodb": {"NewImage": {"n": ["5"]}}}, False),  # a string never equals a number
        ({"dynamodb": {"NewImage": {"n": [True]}}}, False),
        ({"dynamodb": {"tags": ["b"]}}, True),  # one element of a list
    ],
)
def test_filter_patterns_match_exact_values(pattern: dict[str, Any], expected: bool) -> None:
    validate_pattern(pattern)
    assert matches(pattern, MODIFY) is expected
    assert passes((), MODIFY) and passes(({"eventName": ["INSERT"]}, {"eventName": ["MODIFY"]}), MODIFY)


@pytest.mark.parametrize(
    "pattern", [{}, {"eventName": []}, {"eventName": "MODIFY"}, {"eventName": [{"prefix": "MO"}]}, {"$or": [{}]}]
)
def test_operators_the_template_does_not_use_are_refused(pattern: dict[str, Any]) -> None:
    with pytest.raises(FilterError):
        validate_pattern(pattern)


def numbers(batch: list[dict[str, Any]]) -> list[int]:
    return [int(r["dynamodb"]["SequenceNumber"]) for r in batch]


def with_pending(*sequence_numbers: int, **overrides: Any) -> StreamReader:
    reader = reader_for(**overrides)
    reader.pending = [{"dynamodb": {"SequenceNumber": str(n)}} for n in sequence_numbers]
    return reader


def test_a_partial_failure_moves_the_checkpoint_to_the_lowest_failure_and_retries_no_further() -> None:
    reader = with_pending(1, 2, 3, 4, 5, 6, batch_size=4)
    batch = reader.next_batch()
    assert reader.settle(batch, True, {"batchItemFailures": [{"itemIdentifier": "4"}, {"itemIdentifier": "3"}]}) == 2
    assert numbers(reader.next_batch()) == [3, 4] and reader.attempts == 1  # the rest of that batch only
    assert reader.settle(reader.next_batch(), True, {"batchItemFailures": []}) == 2
    assert numbers(reader.next_batch()) == [5, 6] and reader.attempts == 0
    unreported = with_pending(1, 2, report_batch_item_failures=False)
    assert unreported.settle(unreported.next_batch(), True, {"batchItemFailures": [{"itemIdentifier": "1"}]}) == 2


def test_a_function_error_bisects_until_the_failing_record_is_alone_and_retries_it_in_order() -> None:
    reader = with_pending(1, 2, 3, 4, 5)
    given = []
    while batch := reader.next_batch():
        given.append(numbers(batch))
        fails = 4 in given[-1] and len(given) < 7  # record 4 fails until the 7th invocation
        reader.settle(batch, not fails, None)
    assert given == [[1, 2, 3, 4, 5], [1, 2, 3], [4, 5], [4], [4], [4], [4], [5]]  # 5 waits until 4 is done
    whole = with_pending(1, 2, bisect_on_error=False)
    whole.settle(whole.next_batch(), False, None)
    whole.pending.append({"dynamodb": {"SequenceNumber": "3"}})
    assert numbers(whole.next_batch()) == [1, 2] and whole.attempts == 1


def test_the_reader_filters_starts_at_the_trim_horizon_and_reads_nothing_twice(aws: Aws) -> None:
    put(aws, "a", 1)
    put(aws, "a", 2)
    reader = reader_for(aws)
    assert reader.read() == 1  # the INSERT is filtered out
    put(aws, "b", 1)
    put(aws, "a", 3)
    assert reader.read() == 1 and reader.read() == 0
    assert images(reader) == [("a", "2"), ("a", "3")]


def test_shard_iterators_expire_and_the_reader_carries_on_after_its_last_record(
    aws: Aws, monkeypatch: pytest.MonkeyPatch
) -> None:
    from moto.dynamodbstreams.models import dynamodbstreams_backends

    monkeypatch.setattr(moto_fixes, "SHARD_ITERATOR_LIFETIME_SECONDS", 0.2)
    put(aws, "a", 1)
    put(aws, "a", 2)
    reader = reader_for(aws)
    for _ in range(20):
        reader.read()  # each read takes a new iterator
    time.sleep(0.3)
    put(aws, "a", 3)
    reader_for(aws).read()  # moto forgets the expired iterators, the reader's current one too
    assert len(dynamodbstreams_backends["123456789012"][REGION].shard_iterators) < 5
    assert reader.read() == 1  # a new iterator after the last record read: nothing lost, nothing twice
    assert images(reader) == [("a", "2"), ("a", "3")]


def test_the_reader_follows_the_table_after_moto_rolls_a_failed_transaction_back(aws: Aws) -> None:
    dynamodb, _, table = aws
    put(aws, "a", 1)
    put(aws, "a", 2)
    reader = reader_for(aws)
    assert reader.read() == 1
    condition = "attribute_not_exists(id)"
    with pytest.raises(dynamodb.exceptions.TransactionCanceledException):
        item = {"id": {"S": "a"}, "n": {"N": "9"}}
        dynamodb.transact_write_items(
            TransactItems=[{"Put": {"TableName": table, "Item": item, "ConditionExpression": condition}}]
        )
    put(aws, "a", 3)
    assert reader.read() == 1  # moto put a copy of the table in place: the reader reads the new one
    assert images(reader) == [("a", "2"), ("a", "3")]


def test_stream_reads_wait_for_a_transaction_moto_may_still_roll_back(
    aws: Aws, monkeypatch: pytest.MonkeyPatch
) -> None:
    from moto.dynamodb.models import DynamoDBBackend

    dynamodb, _, table = aws
    put(aws, "a", 1)
    reader = reader_for(aws, filters=())
    assert reader.read() == 1
    put_item, during = DynamoDBBackend.put_item, []

    def put_item_then_read(backend: Any, table_name: str, item: dict[str, Any], *args: Any, **kwargs: Any) -> Any:
        done = put_item(backend, table_name, item, *args, **kwargs)
        if item["id"] == {"S": "phantom"}:  # written, not yet rolled back: a reader now would see it
            during.append(threading.Thread(target=reader.read))
            during[0].start()
            during[0].join(timeout=0.5)
            assert during[0].is_alive()  # it waits for the rollback
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
    during[0].join(timeout=5)
    put(aws, "b", 1)
    deadline = time.monotonic() + 5
    while len(reader.pending) < 2 and time.monotonic() < deadline:
        reader.read()
    assert [r["dynamodb"]["Keys"]["id"]["S"] for r in reader.pending] == ["a", "b"]  # no phantom, nothing lost


class FakePool:
    """Records the batches given; the function fails while a batch holds the record `fail`, `failing` times."""

    def __init__(self, failing: int) -> None:
        self.failing, self.batches = failing, []

    def invoke(self, event: dict[str, Any]) -> Invocation:
        self.batches.append([r["dynamodb"]["Keys"]["id"]["S"] for r in event["Records"]])
        if "fail" in self.batches[-1] and self.failing > 0:
            self.failing -= 1
            return Invocation("r", "error", error={"errorMessage": "boom", "errorType": "RuntimeError"})
        return Invocation("r", "ok", result={"batchItemFailures": []})


def test_the_poller_bisects_retries_in_order_and_stops_promptly(aws: Aws, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(stream_poller, "POLL_SECONDS", 0.05)
    monkeypatch.setattr(stream_poller, "RETRY_FIRST_SECONDS", 0.01)
    for n in (1, 2):
        for item in ("a", "b", "fail", "d"):
            put(aws, item, n)  # four MODIFY records, one batch of four
    pool = FakePool(failing=4)
    poller = StreamPoller(reader_for(aws, batch_size=10), pool, threading.Event())  # type: ignore[arg-type]
    poller.start()
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and (not pool.batches or pool.batches[-1] != ["d"]):
        time.sleep(0.02)
    stopped_at = time.monotonic()
    poller.stop_event.set()
    poller.wake()
    poller.join(timeout=2)
    assert not poller.is_alive() and time.monotonic() - stopped_at < 1.0
    assert pool.batches == [["a", "b", "fail", "d"], ["a", "b"], ["fail", "d"], ["fail"], ["fail"], ["fail"], ["d"]]
