"""Cursor pagination over a GSI query, newest first, shared by every listing."""

from __future__ import annotations

import base64
import json
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from botocore.exceptions import ClientError
from pynamodb.exceptions import PynamoDBException
from pynamodb.indexes import GlobalSecondaryIndex

T = TypeVar("T")


class BadCursor(ValueError):
    pass


@dataclass(frozen=True)
class Page(Generic[T]):
    items: list[T]
    next_cursor: str | None


def encode_cursor(position: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(position, separators=(",", ":")).encode()).decode()


def key_shape(*schemas: Mapping[str, Any]) -> dict[str, str]:
    """The attributes (name -> DynamoDB type) of a query's start key: the keys of the table and of the index
    it queries, from their pynamodb schemas (``Model._get_schema()``, ``index._get_schema()``)."""
    shape: dict[str, str] = {}
    for schema in schemas:
        types = {d["AttributeName"]: d["AttributeType"] for d in schema.get("attribute_definitions", [])}
        shape.update({k["AttributeName"]: types[k["AttributeName"]] for k in schema.get("key_schema", [])})
    return shape


def decode_cursor(cursor: str, hash_key_name: str, hash_key: str, shape: Mapping[str, str]) -> dict[str, Any]:
    """A cursor we issued for this same listing, or BadCursor. Its shape is checked whole here (exactly the
    start key's attributes, each of its type), so a forged one that still names the caller's account never
    reaches DynamoDB as a malformed start key."""
    try:
        value = json.loads(base64.urlsafe_b64decode(cursor.encode()))
    except Exception as exc:
        raise BadCursor("cursor") from exc
    if (
        not isinstance(value, dict)
        or set(value) != set(shape)
        or not all(_is_key_value(value[name], kind) for name, kind in shape.items())
        or value.get(hash_key_name) != {"S": hash_key}
    ):
        raise BadCursor("cursor")
    return value


def _is_key_value(value: object, kind: str) -> bool:
    """One key value as we encode it: ``{"S": "..."}`` (or ``{"N": "12"}``), of the attribute's type."""
    if not isinstance(value, dict) or set(value) != {kind}:
        return False
    text = value[kind]
    if not isinstance(text, str) or not 0 < len(text) <= 1024:
        return False
    return kind == "S" or (kind == "N" and text.lstrip("-").isdigit())


def resumed(query: Iterable[T], cursor: str | None) -> Iterator[T]:
    """The items of a query that starts at a decoded cursor: a start key DynamoDB refuses (the wrong
    attributes for the index, a wrong type) is BadCursor, never a 500."""
    try:
        yield from query
    except (PynamoDBException, ClientError, ValueError, TypeError) as exc:
        if cursor is None:
            raise
        raise BadCursor("cursor") from exc


def page_query(
    index: GlobalSecondaryIndex[Any],
    hash_key: str,
    *,
    limit: int,
    cursor: str | None,
    position: Callable[[Any], dict[str, Any]],
    keep: Callable[[Any], bool] = lambda _: True,
    hash_key_name: str = "account_id",
) -> Page[Any]:
    """Up to ``limit`` items kept by ``keep``, newest first; the cursor resumes after the last one."""
    # The index's model (pynamodb keeps it as `_model`): its table keys are part of the start key too.
    shape = key_shape(index._get_schema(), index._model._get_schema())
    start = decode_cursor(cursor, hash_key_name, hash_key, shape) if cursor else None
    items: list[Any] = []
    more = False
    query = index.query(hash_key, scan_index_forward=False, last_evaluated_key=start, page_size=limit + 1)
    for item in resumed(query, cursor):
        if not keep(item):
            continue
        if len(items) == limit:
            more = True
            break
        items.append(item)
    return Page(items, encode_cursor(position(items[-1])) if more and items else None)
