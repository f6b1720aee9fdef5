"""The counters table: rate-limit windows and usage counts, each one atomic conditional UpdateItem.

Rate-window items also carry the account's change stamps (``s:…`` attributes, see filegate.keys.stamps):
the per-request write returns them, so a function learns of a key or account change without another read.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from botocore.exceptions import ClientError
from pynamodb.attributes import NumberAttribute, TTLAttribute, UnicodeAttribute
from pynamodb.exceptions import UpdateError
from pynamodb.expressions.update import Action
from pynamodb.models import Model

from filegate.db.writes import is_condition_failure

STAMP_PREFIX = "s:"
ACCOUNT_STAMP = "s:acct"  # version of the account's last tier/status change
KEYS_STAMP = "s:keys"  # collapsed key stamps: every key of the account may have changed up to this version
KEY_STAMP_PREFIX = "s:k:"  # s:k:<key_id>: version of that key's last change
KEY_USE_PREFIX = "u:"  # u:<key_id> on a rate item: that key's requests in the item's window
MAX_KEY_STAMPS = 16  # past this many per item, key stamps collapse into KEYS_STAMP
_NAME_OK = re.compile(r"^[A-Za-z0-9_:.#-]{1,200}$")


class CounterRecord(Model):
    class Meta:
        table_name = "unbound-counters"

    counter_id = UnicodeAttribute(hash_key=True)
    value = NumberAttribute(default=0)  # not "count": that name is Model.count()
    expires_at = TTLAttribute(null=True)


def key_stamp(key_id: str) -> str:
    return KEY_STAMP_PREFIX + key_id


def last_used_id(key_id: str) -> str:
    """The item keeping a key's last use (epoch seconds of the minute) in ``value``."""
    return f"used#{key_id}"


@dataclass(frozen=True)
class Hit:
    """One counted request: the new count (None when the limit refused it), the item's stamps, and whether
    it was the first request of ``key_id`` this item counted (only when admitted and a key was named)."""

    value: int | None
    stamps: dict[str, int] = field(default_factory=dict)
    first_use: bool = False


def _client() -> Any:
    # The low-level client of pynamodb's own connection (same region, endpoint and retries): these writes
    # need names unknown to the model (the stamps) and the item back when a condition refuses them.
    return CounterRecord._get_connection().connection.client


def _stamps_of(item: dict[str, Any]) -> dict[str, int]:
    return {name: int(value["N"]) for name, value in item.items() if name.startswith(STAMP_PREFIX) and "N" in value}


def _condition_failed(exc: ClientError) -> bool:
    return exc.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException"


def hit(
    counter_id: str, *, expires_at: datetime, limit: int | None = None, by: int = 1, key_id: str | None = None
) -> Hit:
    """Add ``by`` unless that would pass ``limit``; either way, return the item's stamps (one UpdateItem).

    With ``key_id``, the same write counts that key's requests on the item, so the caller learns (``first_use``)
    when a key is used for the first time in the item's window: last use is then recorded once per window,
    not on every request."""
    names = {"#v": "value", "#e": "expires_at"}
    update = "ADD #v :by SET #e = :e"
    if key_id is not None:
        if not _NAME_OK.match(KEY_USE_PREFIX + key_id):
            raise ValueError(f"bad key id {key_id!r}")
        names["#u"] = KEY_USE_PREFIX + key_id
        update = "ADD #v :by, #u :by SET #e = :e"
    request: dict[str, Any] = {
        "TableName": CounterRecord.Meta.table_name,
        "Key": {"counter_id": {"S": counter_id}},
        "UpdateExpression": update,
        "ExpressionAttributeNames": names,
        "ExpressionAttributeValues": {":by": {"N": str(by)}, ":e": {"N": str(int(expires_at.timestamp()))}},
        "ReturnValues": "ALL_NEW",
    }
    if limit is not None:
        request["ConditionExpression"] = "attribute_not_exists(#v) OR #v <= :max"
        request["ExpressionAttributeValues"][":max"] = {"N": str(limit - by)}
        request["ReturnValuesOnConditionCheckFailure"] = "ALL_OLD"
    try:
        item = _client().update_item(**request)["Attributes"]
    except ClientError as exc:
        if _condition_failed(exc):
            old: dict[str, Any] = dict(exc.response.get("Item") or {})  # type: ignore[call-overload]
            return Hit(None, _stamps_of(old))
        raise
    first_use = key_id is not None and int(item.get(KEY_USE_PREFIX + key_id, {}).get("N", "0")) == by
    return Hit(int(item["value"]["N"]), _stamps_of(item), first_use)


def peek_stamps(counter_id: str) -> dict[str, int]:
    """The item's stamps, read (consistently) without counting anything."""
    item = (
        _client()
        .get_item(TableName=CounterRecord.Meta.table_name, Key={"counter_id": {"S": counter_id}}, ConsistentRead=True)
        .get("Item")
    )
    return _stamps_of(dict(item or {}))


