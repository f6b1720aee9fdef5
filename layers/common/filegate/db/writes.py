"""What every table's writes share: pynamodb's transaction connection, and telling a refused condition
(the callers' expected "no") from an outage."""

from __future__ import annotations

from pynamodb.connection import Connection
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
