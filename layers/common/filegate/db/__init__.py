"""Data access: one module per DynamoDB table, pynamodb models bound to their tables at cold start.

Nothing outside this package talks to DynamoDB. Items past their TTL are treated as absent everywhere,
because DynamoDB deletes them lazily (and moto never does).
"""

from __future__ import annotations

from pynamodb.models import Model

_bound: dict[type[Model], str] = {}


def bind(model: type[Model], table_name: str, region: str) -> None:
    """Point a model at its physical table (names come from the function's settings)."""
    model.Meta.table_name = table_name
    model.Meta.region = region
    _bound[model] = table_name


def is_bound(model: type[Model]) -> bool:
    return model in _bound


def bind_core_tables(accounts: str, keys: str, counters: str, region: str, emails: str | None = None) -> None:
    """Bind the tables every authenticated function reads: accounts, keys, counters (and emails)."""
    from filegate.db.accounts import AccountRecord, EmailRecord
    from filegate.db.counters import CounterRecord
    from filegate.db.keys import KeyRecord

    bind(AccountRecord, accounts, region)
    bind(KeyRecord, keys, region)
    bind(CounterRecord, counters, region)
    if emails is not None:
        bind(EmailRecord, emails, region)
