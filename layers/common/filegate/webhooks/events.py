"""Webhook event types (docs/api.md §5)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Final

from filegate.errors import InvalidParameter
from filegate.suggest import did_you_mean

CONVERSION_SUCCEEDED: Final = "conversion.succeeded"
CONVERSION_FAILED: Final = "conversion.failed"
FILE_IMPORTED: Final = "file.imported"
FILE_IMPORT_FAILED: Final = "file.import_failed"
KEY_LEAKED: Final = "key.leaked"  # a key of the account was found in public and revoked (docs/api.md §9)
WEBHOOK_TEST: Final = "webhook.test"

# What an endpoint may subscribe to. ``webhook.test`` is sent on demand to one endpoint, never subscribed.
SUBSCRIBABLE_EVENTS: Final[tuple[str, ...]] = (
    CONVERSION_SUCCEEDED,
    CONVERSION_FAILED,
    FILE_IMPORTED,
    FILE_IMPORT_FAILED,
    KEY_LEAKED,
)


def parse_event_types(values: Iterable[object]) -> tuple[str, ...]:
    """The subscribable events of a registration request, deduplicated in order; unknown ones are 422."""
    seen: list[str] = []
    for value in values:
        if not isinstance(value, str) or value not in SUBSCRIBABLE_EVENTS:
            hint = did_you_mean(value, SUBSCRIBABLE_EVENTS) if isinstance(value, str) else ""
            raise InvalidParameter(
                f"events: unknown webhook event {value!r}{hint}; expected one of {', '.join(SUBSCRIBABLE_EVENTS)}."
            )
        if value not in seen:
            seen.append(value)
    if not seen:
        raise InvalidParameter("At least one webhook event is required.")
    return tuple(seen)
