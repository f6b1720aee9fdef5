"""Cursor pagination over a GSI query, newest first, shared by every listing."""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

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


def decode_cursor(cursor: str, hash_key_name: str, hash_key: str) -> dict[str, Any]:
    """A cursor we issued for this same listing, or BadCursor."""
    try:
        value = json.loads(base64.urlsafe_b64decode(cursor.encode()))
    except Exception as exc:
        raise BadCursor("cursor") from exc
    if not isinstance(value, dict) or value.get(hash_key_name, {}).get("S") != hash_key:
        raise BadCursor("cursor")
    return value


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
    for item in index.query(hash_key, scan_index_forward=False, last_evaluated_key=start, page_size=limit + 1):
        if not keep(item):
            continue
        if len(items) == limit:
            more = True
            break
        items.append(item)
    return Page(items, encode_cursor(position(items[-1])) if more and items else None)
