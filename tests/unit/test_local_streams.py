"""The local stack's DynamoDB stream event sources: records held against SAM's, FilterCriteria, checkpoints, and
the reader and poller over moto's streams (moto in this process, with the local stack's moto_fixes)."""

import dataclasses
import threading
import time
import uuid
from collections.abc import Iterator
from typing import Any
from unittest.mock import Mock

import boto3
import pytest
from moto import mock_aws
from moto.dynamodb.models import DynamoDBBackend
from moto.dynamodbstreams.models import dynamodbstreams_backends

from filegate_local import moto_fixes, stream_poller
from filegate_local.event_filters import FilterError, matches, passes, validate_pattern
from filegate_local.stream_poller import StreamPoller, StreamReader
from filegate_local.workers import Invocation
from tests.helpers.local_stack import template_model as model
from tests.helpers.sam_cli import sam_event

REGION = "us-east-1"
Aws = tuple[Any, Any, str]


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch) -> Iterator[Aws]:
    """(dynamodb, dynamodbstreams) clients on moto in this process, and a table with a stream."""
    for name in ("AWS_ENDPOINT_URL", "AWS_PROFILE", "AWS_DEFAULT_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    # botocore sends Streams calls to <account>.streams-ddb.<region>.amazonaws.com, which mock_aws does not route
    monkeypatch.setenv("AWS_ACCOUNT_ID_ENDPOINT_MODE", "disabled")
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        monkeypatch.setenv(name, "testing")
    moto_fixes.apply()  # as the local stack's moto runs
    with mock_aws():
        dynamodb, table = boto3.client("dynamodb", region_name=REGION), f"t-{uuid.uuid4().hex}"
        dynamodb.create_table(
            TableName=table,
            AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
            KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
            BillingMode="PAY_PER_REQUEST",
            StreamSpecification={"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"},
        )
        yield dynamodb, boto3.client("dynamodbstreams", region_name=REGION), table


def reader_for(aws: Aws | None = None, region: str = REGION, **changes: Any) -> StreamReader:
    """A reader of the template's first stream mapping (BatchSize 100, bisect, MODIFY only...) on the table."""
    dynamodb, streams, table = aws or (None, None, "t")
    mapping = dataclasses.replace(model().stream_mappings[0], table_name=table, **changes)
    return StreamReader(mapping, dynamodb, streams, region)


def put(aws: Aws, item_id: str, n: int) -> None:
    aws[0].put_item(TableName=aws[2], Item={"id": {"S": item_id}, "n": {"N": str(n)}, "b": {"BS": [b"\x00\xff"]}})


def images(reader: StreamReader) -> list[tuple[str, str]]:
    return [(r["dynamodb"]["Keys"]["id"]["S"], r["dynamodb"]["NewImage"]["n"]["N"]) for r in reader.pending]


def test_stream_records_are_lambdas_and_have_the_shape_sam_generates(aws: Aws) -> None:
    put(aws, "101", 1)
    put(aws, "101", 2)
    aws[0].delete_item(TableName=aws[2], Key={"id": {"S": "101"}})
    reader = reader_for(aws, "eu-west-1", filters=())
    assert reader.read() == 3
    modify = reader.pending[1]["dynamodb"]
    assert modify["OldImage"]["n"] == {"N": "1"} and modify["NewImage"]["n"] == {"N": "2"}
    assert modify["NewImage"]["b"] == {"BS": ["AP8="]}  # boto3 reads binary values as bytes, Lambda sends base64
    arn = aws[0].describe_table(TableName=aws[2])["Table"]["LatestStreamArn"]
    lambdas = {(r["eventVersion"], r["awsRegion"], r["eventSourceARN"]) for r in reader.pending}
    assert lambdas == {("1.1", "eu-west-1", arn)}
    assert all(abs(r["dynamodb"]["ApproximateCreationDateTime"] - time.time()) < 60 for r in reader.pending)
    sams = {r["eventName"]: r for r in sam_event("dynamodb", "update")["Records"]}
    for ours, name in zip(reader.pending, ["INSERT", "MODIFY", "REMOVE"], strict=True):
        sam = sams[name]
        assert ours["eventName"] == name and set(ours) == set(sam) and set(ours["dynamodb"]) == set(sam["dynamodb"])
        assert all(type(ours[k]) is type(v) for k, v in sam.items())
        assert all(type(ours["dynamodb"][k]) is type(v) for k, v in sam["dynamodb"].items())


MODIFY = {"eventName": "MODIFY", "dynamodb": {"NewImage": {"tier": {"S": "pro"}, "n": 5}, "tags": ["a", "b"]}}


@pytest.mark.parametrize(
    ("pattern", "expected"),
    [
        ({"eventName": ["MODIFY"]}, True),  # template.yaml's one pattern
        ({"eventName": ["MODIFY"], "dynamodb": {"NewImage": {"tier": {"S": ["free"]}}}}, False),  # every key
        ({"dynamodb": {"OldImage": {"tier": {"S": ["pro"]}}}}, False),  # a missing field
        ({"dynamodb": {"NewImage": {"n": ["5"]}}}, False),  # a string never equals a number
        ({"dynamodb": {"tags": ["b"]}}, True),  # one element of a list
        ({"eventName": "MODIFY"}, FilterError),
        ({"eventName": [{"prefix": "MO"}]}, FilterError),  # Lambda's operators
        ({"dynamodb": {"NewImage": {"n": [5]}}}, FilterError),
    ],
)
def test_filter_patterns_match_exact_strings_and_refuse_the_rest(pattern: dict[str, Any], expected: Any) -> None:
    if expected is FilterError:
        with pytest.raises(FilterError):
            validate_pattern(pattern)
    else:
        validate_pattern(pattern)
        assert matches(pattern, MODIFY) is expected
    assert passes((), MODIFY) and passes(({"eventName": ["INSERT"]}, {"eventName": ["MODIFY"]}), MODIFY)


def test_a_partial_failure_moves_the_checkpoint_to_the_lowest_failure_and_retries_no_further() -> None:
    reader = reader_for(batch_size=4)
    reader.pending = [{"dynamodb": {"SequenceNumber": str(n)}} for n in range(1, 7)]
    reported = {"batchItemFailures": [{"itemIdentifier": "4"}, {"itemIdentifier": "3"}]}
    assert reader.settle(reader.next_batch(), True, reported) == 2 and reader.attempts == 1
    assert [r["dynamodb"]["SequenceNumber"] for r in reader.next_batch()] == ["3", "4"]  # that batch's rest only
    assert reader.settle(reader.next_batch(), True, {"batchItemFailures": []}) == 2 and reader.attempts == 0
    assert [r["dynamodb"]["SequenceNumber"] for r in reader.next_batch()] == ["5", "6"]
    reader.mapping = dataclasses.replace(reader.mapping, report_batch_item_failures=False)
    assert reader.settle(reader.next_batch(), True, reported) == 2  # a reply a mapping did not ask for is ignored


def test_the_reader_reads_from_the_trim_horizon_filtered_and_carries_on_after_its_iterators_expire(
    aws: Aws, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(moto_fixes, "SHARD_ITERATOR_LIFETIME_SECONDS", 0.2)
    put(aws, "a", 1)
    put(aws, "a", 2)
    reader = reader_for(aws)
    assert reader.read() == 1  # the INSERT is filtered out
    for _ in range(20):
        assert reader.read() == 1  # nothing twice; each read takes a new iterator
    time.sleep(0.3)
    put(aws, "a", 3)
    reader_for(aws).read()  # moto forgets the expired iterators, the reader's current one too
    assert len(dynamodbstreams_backends["123456789012"][REGION].shard_iterators) < 5
    assert reader.read() == 2  # a new iterator after the last record read: nothing lost, nothing twice
    assert images(reader) == [("a", "2"), ("a", "3")]


def test_stream_reads_wait_for_a_transaction_moto_may_still_roll_back_and_follow_the_table_after(
    aws: Aws, monkeypatch: pytest.MonkeyPatch
) -> None:
    dynamodb, _, table = aws
    put(aws, "a", 1)
    reader = reader_for(aws, filters=())
    assert reader.read() == 1
    put_item, reading = DynamoDBBackend.put_item, threading.Thread(target=reader.read)

    def put_item_then_read(backend: Any, table_name: str, item: dict[str, Any], *args: Any, **kwargs: Any) -> Any:
        done = put_item(backend, table_name, item, *args, **kwargs)
        if item["id"] == {"S": "phantom"}:  # written, not yet rolled back: a reader now would see it
            reading.start()
            reading.join(timeout=0.5)
            assert reading.is_alive()  # it waits for the rollback
        return done

    monkeypatch.setattr(DynamoDBBackend, "put_item", put_item_then_read)
    condition = {"TableName": table, "Item": {"id": {"S": "a"}}, "ConditionExpression": "attribute_not_exists(id)"}
    with pytest.raises(dynamodb.exceptions.TransactionCanceledException):
        phantom = {"TableName": table, "Item": {"id": {"S": "phantom"}, "n": {"N": "0"}}}
        dynamodb.transact_write_items(TransactItems=[{"Put": phantom}, {"Put": condition}])
    reading.join(timeout=5)
    put(aws, "b", 1)  # moto put a copy of the table in place: the reader reads the new one
    assert reader.read() == 2 and images(reader) == [("a", "1"), ("b", "1")]  # no phantom, nothing lost


def test_the_poller_bisects_retries_in_order_and_stops_promptly(aws: Aws, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(stream_poller, "POLL_SECONDS", 0.05)
    for n in (1, 2):
        for item in ("a", "b", "fail", "d"):
            put(aws, item, n)  # four MODIFY records, one batch of four

    def ids(event: dict[str, Any]) -> list[str]:
        return [r["dynamodb"]["Keys"]["id"]["S"] for r in event["Records"]]

    pool = Mock()  # the function fails while given `fail`, four times
    pool.invoke.side_effect = [Invocation("r", s) for s in ["error", "ok", "error", "error", "error", "ok", "ok"]]
    poller = StreamPoller(reader_for(aws, batch_size=10), pool, threading.Event())
    poller.start()
    deadline = time.monotonic() + 10
    while pool.invoke.call_count < 7 and time.monotonic() < deadline:
        time.sleep(0.01)
    stopped_at = time.monotonic()
    poller.stop_event.set()
    poller.wake()
    poller.join(timeout=2)
    assert not poller.is_alive() and time.monotonic() - stopped_at < 1.0
    bisected = [["a", "b", "fail", "d"], ["a", "b"], ["fail", "d"], ["fail"], ["fail"], ["fail"], ["d"]]
    assert [ids(call.args[0]) for call in pool.invoke.call_args_list] == bisected  # `d` waits until `fail` is done
