"""Data access: one module per DynamoDB table, pynamodb models bound to their tables at cold start.

Nothing outside this package talks to DynamoDB. Items past their TTL are treated as absent everywhere,
because DynamoDB deletes them lazily (and moto never does).
"""

from __future__ import annotations

from pynamodb.models import Model


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
    from filegate.db.audit import AuditRecord
    from filegate.db.conversions import ConversionRecord
    from filegate.db.counters import CounterRecord
    from filegate.db.files import FileRecord
    from filegate.db.keys import KeyRecord
    from filegate.db.logins import LoginRecord
    from filegate.db.secret_scanning import ScanningRecord
    from filegate.db.sessions import SessionRecord
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
        "audit_table": AuditRecord,
        "dashboard_sessions_table": SessionRecord,
        "dashboard_logins_table": LoginRecord,
        "secret_scanning_table": ScanningRecord,
    }
    region = str(getattr(settings, "aws_region", "us-east-1"))
    for field, model in models.items():
        name = getattr(settings, field, None)
        if name:
            bind(model, str(name), region)
