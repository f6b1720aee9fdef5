"""The dispatcher's side of webhooks: one SQS message is one due (or not yet due) delivery attempt.

For each message: drop it if that attempt is already recorded (SQS delivers at least once); if it is not
due yet, send it on with the next hop's delay (a wait is never a sleep in Lambda); otherwise sign it with the
account's current secrets (fresh timestamp, same webhook-id), re-vet the URL and deliver to the checked
address (``vet_and_deliver``), then record the attempt and queue the next one or dead-letter the delivery.

The next attempt is queued before the attempt is recorded: a crash in between makes SQS redeliver this
message, which repeats the attempt (same webhook-id, so receivers deduplicate) rather than losing the
delivery; the duplicate next-attempt message is then dropped by the attempt-count check.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import threading
import time
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from typing import Any, Final

from aws_lambda_powertools.utilities.batch import (
    AsyncBatchProcessor,
    EventType,
    async_process_partial_response,
)
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord

from filegate import queues
from filegate.clock import iso, utcnow
from filegate.db import webhooks as store
from filegate.egress.policy import resolver_for
from filegate.observability import WEBHOOK_ATTEMPTS_FAILED, WEBHOOKS_DELIVERED, WEBHOOKS_FAILED, count, logger
from filegate.settings import DispatcherSettings
from filegate.webhooks.delivery import DeliveryResult, vet_and_deliver
from filegate.webhooks.emitting import queue_attempt
from filegate.webhooks.schedule import is_due, next_hop_delay, plan_retry
from filegate.webhooks.signing import WebhookMessage, sign_headers

MAX_PARALLEL_DELIVERIES: Final = 10  # the event source's batch size: a whole batch in one wave

# Outcomes, for logs and tests.
MISSING: Final = "missing"
DUPLICATE: Final = "duplicate"
DEFERRED: Final = "deferred"
CANCELLED: Final = "cancelled"
SUCCEEDED: Final = "succeeded"
RETRY_SCHEDULED: Final = "retry_scheduled"
DEAD_LETTERED: Final = "dead_lettered"


@dataclasses.dataclass(frozen=True)
class QueuedAttempt:
    delivery_id: str
    attempt: int
    not_before: float  # unix seconds

    @classmethod
    def parse(cls, body: str) -> QueuedAttempt:
        value = json.loads(body)
        return cls(str(value["delivery_id"]), int(value["attempt"]), float(value.get("not_before", 0)))


def _attempt_entry(number: int, started: datetime, result: DeliveryResult) -> dict[str, Any]:
    return {
        "attempt": number,
        "at": iso(started),
        "status_code": result.status_code,
        "latency_ms": round(result.latency_ms, 1),
        "error": result.error,
        "response_excerpt": result.response_excerpt[:200] or None,
    }


def dispatch(message: QueuedAttempt, settings: DispatcherSettings) -> str:
    """Handle one queued attempt; returns the outcome. Raises only for infrastructure errors (retried)."""
    record = store.get_delivery(message.delivery_id)
    if record is None:
        return MISSING  # expired from the log
    if record.status != store.PENDING or message.attempt != int(record.attempt_count) + 1:
        return DUPLICATE
    if not is_due(message.not_before, time.time()):
        delay = next_hop_delay(message.not_before, time.time())
        queue_attempt(settings.webhooks_queue_url, record.delivery_id, message.attempt, message.not_before, delay)
        return DEFERRED
    started = utcnow()
    if record.webhook_id is not None and store.get_webhook(record.account_id, record.webhook_id) is None:
        store.give_up(record, "The webhook was deleted.", started)
        return CANCELLED
    secret = store.get_secret(record.account_id)
    if secret is None:  # cannot happen through the API (registration requires one); never send unsigned
        store.give_up(record, "The account has no signing secret.", started)
        return CANCELLED

    signed = WebhookMessage(id=record.message_id, event_type=record.event_type, body=record.body)
    headers = sign_headers(signed, secret.signing_secrets(started))
    result = vet_and_deliver(
        record.url,
        record.body,
        headers,
        allow_insecure_loopback=settings.egress_allow_insecure_loopback,
        resolver=resolver_for(settings),
        timeout=settings.webhook_timeout_seconds,
    )
    entry = _attempt_entry(message.attempt, started, result)
    now = utcnow()
    log = {"delivery_id": record.delivery_id, "attempt": message.attempt, "status_code": result.status_code}
    if result.ok:
        store.record_attempt(record, entry, status=store.SUCCEEDED, next_attempt_at=None, now=now)
        logger.info("webhook delivered", extra=log)
        count(WEBHOOKS_DELIVERED)
        return SUCCEEDED

    plan = plan_retry(message.attempt, time.time(), settings.webhook_retry_scale)
    if plan is None:
        if store.record_attempt(record, entry, status=store.FAILED, next_attempt_at=None, now=now):
            queues.send(
                settings.webhook_dead_letter_queue_url,
                {
                    "delivery_id": record.delivery_id,
                    "message_id": record.message_id,
                    "account_id": record.account_id,
                    "webhook_id": record.webhook_id,
                    "event": record.event_type,
                    "attempts": message.attempt,
                    "last_error": result.error,
                },
            )
            count(WEBHOOKS_FAILED)
        logger.warning("webhook dead-lettered", extra={**log, "error": result.error})
        return DEAD_LETTERED
    queue_attempt(settings.webhooks_queue_url, record.delivery_id, plan.attempt, plan.not_before, plan.delay_seconds)
    next_at = datetime.fromtimestamp(plan.not_before, UTC)
    store.record_attempt(record, entry, status=store.PENDING, next_attempt_at=next_at, now=now)
    count(WEBHOOK_ATTEMPTS_FAILED)
    logger.info("webhook attempt failed; retry scheduled", extra={**log, "error": result.error})
    return RETRY_SCHEDULED


def _receive_count(record: Mapping[str, Any]) -> int:
    try:
        return int((record.get("attributes") or {}).get("ApproximateReceiveCount", "1"))
    except ValueError:
        return 1


def _process_record(record: Mapping[str, Any], settings: DispatcherSettings) -> str:
    message = QueuedAttempt.parse(str(record["body"]))
    try:
        return dispatch(message, settings)
    except Exception:
        if _receive_count(record) >= settings.webhook_max_receives:
            # SQS moves it to the DLQ after this; the log must not show it pending forever.
            delivery = store.get_delivery(message.delivery_id)
            if delivery is not None:
                store.give_up(delivery, "Delivery failed repeatedly with an internal error.", utcnow())
                count(WEBHOOKS_FAILED)
        raise


_pool_lock = threading.Lock()
_pool: ThreadPoolExecutor | None = None


def _executor() -> ThreadPoolExecutor:
    global _pool
    with _pool_lock:
        if _pool is None:  # one pool per container; threads outlive invocations like any warm state
            _pool = ThreadPoolExecutor(max_workers=MAX_PARALLEL_DELIVERIES, thread_name_prefix="webhook")
        return _pool


_processor = AsyncBatchProcessor(event_type=EventType.SQS)


def process_batch(event: dict[str, Any], settings: DispatcherSettings, context: Any = None) -> dict[str, Any]:
    """Deliver an SQS batch in parallel through Powertools' batch processor: the partial batch response
    names the messages that failed, and SQS retries only those (all failed: the invocation fails)."""

    async def dispatch_record(record: SQSRecord) -> str:
        # On the delivery pool, so a batch's deliveries wait on their receivers together.
        loop = asyncio.get_running_loop()
        try:
            return await loop.run_in_executor(_executor(), _process_record, record.raw_event, settings)
        except Exception:
            logger.exception("webhook message failed; it will be retried", extra={"message_id": record.message_id})
            raise

    response = async_process_partial_response(
        event=event, record_handler=dispatch_record, processor=_processor, context=context
    )
    return dict(response)
