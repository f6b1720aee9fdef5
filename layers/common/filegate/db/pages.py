"""Cursor pagination over a GSI query, newest first, shared by every listing."""

from __future__ import annotations

import base64
import json
from collections.abc import Callable, Iterable, Iterator
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


# A position is a table's and an index's key attributes: never more than four.
MAX_CURSOR_ATTRIBUTES = 4


def _is_key_value(value: object) -> bool:
    """One DynamoDB key value as we encode it: ``{"S": "..."}`` or ``{"N": "123"}``, nothing else."""
    if not isinstance(value, dict) or len(value) != 1:
        return False
    ((kind, text),) = value.items()
    return kind in ("S", "N") and isinstance(text, str) and 0 < len(text) <= 1024


def decode_cursor(cursor: str, hash_key_name: str, hash_key: str) -> dict[str, Any]:
    """A cursor we issued for this same listing, or BadCursor: its shape is checked whole here, so that a
    forged one that still names the caller's account never reaches DynamoDB as a malformed start key."""
    try:
        value = json.loads(base64.urlsafe_b64decode(cursor.encode()))
    except Exception as exc:
        raise BadCursor("cursor") from exc
    if (
        not isinstance(value, dict)
        or not 1 <= len(value) <= MAX_CURSOR_ATTRIBUTES
        or not all(isinstance(name, str) and _is_key_value(v) for name, v in value.items())
        or value.get(hash_key_name) != {"S": hash_key}
    ):
        raise BadCursor("cursor")
    return value


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
    start = decode_cursor(cursor, hash_key_name, hash_key) if cursor else None
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
