"""The conversion worker (SQS conversions queue) and its dead-letter handler (the DLQ): images and PDFs.

One message names one conversion; the SQS plumbing, retries and dead-lettering are
``filegate.conversions.queue_worker``'s.
"""

from __future__ import annotations

from filegate.clock import utcnow
from filegate.conversions import jobs, queue_worker
from filegate.db import bind_tables
from filegate.files.storage import Bucket
from filegate.settings import WorkerSettings

settings = WorkerSettings.from_env()
bind_tables(settings)
bucket = Bucket(settings.bucket)

_handlers = queue_worker.handlers(
    lambda conversion_id: jobs.run_job(conversion_id, bucket, settings, utcnow()), settings, kind="conversion"
)
handler = _handlers.handler
dead_letter_handler = _handlers.dead_letter_handler
