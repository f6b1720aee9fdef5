"""Per-key activity items in the counters table (filegate.activity): one item per key and hour or day.

``activity#<key_id>#h#<hour>`` and ``activity#<key_id>#d#<day>`` hold one number per counted field, each
added atomically, so batches rolled up concurrently (or again, after a retry) only ever add.
``activity#<key_id>#last`` keeps the key's latest request (epoch seconds and source IP), never moved back.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from botocore.exceptions import ClientError

from filegate.db.counters import CounterRecord


def _client() -> Any:
    return CounterRecord._get_connection().connection.client


def bucket_id(key_id: str, granularity: str, start: datetime) -> str:
    """``granularity`` ``hour`` (``…#h#2026-12-07T06``) or ``day`` (``…#d#2026-12-07``)."""
    label = start.strftime("%Y-%m-%dT%H") if granularity == "hour" else start.strftime("%Y-%m-%d")
    return f"activity#{key_id}#{granularity[0]}#{label}"


def last_id(key_id: str) -> str:
    return f"activity#{key_id}#last"


def add(item_id: str, counts: dict[str, int], *, expires_at: datetime) -> None:
    """Add ``counts`` (field → amount, none zero) to one item: one UpdateItem."""
    names = {f"#f{i}": name for i, name in enumerate(counts)} | {"#e": "expires_at"}
    values = {f":v{i}": {"N": str(v)} for i, v in enumerate(counts.values())}
    values[":e"] = {"N": str(int(expires_at.timestamp()))}
    adds = ", ".join(f"#f{i} :v{i}" for i in range(len(counts)))
    _client().update_item(
        TableName=CounterRecord.Meta.table_name,
        Key={"counter_id": {"S": item_id}},
        UpdateExpression=f"ADD {adds} SET #e = :e",
        ExpressionAttributeNames=names,
        ExpressionAttributeValues=values,
    )


def read(item_ids: list[str], fields: tuple[str, ...], now: datetime) -> dict[str, dict[str, int]]:
    """Each item's fields (missing items and fields, or items past their TTL, are absent)."""
    found: dict[str, dict[str, int]] = {}
    unique = list(dict.fromkeys(item_ids))
    for start in range(0, len(unique), 100):
        request = {
            CounterRecord.Meta.table_name: {"Keys": [{"counter_id": {"S": i}} for i in unique[start : start + 100]]}
        }
        while request:
            answer = _client().batch_get_item(RequestItems=request)
            for item in answer.get("Responses", {}).get(CounterRecord.Meta.table_name, []):
                expires = int(item.get("expires_at", {}).get("N", "0"))
                if expires and expires <= now.timestamp():
                    continue
                found[item["counter_id"]["S"]] = {f: int(item[f]["N"]) for f in fields if f in item}
            request = answer.get("UnprocessedKeys") or {}
    return found


def record_last(key_id: str, at: int, source_ip: str, *, expires_at: datetime) -> None:
    """The key's latest request, unless a later one is already there (batches may arrive out of order)."""
    try:
        _client().update_item(
            TableName=CounterRecord.Meta.table_name,
            Key={"counter_id": {"S": last_id(key_id)}},
            UpdateExpression="SET #v = :at, #ip = :ip, #e = :e",
            ConditionExpression="attribute_not_exists(#v) OR #v < :at",
            ExpressionAttributeNames={"#v": "value", "#ip": "ip", "#e": "expires_at"},
            ExpressionAttributeValues={
                ":at": {"N": str(at)},
                ":ip": {"S": source_ip},
                ":e": {"N": str(int(expires_at.timestamp()))},
            },
        )
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") != "ConditionalCheckFailedException":
            raise


def read_last(key_id: str) -> tuple[int, str] | None:
    item = (
        _client()
        .get_item(
            TableName=CounterRecord.Meta.table_name, Key={"counter_id": {"S": last_id(key_id)}}, ConsistentRead=True
        )
        .get("Item")
    )
    if not item or "value" not in item:
        return None
    return int(item["value"]["N"]), str(item.get("ip", {}).get("S", ""))
