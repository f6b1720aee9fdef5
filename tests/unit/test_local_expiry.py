"""The local stack's moto side (filegate_local.expiry, moto_fixes, moto_process's endpoints) on moto in this
process: each expiry test sets things up, then sweeps at chosen moments just before and just after they are due."""

from __future__ import annotations

import calendar
import datetime
import gc
import json
import threading
import time
import weakref
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from moto import mock_aws
from werkzeug.test import Client

from filegate_local import expiry, moto_fixes
from filegate_local.moto_process import with_filegate_endpoints
from filegate_local.stream_poller import stream_record

DAY = expiry.DAY_SECONDS


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """A client factory on moto in this process, patched as the local stack's moto is."""
    for name in ("AWS_ENDPOINT_URL", "AWS_PROFILE", "AWS_DEFAULT_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_ACCOUNT_ID_ENDPOINT_MODE", "disabled")  # moto's mock routes only the regional one
    moto_fixes.apply()
    with mock_aws():
        yield lambda service: boto3.session.Session().client(service, region_name="us-east-1")


def _table(aws: Any, name: str, ttl: bool = False) -> Any:
    dynamodb = aws("dynamodb")
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


def _iterator(aws: Any, table: str, kind: str = "TRIM_HORIZON") -> str:
    arn = aws("dynamodb").describe_table(TableName=table)["Table"]["LatestStreamArn"]
    shard = aws("dynamodbstreams").describe_stream(StreamArn=arn)["StreamDescription"]["Shards"][0]["ShardId"]
    return str(
        aws("dynamodbstreams").get_shard_iterator(StreamArn=arn, ShardId=shard, ShardIteratorType=kind)["ShardIterator"]
    )


def _records(aws: Any, table: str, iterator: str | None = None) -> list[dict[str, Any]]:
    return list(aws("dynamodbstreams").get_records(ShardIterator=iterator or _iterator(aws, table))["Records"])


def _ids(records: list[dict[str, Any]]) -> list[str]:
    return [record["dynamodb"]["Keys"]["id"]["S"] for record in records]


def test_items_past_their_ttl_are_deleted_by_the_service(aws: Any) -> None:
    now = float(int(time.time()))  # stream records are written now: a later clock would trim them too
    dynamodb, _ = _table(aws, "counters", ttl=True), _table(aws, "plain")
    for item_id, expires_at in {
        "due": {"N": str(int(now) - 1)},
        "later": {"N": str(int(now) + 60)},
        "not-a-number": {"S": str(int(now) - 1)},  # DynamoDB ignores a TTL attribute that is not a Number
        "long-ago": {"N": str(int(now) - 6 * 365 * DAY)},  # over five years past: DynamoDB leaves it
    }.items():
        for table in ("counters", "plain"):  # a table without TTL keeps everything
            dynamodb.put_item(TableName=table, Item={"id": {"S": item_id}, "expires_at": expires_at})

    assert expiry.sweep(now)["items"] == 1
    removal = _records(aws, "counters")[-1]
    assert removal["eventName"] == "REMOVE" and _ids([removal]) == ["due"]
    assert stream_record(removal, "arn:stream", "us-east-1")["userIdentity"] == {
        "type": "Service",
        "principalId": "dynamodb.amazonaws.com",
    }
    assert expiry.sweep(now + 60)["items"] == 0  # exactly at its TTL it is not yet past it
    assert expiry.sweep(now + 61)["items"] == 1
    scan = {
        table: {item["id"]["S"] for item in dynamodb.scan(TableName=table)["Items"]} for table in ("counters", "plain")
    }
    assert scan == {"counters": {"not-a-number", "long-ago"}, "plain": {"due", "later", "not-a-number", "long-ago"}}


