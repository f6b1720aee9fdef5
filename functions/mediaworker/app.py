"""The media worker (SQS media queue) and its dead-letter handler: audio and video conversions with FFmpeg.

One message names one conversion, or one piece of a long one (``filegate.conversions.long_media``: the
pieces are queued here too); its life, the SQS plumbing, retries and dead-lettering are
``filegate.conversions.worker``'s, as in the image worker. This function carries the FFmpeg layer and no
imaging layer; FFmpeg runs in a sandbox of the limits below.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

from filegate.conversions import worker
from filegate.db import bind_tables
from filegate.engines import RunLimits, Segmenting, Workspace
from filegate.files.storage import Bucket
from filegate.settings import MediaWorkerSettings

settings = MediaWorkerSettings.from_env()
bind_tables(settings)
workspace = Workspace(
    Path(settings.media_workdir or tempfile.gettempdir()),
    ffmpeg_path=settings.ffmpeg_path,
    limits=RunLimits(
        wall_seconds=settings.media_wall_seconds,
        cpu_seconds=settings.media_cpu_seconds,
        memory_mb=settings.media_memory_mb,
        max_output_mb=settings.media_max_output_mb,
    ),
    segmenting=Segmenting(
        settings.long_media_seconds,
        settings.media_segment_seconds,
        join_part_mb=settings.media_join_part_mb,
        max_joined_output_mb=settings.media_max_joined_output_mb,
    ),
)

_handlers = worker.handlers(
    Bucket(settings.bucket), workspace, settings, label="media conversion", pieces_queue_url=settings.media_queue_url
)
handler = _handlers.handler
dead_letter_handler = _handlers.dead_letter_handler
