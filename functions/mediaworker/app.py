"""The media worker (SQS media queue) and its dead-letter handler: audio and video conversions with FFmpeg.

Each message names one conversion. Partial batch failures, as in the image worker: a message whose
conversion crashed is retried and, after the queue's maxReceiveCount, dead-lettered; the dead-letter
handler marks it failed (its units given back), so nothing is ever left in ``processing``.
"""

from __future__ import annotations

from filegate.clock import utcnow
from filegate.conversions import media_jobs, queue_worker
from filegate.db import bind_tables
from filegate.engines.av import ffmpeg
from filegate.files.storage import Bucket
from filegate.settings import MediaWorkerSettings

MB = 1024 * 1024

settings = MediaWorkerSettings.from_env()
bind_tables(settings)
bucket = Bucket(settings.bucket)
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

_handlers = queue_worker.handlers(
    lambda conversion_id: media_jobs.run_media_job(conversion_id, bucket, config, settings, utcnow()),
    settings,
    kind="media conversion",
)
handler = _handlers.handler
dead_letter_handler = _handlers.dead_letter_handler
