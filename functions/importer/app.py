"""The import worker (SQS imports queue) and its dead-letter handler: URL imports through the egress guard.

One message names one import (and the conversion waiting on it, if any); ``filegate.conversions.url_jobs``
does the work. Partial batch failures: a message that crashed is retried and, after the queue's
maxReceiveCount, dead-lettered; the dead-letter handler ends the import failed, never stuck ``importing``.
The message's key opens the sealed request: it is never logged.
"""

from __future__ import annotations

import json
from typing import Any

from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord

from filegate.clock import utcnow
from filegate.conversions import url_jobs
from filegate.db import bind_tables
from filegate.files.import_worker import ImportMessage
from filegate.files.storage import Bucket
from filegate.observability import instrument, logger
from filegate.settings import ImportSettings

settings = ImportSettings.from_env()
bind_tables(settings)
bucket = Bucket(settings.bucket)
processor = BatchProcessor(event_type=EventType.SQS)


def _run(record: SQSRecord) -> None:
    message = ImportMessage.parse(json.loads(record.body))
    source = url_jobs.run_import(message, bucket, settings, utcnow())
    status = source.status if source is not None else None
    logger.info("import processed", extra={"file_id": message.file_id, "status": status})


def _abandon(record: SQSRecord) -> None:
    message = ImportMessage.parse(json.loads(record.body))
    url_jobs.abandon_import(message, settings, utcnow())
    logger.warning("import dead-lettered", extra={"file_id": message.file_id})


def _process(event: dict[str, Any], context: Any) -> Any:
    return process_partial_response(event=event, record_handler=_run, processor=processor, context=context)


def _process_dead_letters(event: dict[str, Any], context: Any) -> Any:
    return process_partial_response(event=event, record_handler=_abandon, processor=processor, context=context)


handler = instrument(_process, correlation_path="Records[0].messageId")
dead_letter_handler = instrument(_process_dead_letters, correlation_path="Records[0].messageId")