def test_stream_records_older_than_a_day_are_trimmed_and_readers_go_on(aws: Any) -> None:
    dynamodb = _table(aws, "events")
    for index in range(3):
        dynamodb.put_item(TableName="events", Item={"id": {"S": f"old-{index}"}})
    before = _iterator(aws, "events")
    last = int(_records(aws, "events")[-1]["dynamodb"]["SequenceNumber"])
    written = time.time()
    assert expiry.sweep(written + DAY - 5)["stream_records"] == 0
    dynamodb.put_item(TableName="events", Item={"id": {"S": "new"}})
    assert expiry.sweep(written + DAY + 5)["stream_records"] == 4  # all four were written within the second
    dynamodb.put_item(TableName="events", Item={"id": {"S": "newest"}})
    (kept,) = _records(aws, "events")
    assert _ids([kept]) == ["newest"] and int(kept["dynamodb"]["SequenceNumber"]) == last + 2  # none reused
    assert _ids(_records(aws, "events", before)) == ["newest"]  # an older iterator reads on from the oldest kept


def test_objects_and_uploads_expire_by_the_buckets_lifecycle_rules(aws: Any) -> None:
    created = calendar.timegm(datetime.datetime(2026, 1, 1, 10, 30).timetuple())
    assert expiry.lifecycle_expires_at(created, 1) == calendar.timegm(datetime.datetime(2026, 1, 3).timetuple())
    assert expiry.lifecycle_expires_at(created - 37800, 7) == created - 37800 + 7 * DAY  # midnight stays

    s3 = aws("s3")
    s3.create_bucket(Bucket="files")
    rules = [
        {"ID": f"r{days}", "Status": "Enabled", "Filter": {"Prefix": f"{days}d/"}, "Expiration": {"Days": days}}
        for days in (1, 7)
    ]
    rules.append({"ID": "off", "Status": "Disabled", "Filter": {"Prefix": "off/"}, "Expiration": {"Days": 1}})
    rules.append(
        {
            "ID": "mpu",
            "Status": "Enabled",
            "Filter": {"Prefix": ""},
            "AbortIncompleteMultipartUpload": {"DaysAfterInitiation": 1},
        }
    )
    s3.put_bucket_lifecycle_configuration(Bucket="files", LifecycleConfiguration={"Rules": rules})
    for key in ("1d/a.pdf", "7d/b.pdf", "off/c.pdf", "kept/d.pdf"):
        s3.put_object(Bucket="files", Key=key, Body=b"x" * 100_000)
    s3.create_multipart_upload(Bucket="files", Key="1d/big.bin")
    now, one_day, seven_days = time.time(), *(expiry.lifecycle_expires_at(time.time(), days) for days in (1, 7))

    def keys() -> set[str]:
        return {item["Key"] for item in s3.list_objects_v2(Bucket="files").get("Contents", [])}

    assert expiry.sweep(now) == dict.fromkeys(("items", "stream_records", "objects", "uploads", "messages"), 0)
    assert expiry.sweep(now + DAY - 1)["uploads"] == 0  # a day from the first sweep that saw it
    assert expiry.sweep(now + DAY)["uploads"] == 1 and "Uploads" not in s3.list_multipart_uploads(Bucket="files")
    assert expiry.sweep(one_day - 60)["objects"] == 0
    assert expiry.sweep(one_day + 60)["objects"] == 1 and keys() == {"7d/b.pdf", "off/c.pdf", "kept/d.pdf"}
    assert expiry.sweep(seven_days + 60)["objects"] == 1 and keys() == {"off/c.pdf", "kept/d.pdf"}


