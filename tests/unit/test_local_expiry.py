"""The local stack's moto side (filegate_local.expiry, moto_fixes, moto_process's endpoints) on moto in this
process: each expiry test sets things up, then sweeps at chosen moments just before and just after they are due."""

from __future__ import annotations

import gc
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
TABLE = {
    "KeySchema": [{"AttributeName": "id", "KeyType": "HASH"}],
    "AttributeDefinitions": [{"AttributeName": "id", "AttributeType": "S"}],
    "BillingMode": "PAY_PER_REQUEST",
    "StreamSpecification": {"StreamEnabled": True, "StreamViewType": "KEYS_ONLY"},
}


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """A client factory on moto in this process, patched as the local stack's moto is; tables "ttl" and "plain"."""
    for name in ("AWS_ENDPOINT_URL", "AWS_PROFILE", "AWS_DEFAULT_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_ACCOUNT_ID_ENDPOINT_MODE", "disabled")  # moto's mock routes only the regional one
    moto_fixes.apply()
    with mock_aws():
        dynamodb = boto3.session.Session().client("dynamodb", region_name="us-east-1")
        for table in ("ttl", "plain"):
            dynamodb.create_table(TableName=table, **TABLE)
        spec = {"AttributeName": "expires_at", "Enabled": True}
        dynamodb.update_time_to_live(TableName="ttl", TimeToLiveSpecification=spec)
        yield lambda service: boto3.session.Session().client(service, region_name="us-east-1")


def _iterator(aws: Any, table: str, kind: str = "TRIM_HORIZON") -> Any:
    streams, arn = aws("dynamodbstreams"), aws("dynamodb").describe_table(TableName=table)["Table"]["LatestStreamArn"]
    shard = streams.describe_stream(StreamArn=arn)["StreamDescription"]["Shards"][0]["ShardId"]
    return streams.get_shard_iterator(StreamArn=arn, ShardId=shard, ShardIteratorType=kind)["ShardIterator"]


def _records(aws: Any, table: str, iterator: str | None = None) -> list[dict[str, Any]]:
    return list(aws("dynamodbstreams").get_records(ShardIterator=iterator or _iterator(aws, table))["Records"])


def _ids(records: list[dict[str, Any]]) -> list[str]:
    return [record["dynamodb"]["Keys"]["id"]["S"] for record in records]


def test_items_past_their_ttl_are_deleted_by_the_service(aws: Any) -> None:
    now, dynamodb = int(time.time()), aws("dynamodb")  # stream records are written now: a later clock trims them
    items = {"due": ("N", now - 1), "later": ("N", now + 60), "s": ("S", now - 1), "old": ("N", now - 6 * 365 * DAY)}
    for table in ("ttl", "plain"):  # a table without TTL keeps everything
        for key, (kind, expires_at) in items.items():  # TTL ignores a String and what is over five years past
            dynamodb.put_item(TableName=table, Item={"id": {"S": key}, "expires_at": {kind: str(expires_at)}})
    assert expiry.sweep(now)["items"] == 1
    removal = _records(aws, "ttl")[-1]
    assert removal["eventName"] == "REMOVE" and _ids([removal]) == ["due"]
    by = stream_record(removal, "arn:stream", "us-east-1")["userIdentity"]
    assert by == {"type": "Service", "principalId": "dynamodb.amazonaws.com"}
    assert expiry.sweep(now + 60)["items"] == 0  # exactly at its TTL it is not yet past it
    assert expiry.sweep(now + 61)["items"] == 1
    left = {table: {item["id"]["S"] for item in dynamodb.scan(TableName=table)["Items"]} for table in ("ttl", "plain")}
    assert left == {"ttl": {"s", "old"}, "plain": set(items)}


def test_stream_records_older_than_a_day_are_trimmed_readers_go_on_and_wait_for_transactions(aws: Any) -> None:
    dynamodb = aws("dynamodb")
    for index in range(3):
        dynamodb.put_item(TableName="plain", Item={"id": {"S": f"old-{index}"}})
    before = _iterator(aws, "plain")
    last = int(_records(aws, "plain")[-1]["dynamodb"]["SequenceNumber"])
    written = time.time()
    assert expiry.sweep(written + DAY - 5)["stream_records"] == 0
    dynamodb.put_item(TableName="plain", Item={"id": {"S": "new"}})
    assert expiry.sweep(written + DAY + 5)["stream_records"] == 4  # all four were written within the second
    dynamodb.put_item(TableName="plain", Item={"id": {"S": "newest"}})
    (kept,) = _records(aws, "plain")
    assert _ids([kept]) == ["newest"] and int(kept["dynamodb"]["SequenceNumber"]) == last + 2  # none reused
    read: list[dict[str, Any]] = []
    with moto_fixes.TRANSACTION_LOCK:  # as if a transaction were in progress
        reader = threading.Thread(target=lambda: read.extend(_records(aws, "plain", before)))
        reader.start()
        reader.join(0.5)
        assert reader.is_alive() and read == []
    reader.join(10)
    assert _ids(read) == ["newest"]  # an iterator taken before the trim reads on from the oldest record kept


