"""The conversion worker (SQS conversions queue) and its dead-letter handler (the DLQ): images and PDFs.

One message names one conversion; its life, the SQS plumbing, retries and dead-lettering are
``filegate.conversions.worker``'s.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

from filegate.conversions import worker
from filegate.db import bind_tables
from filegate.engines import Workspace
from filegate.files.storage import Bucket
from filegate.settings import WorkerSettings

settings = WorkerSettings.from_env()
bind_tables(settings)

_handlers = worker.handlers(
    Bucket(settings.bucket), Workspace(Path(tempfile.gettempdir())), settings, label="conversion"
)
handler = _handlers.handler
dead_letter_handler = _handlers.dead_letter_handler