def test_the_endpoints_expire_queue_messages_and_count_what_moto_holds(aws: Any) -> None:
    sqs, ses = aws("sqs"), aws("ses")
    url = sqs.create_queue(QueueName="jobs", Attributes={"MessageRetentionPeriod": "60"})["QueueUrl"]
    sqs.send_message(QueueUrl=url, MessageBody="old")
    sent = time.time()
    ses.verify_email_identity(EmailAddress="from@example.com")
    message = {"Subject": {"Data": "Hi"}, "Body": {"Text": {"Data": "Hello"}}}
    ses.send_email(Source="from@example.com", Destination={"ToAddresses": ["to@example.com"]}, Message=message)

    def unreachable(environ: dict[str, Any], start_response: Any) -> list[bytes]:
        raise AssertionError("moto's own app was asked")

    client = Client(with_filegate_endpoints(unreachable))
    (mail,) = json.loads(client.get("/_filegate/ses-messages").get_data())["messages"]
    assert (mail["source"], mail["subject"], mail["body"], mail["destinations"]["ToAddresses"]) == (
        "from@example.com",
        "Hi",
        "Hello",
        ["to@example.com"],
    )
    assert json.loads(client.get("/_filegate/footprint").get_data())["messages"] == 1
    assert json.loads(client.post(f"/_filegate/expire?now={sent + 55}").get_data())["messages"] == 0
    assert json.loads(client.post(f"/_filegate/expire?now={sent + 62}").get_data())["messages"] == 1
    footprint = json.loads(client.get("/_filegate/footprint").get_data())
    assert footprint["messages"] == 0 and footprint["mail"] == 1


def test_a_rolled_back_transaction_leaves_no_table_copy_alive(aws: Any) -> None:
    from moto.dynamodb.models import dynamodb_backends

    dynamodb = _table(aws, "accounts")
    dynamodb.put_item(TableName="accounts", Item={"id": {"S": "a"}})
    iterator = _iterator(aws, "accounts", "LATEST")
    written_to = weakref.ref(dynamodb_backends["123456789012"]["us-east-1"].tables["accounts"])
    condition = {"ConditionExpression": "attribute_not_exists(id)"}
    items = [
        {"Put": {"TableName": "accounts", "Item": {"id": {"S": key}}, **extra}}
        for key, extra in (("b", {}), ("a", condition))
    ]
    with pytest.raises(dynamodb.exceptions.TransactionCanceledException):
        dynamodb.transact_write_items(TransactItems=items)
    gc.collect()
    assert written_to() is None
    footprint = json.loads(Client(with_filegate_endpoints(lambda *_: [])).get("/_filegate/footprint").get_data())
    assert footprint["table_copies_held_by_iterators"] == 0 and footprint["shard_iterators"] >= 1
    dynamodb.put_item(TableName="accounts", Item={"id": {"S": "c"}})
    assert _ids(_records(aws, "accounts", iterator)) == ["c"]  # the old iterator reads the current table


def test_stream_reads_wait_for_a_transaction_in_progress(aws: Any) -> None:
    _table(aws, "accounts").put_item(TableName="accounts", Item={"id": {"S": "a"}})
    iterator, read = _iterator(aws, "accounts"), []
    with moto_fixes.TRANSACTION_LOCK:
        reader = threading.Thread(target=lambda: read.extend(_records(aws, "accounts", iterator)))
        reader.start()
        reader.join(0.5)
        assert reader.is_alive() and read == []
    reader.join(10)
    assert _ids(read) == ["a"]


def test_what_moto_deletes_or_overwrites_is_freed(aws: Any) -> None:
    from moto.dynamodb.models import dynamodb_backends
    from moto.dynamodb.models.dynamo_type import Item

    dynamodb = _table(aws, "plain")
    dynamodb.put_item(TableName="plain", Item={"id": {"S": "a"}, "n": {"N": "1"}})
    table = dynamodb_backends["123456789012"]["us-east-1"].tables["plain"]
    first = weakref.ref(next(iter(table.items.values())))
    dynamodb.put_item(TableName="plain", Item={"id": {"S": "a"}, "n": {"N": "2"}})  # a new Item replaces it
    gc.collect()
    assert first() is None
    assert any(
        tracked is next(iter(table.items.values())) for tracked in Item.instances_tracked
    )  # moto's dashboard lists it
