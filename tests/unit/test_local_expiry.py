"""The local stack expires what AWS expires (filegate_local.expiry), driven by an injected clock: each test
sets things up in moto in this process, then sweeps at chosen moments just before and just after they are due."""

from __future__ import annotations

import calendar
import datetime
import json
import time
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from moto import mock_aws
from werkzeug.test import Client

from filegate_local import expiry, moto_fixes
from filegate_local.moto_process import with_filegate_endpoints
from filegate_local.stream_poller import stream_record

REGION = "us-east-1"
DAY = expiry.DAY_SECONDS


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    for name in ("AWS_ENDPOINT_URL", "AWS_PROFILE", "AWS_DEFAULT_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    # botocore sends DynamoDB Streams calls to <account>.streams-ddb.<region>.amazonaws.com, which moto's
    # in-process mock does not route; the regional endpoint it does.
    monkeypatch.setenv("AWS_ACCOUNT_ID_ENDPOINT_MODE", "disabled")
    moto_fixes.apply()  # as the local stack's moto runs
    with mock_aws():
        yield


def _client(service: str) -> Any:
    return boto3.session.Session().client(service, region_name=REGION)  # type: ignore[call-overload]


# ------------------------------------------------------------------ DynamoDB TTL


def _ttl_table(name: str = "counters", ttl: bool = True) -> Any:
    dynamodb = _client("dynamodb")
    dynamodb.create_table(
        TableName=name,
        BillingMode="PAY_PER_REQUEST",
        AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
        KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
        StreamSpecification={"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"},
    )
    if ttl:
        dynamodb.update_time_to_live(
            TableName=name, TimeToLiveSpecification={"AttributeName": "expires_at", "Enabled": True}
        )
    return dynamodb


def _ids(dynamodb: Any, table: str) -> set[str]:
    return {item["id"]["S"] for item in dynamodb.scan(TableName=table)["Items"]}


def _stream_records(table: str) -> list[dict[str, Any]]:
    dynamodb, streams = _client("dynamodb"), _client("dynamodbstreams")
    arn = dynamodb.describe_table(TableName=table)["Table"]["LatestStreamArn"]
    shard = streams.describe_stream(StreamArn=arn)["StreamDescription"]["Shards"][0]["ShardId"]
    iterator = streams.get_shard_iterator(StreamArn=arn, ShardId=shard, ShardIteratorType="TRIM_HORIZON")
    return list(streams.get_records(ShardIterator=iterator["ShardIterator"])["Records"])


def test_items_past_their_ttl_are_deleted_by_the_service(aws: None) -> None:
    now = float(int(time.time()))  # stream records are written now: a later clock would trim them too
    dynamodb = _ttl_table()
    for item_id, expires_at in {
        "due": {"N": str(int(now) - 1)},
        "later": {"N": str(int(now) + 60)},
        "not-a-number": {"S": str(int(now) - 1)},  # DynamoDB ignores a TTL attribute that is not a Number
        "long-ago": {"N": str(int(now) - 6 * 365 * DAY)},  # over five years past: DynamoDB leaves it
    }.items():
        dynamodb.put_item(TableName="counters", Item={"id": {"S": item_id}, "expires_at": expires_at})
    dynamodb.put_item(TableName="counters", Item={"id": {"S": "no-ttl"}})

    assert expiry.sweep(now).items == 1
    assert _ids(dynamodb, "counters") == {"later", "not-a-number", "long-ago", "no-ttl"}
    removal = _stream_records("counters")[-1]
    assert removal["eventName"] == "REMOVE"
    assert removal["dynamodb"]["Keys"] == {"id": {"S": "due"}}
    assert removal["userIdentity"] == {"Type": "Service", "PrincipalId": "dynamodb.amazonaws.com"}
    event = stream_record(removal, "arn:stream", REGION)  # what the function receives
    assert event["userIdentity"] == {"type": "Service", "principalId": "dynamodb.amazonaws.com"}

    assert expiry.sweep(now + 60).items == 0  # exactly at its TTL it is not yet past it
    assert expiry.sweep(now + 61).items == 1
    assert _ids(dynamodb, "counters") == {"not-a-number", "long-ago", "no-ttl"}


def test_a_table_without_ttl_keeps_everything(aws: None) -> None:
    dynamodb = _ttl_table("plain", ttl=False)
    dynamodb.put_item(TableName="plain", Item={"id": {"S": "a"}, "expires_at": {"N": "1"}})
    assert expiry.sweep(time.time() + 365 * DAY).items == 0
    assert _ids(dynamodb, "plain") == {"a"}


# ------------------------------------------------------------------ DynamoDB streams


def test_stream_records_older_than_a_day_are_trimmed_and_readers_go_on(aws: None) -> None:
    dynamodb = _ttl_table("events", ttl=False)
    for index in range(3):
        dynamodb.put_item(TableName="events", Item={"id": {"S": f"old-{index}"}})
    arn = dynamodb.describe_table(TableName="events")["Table"]["LatestStreamArn"]
    streams = _client("dynamodbstreams")
    shard = streams.describe_stream(StreamArn=arn)["StreamDescription"]["Shards"][0]["ShardId"]
    before = streams.get_shard_iterator(StreamArn=arn, ShardId=shard, ShardIteratorType="TRIM_HORIZON")
    numbers = [record["dynamodb"]["SequenceNumber"] for record in _stream_records("events")]
    written = time.time()

    assert expiry.sweep(written + DAY - 5).stream_records == 0
    dynamodb.put_item(TableName="events", Item={"id": {"S": "new"}})
    assert expiry.sweep(written + DAY + 5).stream_records == 4  # all four were written within the test's second
    dynamodb.put_item(TableName="events", Item={"id": {"S": "newest"}})

    kept = _stream_records("events")
    assert [record["dynamodb"]["Keys"]["id"]["S"] for record in kept] == ["newest"]
    assert int(kept[0]["dynamodb"]["SequenceNumber"]) == int(numbers[-1]) + 2  # numbers are never reused
    # An iterator taken before the trim reads on from the oldest record kept.
    read = streams.get_records(ShardIterator=before["ShardIterator"])["Records"]
    assert [record["dynamodb"]["Keys"]["id"]["S"] for record in read] == ["newest"]


# ------------------------------------------------------------------ S3 lifecycle


def _lifecycle_bucket() -> Any:
    s3 = _client("s3")
    s3.create_bucket(Bucket="files")
    s3.put_bucket_lifecycle_configuration(
        Bucket="files",
        LifecycleConfiguration={
            "Rules": [
                {"ID": "free", "Status": "Enabled", "Filter": {"Prefix": "1d/"}, "Expiration": {"Days": 1}},
                {"ID": "pro", "Status": "Enabled", "Filter": {"Prefix": "7d/"}, "Expiration": {"Days": 7}},
                {"ID": "off", "Status": "Disabled", "Filter": {"Prefix": "off/"}, "Expiration": {"Days": 1}},
                {
                    "ID": "uploads",
                    "Status": "Enabled",
                    "Filter": {"Prefix": ""},
                    "AbortIncompleteMultipartUpload": {"DaysAfterInitiation": 1},
                },
            ]
        },
    )
    return s3


def _keys(s3: Any) -> set[str]:
    return {item["Key"] for item in s3.list_objects_v2(Bucket="files").get("Contents", [])}


def test_lifecycle_expiry_is_the_days_after_creation_rounded_up_to_midnight_utc() -> None:
    created = calendar.timegm(datetime.datetime(2026, 1, 1, 10, 30).timetuple())
    assert expiry.lifecycle_expires_at(created, 1) == calendar.timegm(datetime.datetime(2026, 1, 3).timetuple())
    midnight = calendar.timegm(datetime.datetime(2026, 1, 1).timetuple())
    assert expiry.lifecycle_expires_at(midnight, 7) == midnight + 7 * DAY


def test_objects_expire_by_their_buckets_lifecycle_rules(aws: None) -> None:
    s3 = _lifecycle_bucket()
    large = b"x" * (3 * 1024 * 1024)
    for key in ("1d/acct/a.pdf", "7d/acct/b.pdf", "off/c.pdf", "kept/d.pdf"):
        s3.put_object(Bucket="files", Key=key, Body=large)
    one_day = expiry.lifecycle_expires_at(time.time(), 1)
    seven_days = expiry.lifecycle_expires_at(time.time(), 7)

    assert expiry.sweep(one_day - 60).objects == 0
    assert expiry.sweep(one_day + 60).objects == 1
    assert _keys(s3) == {"7d/acct/b.pdf", "off/c.pdf", "kept/d.pdf"}
    assert expiry.sweep(seven_days + 60).objects == 1
    assert expiry.sweep(seven_days + 365 * DAY).objects == 0
    assert _keys(s3) == {"off/c.pdf", "kept/d.pdf"}


def test_incomplete_multipart_uploads_are_aborted_a_day_after_first_seen(aws: None) -> None:
    s3 = _lifecycle_bucket()
    upload = s3.create_multipart_upload(Bucket="files", Key="1d/acct/big.bin")["UploadId"]
    s3.upload_part(Bucket="files", Key="1d/acct/big.bin", UploadId=upload, PartNumber=1, Body=b"y" * 1024)
    now = time.time()
    assert expiry.sweep(now).uploads == 0
    assert expiry.sweep(now + DAY - 1).uploads == 0
    assert expiry.sweep(now + DAY).uploads == 1
    assert s3.list_multipart_uploads(Bucket="files").get("Uploads", []) == []


# ------------------------------------------------------------------ SQS retention


def test_messages_older_than_the_queues_retention_period_are_deleted(aws: None) -> None:
    sqs = _client("sqs")
    url = sqs.create_queue(QueueName="jobs", Attributes={"MessageRetentionPeriod": "60"})["QueueUrl"]
    sqs.send_message(QueueUrl=url, MessageBody="old")
    sent = time.time()

    def waiting() -> int:
        attributes = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["ApproximateNumberOfMessages"])
        return int(attributes["Attributes"]["ApproximateNumberOfMessages"])

    assert expiry.sweep(sent + 55).messages == 0
    assert waiting() == 1
    assert expiry.sweep(sent + 62).messages == 1
    assert waiting() == 0


