"""The webhooks tables: endpoints, signing secrets and the delivery log.

- endpoints: keyed (account_id, webhook_id), so an account's endpoints are one consistent Query.
- secrets: one item per account, the current secret and, for 24 h after a rotation, the previous one.
- deliveries: one item per (event, destination); every attempt is appended to it. A GSI lists an
  endpoint's deliveries newest first. Attempts are recorded with a condition on the attempt count, so a
  duplicate SQS message can never record the same attempt twice.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pynamodb.attributes import (
    BinaryAttribute,
    JSONAttribute,
    ListAttribute,
    NumberAttribute,
    TTLAttribute,
    UnicodeAttribute,
    UTCDateTimeAttribute,
)
from pynamodb.exceptions import DeleteError, DoesNotExist, PutError, UpdateError
from pynamodb.expressions.update import Action
from pynamodb.indexes import AllProjection, GlobalSecondaryIndex
from pynamodb.models import Model

from filegate.db.pages import Page, page_query
from filegate.db.writes import is_condition_failure

PENDING = "pending"
SUCCEEDED = "succeeded"
FAILED = "failed"
TERMINAL = (SUCCEEDED, FAILED)


class WebhookRecord(Model):
    class Meta:
        table_name = "unbound-webhooks"

    account_id = UnicodeAttribute(hash_key=True)
    webhook_id = UnicodeAttribute(range_key=True)
    url = UnicodeAttribute()
    events: ListAttribute[str] = ListAttribute(of=UnicodeAttribute, default=list)  # type: ignore[arg-type]
    created_at = UTCDateTimeAttribute()


class WebhookSecretRecord(Model):
    class Meta:
        table_name = "unbound-webhook-secrets"

    account_id = UnicodeAttribute(hash_key=True)
    current = UnicodeAttribute()  # never logged, never returned after creation
    previous = UnicodeAttribute(null=True)
    previous_expires_at = UTCDateTimeAttribute(null=True)
    created_at = UTCDateTimeAttribute()  # when ``current`` was created
    first_created_at = UTCDateTimeAttribute()

    def signing_secrets(self, now: datetime) -> list[str]:
        """What signs a delivery now: the current secret, and the previous one during its grace period."""
        secrets = [self.current]
        if self.previous and self.previous_expires_at is not None and self.previous_expires_at > now:
            secrets.append(self.previous)
        return secrets


class DeliveriesByWebhook(GlobalSecondaryIndex["DeliveryRecord"]):
    class Meta:
        index_name = "by_webhook"
        projection = AllProjection()

    webhook_id = UnicodeAttribute(hash_key=True)
    created_at = UTCDateTimeAttribute(range_key=True)


class DeliveryRecord(Model):
    class Meta:
        table_name = "unbound-webhook-deliveries"

    delivery_id = UnicodeAttribute(hash_key=True)
    account_id = UnicodeAttribute()
    # The registered endpoint; None for a conversion's own webhook_url (not in the index).
    webhook_id = UnicodeAttribute(null=True)
    url = UnicodeAttribute()
    event_type = UnicodeAttribute()
    message_id = UnicodeAttribute()  # the webhook-id header: the same on every attempt
    body = BinaryAttribute(legacy_encoding=False)  # the exact bytes every attempt signs and sends
    conversion_id = UnicodeAttribute(null=True)
    status = UnicodeAttribute(default=PENDING)
    attempt_count = NumberAttribute(default=0)
    attempts = JSONAttribute(default=list)  # [{attempt, at, status_code, latency_ms, error}]
    next_attempt_at = UTCDateTimeAttribute(null=True)
    created_at = UTCDateTimeAttribute()
    completed_at = UTCDateTimeAttribute(null=True)
    expires_at = TTLAttribute()

    by_webhook = DeliveriesByWebhook()


# ------------------------------------------------------------------ endpoints


def list_webhooks(account_id: str) -> list[WebhookRecord]:
    """Every endpoint of the account, oldest first (an account has a handful at most)."""
    return list(WebhookRecord.query(account_id, consistent_read=True))


def get_webhook(account_id: str, webhook_id: str) -> WebhookRecord | None:
    try:
        return WebhookRecord.get(account_id, webhook_id, consistent_read=True)
    except DoesNotExist:
        return None


def create_webhook(record: WebhookRecord) -> None:
    record.save(condition=WebhookRecord.webhook_id.does_not_exist())


def delete_webhook(account_id: str, webhook_id: str) -> bool:
    """True if it existed (and is gone now)."""
    try:
        WebhookRecord(account_id, webhook_id).delete(condition=WebhookRecord.webhook_id.exists())
    except DeleteError as exc:
        if is_condition_failure(exc):
            return False
        raise
    return True


# ------------------------------------------------------------------ secrets


def get_secret(account_id: str) -> WebhookSecretRecord | None:
    try:
        return WebhookSecretRecord.get(account_id, consistent_read=True)
    except DoesNotExist:
        return None


def put_secret(record: WebhookSecretRecord, *, expected_current: str | None) -> bool:
    """Write a new secret state only if the current secret is still ``expected_current`` (None: no secret
    yet), so two concurrent rotations cannot both believe they demoted the same secret."""
    condition = (
        WebhookSecretRecord.account_id.does_not_exist()
        if expected_current is None
        else WebhookSecretRecord.current == expected_current
    )
    try:
        record.save(condition=condition)
    except PutError as exc:
        if is_condition_failure(exc):
            return False
        raise
    return True


# ------------------------------------------------------------------ deliveries


def get_delivery(delivery_id: str) -> DeliveryRecord | None:
    try:
        return DeliveryRecord.get(delivery_id, consistent_read=True)
    except DoesNotExist:
        return None


def create_delivery(record: DeliveryRecord) -> bool:
    """False when that delivery already exists (the event was emitted before: ids are deterministic)."""
    try:
        record.save(condition=DeliveryRecord.delivery_id.does_not_exist())
    except PutError as exc:
        if is_condition_failure(exc):
            return False
        raise
    return True


def record_attempt(
    record: DeliveryRecord,
    attempt: dict[str, Any],
    *,
    status: str,
    next_attempt_at: datetime | None,
    now: datetime,
) -> bool:
    """Append attempt number ``attempt["attempt"]``; False if that attempt was already recorded."""
    number = int(attempt["attempt"])
    actions: list[Action] = [
        DeliveryRecord.attempts.set([*(record.attempts or []), attempt]),
        DeliveryRecord.attempt_count.set(number),
        DeliveryRecord.status.set(status),
    ]
    if next_attempt_at is None:
        actions.append(DeliveryRecord.next_attempt_at.remove())
    else:
        actions.append(DeliveryRecord.next_attempt_at.set(next_attempt_at))
    if status in TERMINAL:
        actions.append(DeliveryRecord.completed_at.set(now))
    try:
        record.update(
            actions=actions,
            condition=(DeliveryRecord.attempt_count == number - 1) & (DeliveryRecord.status == PENDING),
        )
    except UpdateError as exc:
        if is_condition_failure(exc):
            return False
        raise
    return True


def give_up(record: DeliveryRecord, reason: str, now: datetime) -> bool:
    """pending → failed without another attempt (endpoint deleted, no secret, repeated crashes)."""
    try:
        record.update(
            actions=[
                DeliveryRecord.status.set(FAILED),
                DeliveryRecord.next_attempt_at.remove(),
                DeliveryRecord.completed_at.set(now),
                DeliveryRecord.attempts.set([*(record.attempts or []), {"attempt": None, "at": None, "error": reason}]),
            ],
            condition=DeliveryRecord.status == PENDING,
        )
    except UpdateError as exc:
        if is_condition_failure(exc):
            return False
        raise
    return True


def list_deliveries(webhook_id: str, *, limit: int, cursor: str | None) -> Page[DeliveryRecord]:
    return page_query(
        DeliveryRecord.by_webhook,
        webhook_id,
        limit=limit,
        cursor=cursor,
        hash_key_name="webhook_id",
        position=lambda r: {
            "delivery_id": {"S": r.delivery_id},
            "webhook_id": {"S": r.webhook_id},
            "created_at": {"S": DeliveryRecord.created_at.serialize(r.created_at)},
        },
    )
