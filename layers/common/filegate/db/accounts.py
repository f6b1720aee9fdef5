"""The accounts table and the emails table that keeps one account per address."""

from __future__ import annotations

from datetime import datetime

from pynamodb.attributes import UnicodeAttribute, UTCDateTimeAttribute
from pynamodb.connection import Connection
from pynamodb.exceptions import DoesNotExist, TransactWriteError
from pynamodb.expressions.update import Action
from pynamodb.models import Model
from pynamodb.transactions import TransactWrite

from filegate.db import cancelled_by_condition
from filegate.db.keys import KeyRecord


class AccountRecord(Model):
    class Meta:
        table_name = "unbound-accounts"

    account_id = UnicodeAttribute(hash_key=True)
    email = UnicodeAttribute()
    tier = UnicodeAttribute(default="free")
    status = UnicodeAttribute(default="active")
    created_at = UTCDateTimeAttribute()
    updated_at = UTCDateTimeAttribute(null=True)


class EmailRecord(Model):
    class Meta:
        table_name = "unbound-emails"

    email = UnicodeAttribute(hash_key=True)  # lower-cased
    account_id = UnicodeAttribute()


class EmailAlreadyUsed(Exception):
    pass


def get(account_id: str) -> AccountRecord | None:
    try:
        return AccountRecord.get(account_id, consistent_read=True)
    except DoesNotExist:
        return None


def create_with_key(account: AccountRecord, key: KeyRecord) -> None:
    """Account, its email claim and its first key, all or nothing."""
    claim = EmailRecord(account.email, account_id=account.account_id)
    connection = Connection(region=getattr(AccountRecord.Meta, "region", None))
    try:
        with TransactWrite(connection=connection) as tx:
            tx.save(claim, condition=EmailRecord.email.does_not_exist())
            tx.save(account, condition=AccountRecord.account_id.does_not_exist())
            tx.save(key, condition=KeyRecord.key_id.does_not_exist())
    except TransactWriteError as exc:
        if cancelled_by_condition(exc):
            raise EmailAlreadyUsed(account.email) from exc
        raise


def update(account_id: str, *, now: datetime, tier: str | None = None, status: str | None = None) -> bool:
    """Change tier and/or status; False when there is no such account."""
    record = get(account_id)
    if record is None:
        return False
    actions: list[Action] = [AccountRecord.updated_at.set(now)]
    if tier is not None:
        actions.append(AccountRecord.tier.set(tier))
    if status is not None:
        actions.append(AccountRecord.status.set(status))
    record.update(actions=actions, condition=AccountRecord.account_id.exists())
    return True
