"""Data access: one module per DynamoDB table, pynamodb models bound to their tables at cold start.

Nothing outside this package talks to DynamoDB. Items past their TTL are treated as absent everywhere,
because DynamoDB deletes them lazily (and moto never does).
"""

from __future__ import annotations

import threading

from pynamodb.connection import Connection
from pynamodb.models import Model

_bound: dict[type[Model], str] = {}
_connections: dict[tuple[str | None, str], Connection] = {}
_connections_lock = threading.Lock()


def transaction_connection(model: type[Model]) -> Connection:
    """The connection transactions on ``model``'s table use: one per region and table binding per container,
    because a new pynamodb Connection builds a new botocore client (~60-90 ms of CPU) on first use. Keyed on
    the table's name too, like pynamodb's own per-model connection: rebinding (a test's new stack, with its own
    endpoint) gets a fresh one."""
    key = (getattr(model.Meta, "region", None), str(model.Meta.table_name))
    with _connections_lock:
        connection = _connections.get(key)
        if connection is None:
            connection = _connections[key] = Connection(region=key[0])
        return connection


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
    _bound[model] = table_name


def is_bound(model: type[Model]) -> bool:
    return model in _bound


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