# ------------------------------------------------------------------ the sweeper and the moto process's endpoints


def test_the_sweeper_sweeps_by_its_clock_and_the_endpoints_expose_it(aws: None) -> None:
    sqs = _client("sqs")
    url = sqs.create_queue(QueueName="jobs", Attributes={"MessageRetentionPeriod": "60"})["QueueUrl"]
    sqs.send_message(QueueUrl=url, MessageBody="one")
    sqs.send_message(QueueUrl=url, MessageBody="two")
    clock = [time.time()]
    sweeper = expiry.Sweeper(lambda: clock[0], moto_fixes.TRANSACTION_LOCK)
    assert sweeper.sweep().messages == 0

    def unreachable(environ: dict[str, Any], start_response: Any) -> list[bytes]:
        raise AssertionError("moto's own app was asked")

    client = Client(with_filegate_endpoints(unreachable, sweeper))
    footprint = json.loads(client.get("/_filegate/footprint").get_data())
    assert footprint["messages"] == 2
    answer = client.post(f"/_filegate/expire?now={clock[0] + 120}")
    assert json.loads(answer.get_data())["messages"] == 2
    assert json.loads(client.get("/_filegate/footprint").get_data())["messages"] == 0


# ------------------------------------------------------------------ what moto would otherwise hold


