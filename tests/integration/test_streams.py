"""DynamoDB stream event sources on the local stack: the stamper finishes, from the keys table's stream, a
key change whose caller died before stamping it (filegate.keys.backstop), in its own worker process."""

from __future__ import annotations

import time

from filegate.keys import backstop
from filegate_local.stack import LocalStack
from tests.helpers.local_api import new_account
from tests.helpers.local_stack import moto_client

STAMPER = "StamperFunction"


def test_the_stack_reads_both_tables_streams_for_the_stamper(stack: LocalStack) -> None:
    dynamodb = moto_client(stack, "dynamodb")
    sources = {s["table"]: s for s in stack.state["stream_event_sources"] if s["function"] == STAMPER}
    assert set(sources) == {"KeysTable", "AccountsTable"}
    for table, source in sources.items():
        name = stack.state["resources"][table]["name"]
        assert source["stream_arn"] == dynamodb.describe_table(TableName=name)["Table"]["LatestStreamArn"]
        assert source["starting_position"] == "TRIM_HORIZON" and source["report_batch_item_failures"]


def test_the_stamper_finishes_a_key_change_its_caller_left(stack: LocalStack) -> None:
    dynamodb = moto_client(stack, "dynamodb")
    outputs = stack.state["outputs"]
    account = new_account(stack)
    account_id, key_id = account["account_id"], account["key_id"]
    # What a change call that died before stamping leaves: a version from the account's sequence written
    # on the key, never published.
    version = dynamodb.update_item(
        TableName=outputs["AccountsTableName"],
        Key={"account_id": {"S": account_id}},
        UpdateExpression="ADD change_seq :one",
        ExpressionAttributeValues={":one": {"N": "1"}},
        ReturnValues="UPDATED_NEW",
    )["Attributes"]["change_seq"]["N"]
    dynamodb.update_item(
        TableName=outputs["KeysTableName"],
        Key={"key_id": {"S": key_id}},
        UpdateExpression="SET #name = :name, #version = :version",
        ExpressionAttributeNames={"#name": "name", "#version": "version"},
        ExpressionAttributeValues={":name": {"S": "renamed, then the caller died"}, ":version": {"N": version}},
    )

    # The stamper first gives the change's caller its whole Lambda timeout to publish it (backstop.CALLER_SECONDS,
    # real time here), then stamps: this test waits that long by design.
    published: str | None = None
    deadline = time.monotonic() + backstop.CALLER_SECONDS + 60
    while published != version and time.monotonic() < deadline:
        time.sleep(0.2)
        item = dynamodb.get_item(TableName=outputs["KeysTableName"], Key={"key_id": {"S": key_id}}, ConsistentRead=True)
        published = item["Item"].get("published_version", {}).get("N")
    assert published == version, stack.log_file(STAMPER).read_text(errors="replace")[-3000:]

    stamped = [
        item
        for page in dynamodb.get_paginator("scan").paginate(
            TableName=outputs["CountersTableName"],
            FilterExpression="#stamp = :version",
            ExpressionAttributeNames={"#stamp": f"s:k:{key_id}"},
            ExpressionAttributeValues={":version": {"N": version}},
            ConsistentRead=True,
        )
        for item in page["Items"]
    ]
    assert stamped and all(item["counter_id"]["S"].startswith(f"rate#{account_id}#") for item in stamped)
    assert stack.invocations(STAMPER) >= 1
    assert "finished stamping a change its caller left" in stack.log_file(STAMPER).read_text(errors="replace")
