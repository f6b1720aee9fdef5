"""Data access: one module per DynamoDB table, pynamodb models bound to their tables at cold start.

Nothing outside this package talks to DynamoDB. Items past their TTL are treated as absent everywhere,
because DynamoDB deletes them lazily (and moto never does).
"""

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


def bind(model: type[Model], table_name: str, region: str) -> None:
    """Point a model at its physical table (names come from the function's settings)."""
    model.Meta.table_name = table_name
    model.Meta.region = region
    # pynamodb keeps a model's connection while its table name stays the same, and its botocore client keeps
    # the endpoint it was made for: a new binding (an operator tool, or a test pointed at another stack with
    # the same table names) starts afresh. In Lambda this runs once, at cold start.
    model._connection = None


def bind_tables(settings: object) -> None:
    """Bind every model whose table the function's settings name (``<table>_table`` fields)."""
    from filegate.db.accounts import AccountRecord, EmailRecord
    from filegate.db.conversions import ConversionRecord
    from filegate.db.counters import CounterRecord
    from filegate.db.files import FileRecord
    from filegate.db.keys import KeyRecord
    from filegate.db.webhooks import DeliveryRecord, WebhookRecord, WebhookSecretRecord

    models: dict[str, type[Model]] = {
        "accounts_table": AccountRecord,
        "emails_table": EmailRecord,
        "keys_table": KeyRecord,
        "counters_table": CounterRecord,
        "files_table": FileRecord,
        "conversions_table": ConversionRecord,
        "webhooks_table": WebhookRecord,
        "webhook_secrets_table": WebhookSecretRecord,
        "webhook_deliveries_table": DeliveryRecord,
    }
    region = str(getattr(settings, "aws_region", "us-east-1"))
    for field, model in models.items():
        name = getattr(settings, field, None)
        if name:
            bind(model, str(name), region)