def test_a_rolled_back_transaction_leaves_no_table_copy_held_by_shard_iterators(aws: None) -> None:
    from moto.dynamodbstreams.models import dynamodbstreams_backends

    dynamodb = _ttl_table("accounts", ttl=False)
    dynamodb.put_item(TableName="accounts", Item={"id": {"S": "a"}})
    arn = dynamodb.describe_table(TableName="accounts")["Table"]["LatestStreamArn"]
    streams = _client("dynamodbstreams")
    shard = streams.describe_stream(StreamArn=arn)["StreamDescription"]["Shards"][0]["ShardId"]
    streams.get_shard_iterator(StreamArn=arn, ShardId=shard, ShardIteratorType="LATEST")
    failing = [
        {"Put": {"TableName": "accounts", "Item": {"id": {"S": "b"}}}},
        {
            "Put": {
                "TableName": "accounts",
                "Item": {"id": {"S": "a"}},
                "ConditionExpression": "attribute_not_exists(id)",
            }
        },
    ]
    with pytest.raises(dynamodb.exceptions.TransactionCanceledException):
        dynamodb.transact_write_items(TransactItems=failing)

    footprint = json.loads(
        Client(with_filegate_endpoints(_unreachable, expiry.Sweeper(time.time))).get("/_filegate/footprint").get_data()
    )
    assert footprint["shard_iterators"] >= 1
    assert footprint["table_copies_held_by_iterators"] == 0
    assert {
        iterator.stream_shard
        for backend in expiry.backends(dynamodbstreams_backends)
        for iterator in backend.shard_iterators.values()
    } == {table.stream_shard for table in _tables()}


def _tables() -> list[Any]:
    from moto.dynamodb.models import dynamodb_backends

    return [table for backend in expiry.backends(dynamodb_backends) for table in backend.tables.values()]


def _unreachable(environ: dict[str, Any], start_response: Any) -> list[bytes]:
    raise AssertionError("moto's own app was asked")


def test_what_moto_deletes_or_overwrites_is_freed(aws: None) -> None:
    """moto tracks every model instance for its dashboard; the stack's moto tracks them weakly."""
    import gc
    import weakref

    from moto.dynamodb.models import dynamodb_backends
    from moto.dynamodb.models.dynamo_type import Item

    dynamodb = _ttl_table("plain", ttl=False)
    dynamodb.put_item(TableName="plain", Item={"id": {"S": "a"}, "n": {"N": "1"}})
    (table,) = [t for backend in expiry.backends(dynamodb_backends) for t in backend.tables.values()]
    first = weakref.ref(table.items[next(iter(table.items))])
    dynamodb.put_item(TableName="plain", Item={"id": {"S": "a"}, "n": {"N": "2"}})  # a new Item replaces it
    gc.collect()
    assert first() is None
    live = table.items[next(iter(table.items))]
    assert any(tracked is live for tracked in Item.instances_tracked)  # moto's dashboard still lists it