def record_last_use(key_id: str, minute: datetime, *, expires_at: datetime) -> None:
    """A key's last use, to the minute: a conditional write that never moves it back."""
    at = int(minute.timestamp())
    record = CounterRecord(last_used_id(key_id))
    condition = CounterRecord.value.does_not_exist() | (CounterRecord.value < at)
    try:
        record.update(
            actions=[CounterRecord.value.set(at), CounterRecord.expires_at.set(expires_at)], condition=condition
        )
    except UpdateError as exc:
        if not is_condition_failure(exc):
            raise


def stamp(counter_id: str, name: str, version: int, *, expires_at: datetime) -> dict[str, int] | None:
    """Raise stamp ``name`` to ``version`` (never lower it); the item's stamps after, None if already there.

    Idempotent: a repeated or late stamp is refused by its condition and changes nothing.
    """
    if not _NAME_OK.match(name):
        raise ValueError(f"bad stamp name {name!r}")
    try:
        item = _client().update_item(
            TableName=CounterRecord.Meta.table_name,
            Key={"counter_id": {"S": counter_id}},
            UpdateExpression="SET #s = :v, #e = if_not_exists(#e, :e)",
            ConditionExpression="attribute_not_exists(#s) OR #s < :v",
            ExpressionAttributeNames={"#s": name, "#e": "expires_at"},
            ExpressionAttributeValues={":v": {"N": str(version)}, ":e": {"N": str(int(expires_at.timestamp()))}},
            ReturnValues="ALL_NEW",
        )["Attributes"]
    except ClientError as exc:
        if _condition_failed(exc):
            return None
        raise
    return _stamps_of(item)


def collapse_key_stamps(counter_id: str, stamps: dict[str, int]) -> bool:
    """Fold an item's per-key stamps into KEYS_STAMP (their maximum), so the item stays small.

    Conditional on the folded stamps being unchanged; False (nothing done) when another writer got there
    first, which is harmless: the next stamp write collapses again.
    """
    per_key = sorted((n, v) for n, v in stamps.items() if n.startswith(KEY_STAMP_PREFIX))
    if not per_key:
        return False
    top = max([v for _, v in per_key] + [stamps.get(KEYS_STAMP, 0)])
    names = {"#ks": KEYS_STAMP} | {f"#k{i}": n for i, (n, _) in enumerate(per_key)}
    values = {":top": {"N": str(top)}} | {f":v{i}": {"N": str(v)} for i, (_, v) in enumerate(per_key)}
    unchanged = " AND ".join(f"#k{i} = :v{i}" for i in range(len(per_key)))
    try:
        _client().update_item(
            TableName=CounterRecord.Meta.table_name,
            Key={"counter_id": {"S": counter_id}},
            UpdateExpression="SET #ks = :top REMOVE " + ", ".join(f"#k{i}" for i in range(len(per_key))),
            ConditionExpression=f"(attribute_not_exists(#ks) OR #ks <= :top) AND {unchanged}",
            ExpressionAttributeNames=names,
            ExpressionAttributeValues=values,
        )
    except ClientError as exc:
        if _condition_failed(exc):
            return False
        raise
    return True


def increment(counter_id: str, *, expires_at: datetime, limit: int | None = None, by: int = 1) -> int | None:
    """Add ``by`` and return the new count; None (and no change) when that would pass ``limit``."""
    actions: list[Action] = [CounterRecord.value.add(by), CounterRecord.expires_at.set(expires_at)]
    condition = None
    if limit is not None:
        condition = CounterRecord.value.does_not_exist() | (CounterRecord.value <= limit - by)
    record = CounterRecord(counter_id)
    try:
        record.update(actions=actions, condition=condition)
    except UpdateError as exc:
        if is_condition_failure(exc):
            return None
        raise
    return int(record.value)


def decrement(counter_id: str, *, by: int = 1) -> None:
    """Give back a reservation; never below zero."""
    record = CounterRecord(counter_id)
    try:
        record.update(
            actions=[CounterRecord.value.add(-by)],
            condition=CounterRecord.value.exists() & (CounterRecord.value >= by),
        )
    except UpdateError as exc:
        if not is_condition_failure(exc):
            raise


def read_many(counter_ids: list[str], now: datetime) -> dict[str, int]:
    """Current values; a missing counter, or one past its TTL that DynamoDB has not deleted yet, is 0."""
    values = dict.fromkeys(counter_ids, 0)
    unique = list(dict.fromkeys(counter_ids))
    for start in range(0, len(unique), 100):
        for record in CounterRecord.batch_get(unique[start : start + 100]):
            if record.expires_at is not None and record.expires_at <= now:
                continue
            values[record.counter_id] = int(record.value or 0)
    return values
