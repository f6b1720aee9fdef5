"""What every table's writes share: pynamodb's transaction connection, telling a refused condition (the
callers' expected "no") from an outage, and marks that only grow."""

from __future__ import annotations

from pynamodb.attributes import NumberAttribute
from pynamodb.connection import Connection
from pynamodb.exceptions import UpdateError
from pynamodb.models import Model


def transaction_connection(model: type[Model]) -> Connection:
    """The connection transactions on ``model``'s table use: pynamodb's own cached one for that model, so a
    container builds one botocore client (~60-90 ms of CPU) rather than one per transaction, and it is
    rebuilt exactly when pynamodb rebuilds the model's (a new table binding, a test's new stack)."""
    return model._get_connection().connection


def is_condition_failure(exc: Exception) -> bool:
    """A write refused by its condition expression (not an outage): the callers' expected "no"."""
    return getattr(exc, "cause_response_code", None) == "ConditionalCheckFailedException"


def cancelled_by_condition(exc: Exception) -> bool:
    """A transaction cancelled because its first item's condition failed."""
    reasons = getattr(exc, "cancellation_reasons", None) or []
    return bool(reasons) and reasons[0] is not None and reasons[0].code == "ConditionalCheckFailed"


def raise_number(record: Model, attribute: NumberAttribute, value: int) -> None:
    """Set a number attribute of an existing item to ``value`` unless it is already there or higher: a mark
    that only grows (a published change version), written idempotently whatever order the writes land in."""
    exists = type(record)._hash_key_attribute().exists()
    condition = exists & (attribute.does_not_exist() | (attribute < value))
    try:
        record.update(actions=[attribute.set(value)], condition=condition)
    except UpdateError as exc:
        if not is_condition_failure(exc):
            raise
