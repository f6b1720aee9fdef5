"""What the image worker and the media worker share: one SQS message names one conversion.

Partial batch failures (Powertools' batch processor): a message whose conversion crashed is reported back
and retried; after the queue's maxReceiveCount it reaches the dead-letter queue, whose handler marks the
conversion failed (its units given back) so nothing is ever left in ``processing``. Touches storage through
``jobs`` only.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord

from filegate.clock import utcnow
from filegate.conversions import jobs
from filegate.db import conversions as conversions_table
from filegate.observability import instrument, logger
from filegate.settings import WebhookEmitter

LambdaHandler = Callable[[dict[str, Any], Any], Any]
RunJob = Callable[[str], "conversions_table.ConversionRecord | None"]


@dataclass(frozen=True)
class Handlers:
    handler: LambdaHandler  # the conversions queue
    dead_letter_handler: LambdaHandler  # its dead-letter queue


def _conversion_id(record: SQSRecord) -> str:
    return str(json.loads(record.body)["conversion_id"])


def handlers(run_job: RunJob, webhooks: WebhookEmitter, *, kind: str) -> Handlers:
    """The Lambda handlers of a worker whose `run_job(conversion_id)` does one conversion; `kind` names it
    in the logs ("conversion", "media conversion")."""
    processor = BatchProcessor(event_type=EventType.SQS)

    def run(record: SQSRecord) -> None:
        conversion_id = _conversion_id(record)
        result = run_job(conversion_id)
        status = result.status if result is not None else None
        logger.info(f"{kind} processed", extra={"conversion_id": conversion_id, "status": status})

    def abandon(record: SQSRecord) -> None:
        conversion_id = _conversion_id(record)
        jobs.abandon_job(conversion_id, webhooks, utcnow())
        logger.warning(f"{kind} dead-lettered", extra={"conversion_id": conversion_id})

    def process(event: dict[str, Any], context: Any) -> Any:  # {"batchItemFailures": [...]}
        return process_partial_response(event=event, record_handler=run, processor=processor, context=context)

    def process_dead_letters(event: dict[str, Any], context: Any) -> Any:
        return process_partial_response(event=event, record_handler=abandon, processor=processor, context=context)

    return Handlers(
        handler=instrument(process, correlation_path="Records[0].messageId"),
        dead_letter_handler=instrument(process_dead_letters, correlation_path="Records[0].messageId"),
    )
