"""List responses: ``{"data": [...], "next_cursor"}`` from one page, the same for every listing."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from filegate import errors
from filegate.db.pages import BadCursor, Page

T = TypeVar("T")


def fetch_page(fetch: Callable[[], Page[T]]) -> Page[T]:
    """Fetch one page; a cursor that is not one of ours is 400 invalid_request."""
    try:
        return fetch()
    except BadCursor as exc:
        raise errors.InvalidRequest("cursor: not a valid cursor.") from exc


def page_json(fetch: Callable[[], Page[T]], render: Callable[[T], dict[str, Any]]) -> dict[str, Any]:
    """Fetch one page (``fetch_page``) and render it."""
    page = fetch_page(fetch)
    return {"data": [render(item) for item in page.items], "next_cursor": page.next_cursor}
