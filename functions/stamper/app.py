"""The stamper (DynamoDB streams of the keys and accounts tables): finishes stamping changes whose calling
function failed or died before it did, after giving it time to (filegate.keys.backstop). A failed record is
reported alone and retried by the stream until done."""

from __future__ import annotations

import time
from datetime import timedelta
from typing import Any

from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.data_classes.dynamo_db_stream_event import DynamoDBRecord

from filegate.clock import utcnow
from filegate.db import bind_tables
from filegate.keys import backstop
from filegate.observability import instrument
from filegate.settings import StamperSettings

settings = StamperSettings.from_env()
bind_tables(settings)
HORIZON = timedelta(seconds=settings.authorizer_cache_ttl_seconds)
processor = BatchProcessor(event_type=EventType.DynamoDBStreams)
# How the backstop tells time and waits for a change's caller (module attributes: a test drives them).
clock = utcnow
wait = time.sleep


def _one(record: DynamoDBRecord) -> None:
    backstop.finish(record.raw_event, clock=clock, horizon=HORIZON, wait=wait)


def process(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return process_partial_response(event=event, record_handler=_one, processor=processor, context=context)


handler = instrument(process, correlation_path="Records[0].eventID")
