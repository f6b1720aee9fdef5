"""The document worker (SQS documents queue) and its dead-letter handler: office and text documents with
LibreOffice.

One message names one conversion; its life, the SQS plumbing, retries and dead-lettering are
``filegate.conversions.worker``'s, as in the image and media workers. This function is a container image
(``Dockerfile`` beside this file: Debian's LibreOffice and fonts from infra/system-packages.txt); the
document engine keeps one LibreOffice process warm per instance between invocations, within the limits below.
"""

from __future__ import annotations

import tempfile
from dataclasses import replace
from pathlib import Path

from filegate.conversions import worker
from filegate.db import bind_tables
from filegate.engines import RunLimits, Workspace
from filegate.engines.document.engine import ENGINE as documents
from filegate.files.storage import Bucket
from filegate.settings import DocumentsSettings

settings = DocumentsSettings.from_env()
bind_tables(settings)
if settings.document_profile_dir:  # baked into the image: no instance bakes it again on its cold start
    documents.office.settings = replace(documents.office.settings, profile_template=Path(settings.document_profile_dir))
workspace = Workspace(
    Path(settings.document_workdir or tempfile.gettempdir()),
    limits=RunLimits(
        wall_seconds=settings.document_wall_seconds,
        cpu_seconds=settings.document_cpu_seconds,
        memory_mb=settings.document_memory_mb,
        max_output_mb=settings.document_max_output_mb,
    ),
)

_handlers = worker.handlers(Bucket(settings.bucket), workspace, settings, label="document conversion")
handler = _handlers.handler
dead_letter_handler = _handlers.dead_letter_handler
