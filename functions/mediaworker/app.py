"""The media worker (SQS media queue) and its dead-letter handler: audio and video conversions with FFmpeg.

Each message names one conversion. Partial batch failures, as in the image worker: a message whose
conversion crashed is retried and, after the queue's maxReceiveCount, dead-lettered; the dead-letter
handler marks it failed (its units given back), so nothing is ever left in ``processing``.
"""

from __future__ import annotations

import json
from typing import Any

from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord

from filegate.clock import utcnow
from filegate.conversion import ffmpeg, jobs, media_jobs
from filegate.db import bind_tables
from filegate.files.storage import Bucket
from filegate.observability import instrument, logger
from filegate.settings import MediaWorkerSettings

MB = 1024 * 1024

settings = MediaWorkerSettings.from_env()
bind_tables(settings)
bucket = Bucket(settings.bucket)
processor = BatchProcessor(event_type=EventType.SQS)
config = media_jobs.WorkerConfig(
    sandbox=ffmpeg.Sandbox(
        wall_seconds=settings.media_wall_seconds,
        cpu_seconds=settings.media_cpu_seconds,
        memory_bytes=settings.media_memory_mb * MB,
        max_output_bytes=settings.media_max_output_mb * MB,
    ),
    workdir=settings.media_workdir,
    ffmpeg_path=settings.ffmpeg_path,
)


def _conversion_id(record: SQSRecord) -> str:
    return str(json.loads(record.body)["conversion_id"])


def _run(record: SQSRecord) -> None:
    conversion_id = _conversion_id(record)
    result = media_jobs.run_media_job(conversion_id, bucket, config, settings, utcnow())
    logger.info(
        "media conversion processed",
        extra={"conversion_id": conversion_id, "status": getattr(result, "status", None)},
    )


def _abandon(record: SQSRecord) -> None:
    conversion_id = _conversion_id(record)
    jobs.abandon_job(conversion_id, settings, utcnow())
    logger.warning("media conversion dead-lettered", extra={"conversion_id": conversion_id})


def process(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return process_partial_response(event=event, record_handler=_run, processor=processor, context=context)


def process_dead_letters(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return process_partial_response(event=event, record_handler=_abandon, processor=processor, context=context)


handler = instrument(process, correlation_path="Records[0].messageId")
dead_letter_handler = instrument(process_dead_letters, correlation_path="Records[0].messageId")