def test_objects_and_uploads_expire_by_the_buckets_lifecycle_rules(aws: Any) -> None:
    assert expiry.lifecycle_expires_at(10.5 * 3600, 1) == 2 * DAY  # created plus a day, then the next midnight UTC
    assert expiry.lifecycle_expires_at(DAY, 7) == 8 * DAY
    s3 = aws("s3")
    s3.create_bucket(Bucket="files")
    rules = [{"Filter": {"Prefix": f"{days}d/"}, "Expiration": {"Days": days}, "Status": "Enabled"} for days in (1, 7)]
    abort = {"AbortIncompleteMultipartUpload": {"DaysAfterInitiation": 1}}
    rules += [{"Filter": {"Prefix": "off/"}, "Expiration": {"Days": 1}, "Status": "Disabled"}]
    rules += [{"Filter": {"Prefix": ""}, "Status": "Enabled", **abort}]
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


def _ask(method: str, path: str) -> Any:
    return Client(with_filegate_endpoints(lambda *_: pytest.fail("moto was asked"))).open(path, method=method).json


def test_the_endpoints_expire_queue_messages_and_count_what_moto_holds(aws: Any) -> None:
    sqs, ses = aws("sqs"), aws("ses")
    url = sqs.create_queue(QueueName="jobs", Attributes={"MessageRetentionPeriod": "60"})["QueueUrl"]
    sqs.send_message(QueueUrl=url, MessageBody="old")
    sent = time.time()
    ses.verify_email_identity(EmailAddress="from@example.com")
    message = {"Subject": {"Data": "Hi"}, "Body": {"Text": {"Data": "Hello"}}}
    ses.send_email(Source="from@example.com", Destination={"ToAddresses": ["to@example.com"]}, Message=message)
    (mail,) = _ask("GET", "/_filegate/ses-messages")["messages"]
    assert [mail[name] for name in ("source", "subject", "body")] == ["from@example.com", "Hi", "Hello"]
    assert mail["destinations"]["ToAddresses"] == ["to@example.com"]
    assert _ask("GET", "/_filegate/footprint")["messages"] == 1
    assert _ask("POST", f"/_filegate/expire?now={sent + 55}")["messages"] == 0
    assert _ask("POST", f"/_filegate/expire?now={sent + 62}")["messages"] == 1
    footprint = _ask("GET", "/_filegate/footprint")
    assert footprint["messages"] == 0 and footprint["mail"] == 1


def test_moto_frees_what_it_overwrites_and_the_tables_a_rolled_back_transaction_replaced(aws: Any) -> None:
    from moto.dynamodb.models import dynamodb_backends
    from moto.dynamodb.models.dynamo_type import Item

    dynamodb, tables = aws("dynamodb"), dynamodb_backends["123456789012"]["us-east-1"].tables
    dynamodb.put_item(TableName="plain", Item={"id": {"S": "a"}})
    iterator, written_to = _iterator(aws, "plain", "LATEST"), weakref.ref(tables["plain"])
    first = weakref.ref(next(iter(tables["plain"].items.values())))
    dynamodb.put_item(TableName="plain", Item={"id": {"S": "a"}, "n": {"N": "2"}})  # a new Item replaces it
    puts = [{"TableName": "plain", "Item": {"id": {"S": key}}} for key in ("b", "a")]
    puts[1]["ConditionExpression"] = "attribute_not_exists(id)"
    with pytest.raises(dynamodb.exceptions.TransactionCanceledException):
        dynamodb.transact_write_items(TransactItems=[{"Put": put} for put in puts])
    gc.collect()
    assert first() is None and written_to() is None
    assert any(item is next(iter(tables["plain"].items.values())) for item in Item.instances_tracked)  # live
    footprint = _ask("GET", "/_filegate/footprint")
    assert footprint["table_copies_held_by_iterators"] == 0 and footprint["shard_iterators"] >= 1
    dynamodb.put_item(TableName="plain", Item={"id": {"S": "c"}})
    assert _ids(_records(aws, "plain", iterator)) == ["a", "c"]  # the old iterator reads the current table
