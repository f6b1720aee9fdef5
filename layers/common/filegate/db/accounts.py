"""The accounts table and the emails table that keeps one account per address."""

from __future__ import annotations

from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any

from pynamodb.attributes import NumberAttribute, UnicodeAttribute, UTCDateTimeAttribute
from pynamodb.exceptions import DoesNotExist, TransactWriteError, UpdateError
from pynamodb.expressions.update import Action
from pynamodb.models import Model
from pynamodb.transactions import TransactWrite

from filegate.db.keys import KeyRecord
from filegate.db.writes import cancelled_by_condition, is_condition_failure, raise_number, transaction_connection


class AccountRecord(Model):
    class Meta:
        table_name = "unbound-accounts"

    account_id = UnicodeAttribute(hash_key=True)
    email = UnicodeAttribute()
    tier = UnicodeAttribute(default="free")
    status = UnicodeAttribute(default="active")
    created_at = UTCDateTimeAttribute()
    updated_at = UTCDateTimeAttribute(null=True)
    # Change versions (filegate.keys.stamps): change_seq counts every change of the account or one of its
    # keys; version is the change_seq of the account's last tier/status change. Absent on old rows: 0.
    change_seq = NumberAttribute(null=True)
    version = NumberAttribute(null=True)
    # After a move to a tier with fewer counter shards, cached policies may still carry the old tier (and
    # write its shards) until this moment: changes stamp that many shards until then.
    stamp_shards = NumberAttribute(null=True)
    stamp_shards_until = UTCDateTimeAttribute(null=True)
    # The newest account version whose stamps are all written; the stream's stamper skips those.
    published_version = NumberAttribute(null=True)


class EmailRecord(Model):
    class Meta:
        table_name = "unbound-emails"

    email = UnicodeAttribute(hash_key=True)  # lower-cased
    account_id = UnicodeAttribute()


class EmailAlreadyUsed(Exception):
    pass


def service_time() -> datetime:
    """What time DynamoDB said it was when it answered (its response's Date header, truncated to the second:
    never ahead of the service's clock). Operators' tools change keys and stamp windows by it, never by a
    workstation's clock that may be minutes off."""
    client: Any = AccountRecord._get_connection().connection.client
    response = client.get_item(TableName=AccountRecord.Meta.table_name, Key={"account_id": {"S": "clock-probe"}})
    date = response["ResponseMetadata"]["HTTPHeaders"]["date"]
    return parsedate_to_datetime(date).astimezone(UTC)


def get(account_id: str) -> AccountRecord | None:
    try:
        return AccountRecord.get(account_id, consistent_read=True)
    except DoesNotExist:
        return None


def create_with_key(account: AccountRecord, key: KeyRecord) -> None:
    """Account, its email claim and its first key, all or nothing."""
    claim = EmailRecord(account.email, account_id=account.account_id)
    connection = transaction_connection(AccountRecord)
    try:
        with TransactWrite(connection=connection) as tx:
            tx.save(claim, condition=EmailRecord.email.does_not_exist())
            tx.save(account, condition=AccountRecord.account_id.does_not_exist())
            tx.save(key, condition=KeyRecord.key_id.does_not_exist())
    except TransactWriteError as exc:
        if cancelled_by_condition(exc):
            raise EmailAlreadyUsed(account.email) from exc
        raise


def next_change(account_id: str) -> AccountRecord | None:
    """Allocate the account's next change version (one atomic ADD); the record as it is now, or None."""
    record = AccountRecord(account_id)
    try:
        record.update(actions=[AccountRecord.change_seq.add(1)], condition=AccountRecord.account_id.exists())
    except UpdateError as exc:
        if is_condition_failure(exc):
            return None
        raise
    return record


class StaleVersion(Exception):
    """A newer change of the account was written first: this one's version would take it backwards."""


def update(
    record: AccountRecord,
    *,
    now: datetime,
    version: int,
    tier: str | None = None,
    status: str | None = None,
    stamp_shards: tuple[int, datetime] | None = None,
) -> None:
    """Change tier and/or status (or only the version: every key changed at once), recording the change's
    version (from :func:`next_change`) only over an older one; StaleVersion when a newer change landed first."""
    actions: list[Action] = [AccountRecord.updated_at.set(now), AccountRecord.version.set(version)]
    if tier is not None:
        actions.append(AccountRecord.tier.set(tier))
    if status is not None:
        actions.append(AccountRecord.status.set(status))
    if stamp_shards is not None:
        actions.append(AccountRecord.stamp_shards.set(stamp_shards[0]))
        actions.append(AccountRecord.stamp_shards_until.set(stamp_shards[1]))
    newer = AccountRecord.version.does_not_exist() | (AccountRecord.version < version)
    try:
        record.update(actions=actions, condition=AccountRecord.account_id.exists() & newer)
    except UpdateError as exc:
        if is_condition_failure(exc) and get(record.account_id) is not None:
            raise StaleVersion(record.account_id) from exc
        raise


def mark_published(account_id: str, version: int) -> None:
    """Record that ``version``'s stamps are all written, so the stream's stamper skips it."""
    raise_number(AccountRecord(account_id), AccountRecord.published_version, version)


def find_by_email(email: str) -> AccountRecord | None:
    """The account of a (lower-cased) address, or None."""
    try:
        claim = EmailRecord.get(email, consistent_read=True)
    except DoesNotExist:
        return None
    return get(claim.account_id)


def create(account: AccountRecord) -> None:
    """An account and its email claim without a key (the dashboard's first sign-in), all or nothing."""
    claim = EmailRecord(account.email, account_id=account.account_id)
    connection = transaction_connection(AccountRecord)
    try:
        with TransactWrite(connection=connection) as tx:
            tx.save(claim, condition=EmailRecord.email.does_not_exist())
            tx.save(account, condition=AccountRecord.account_id.does_not_exist())
    except TransactWriteError as exc:
        if cancelled_by_condition(exc):
            raise EmailAlreadyUsed(account.email) from exc
        raise
