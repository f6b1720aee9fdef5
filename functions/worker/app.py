"""The conversion worker (SQS conversions queue) and its dead-letter handler (the DLQ).

Each message names one conversion. Partial batch failures: a message whose conversion crashed is
reported back and retried; after the queue's maxReceiveCount it reaches the DLQ, whose handler marks
the conversion failed so nothing is ever left in ``processing``.
"""

from __future__ import annotations

import json
from typing import Any

from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord

from filegate.clock import utcnow
from filegate.conversion import jobs
from filegate.db import bind_tables
from filegate.files.storage import Bucket
from filegate.observability import instrument, logger
from filegate.settings import WorkerSettings

settings = WorkerSettings.from_env()
bind_tables(settings)
bucket = Bucket(settings.bucket)
processor = BatchProcessor(event_type=EventType.SQS)


def _conversion_id(record: SQSRecord) -> str:
    message = json.loads(record.body)
    return str(message["conversion_id"])


def _run(record: SQSRecord) -> None:
    conversion_id = _conversion_id(record)
    result = jobs.run_job(conversion_id, bucket, settings, utcnow())
    logger.info(
        "conversion processed", extra={"conversion_id": conversion_id, "status": getattr(result, "status", None)}
    )


def _abandon(record: SQSRecord) -> None:
    conversion_id = _conversion_id(record)
    jobs.abandon_job(conversion_id, settings, utcnow())
    logger.warning("conversion dead-lettered", extra={"conversion_id": conversion_id})


def process(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return process_partial_response(event=event, record_handler=_run, processor=processor, context=context)


def process_dead_letters(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return process_partial_response(event=event, record_handler=_abandon, processor=processor, context=context)


handler = instrument(process, correlation_path="Records[0].messageId")
dead_letter_handler = instrument(process_dead_letters, correlation_path="Records[0].messageId")
