"""Which worker queue takes which engine's conversions: one place for the request side (create, sync) and
the import worker (a URL job goes on to its engine's queue once the file is in)."""

from __future__ import annotations

from collections.abc import Mapping

from filegate.engines import EngineName
from filegate.settings import EngineQueues

# The queue of each engine's worker.
Queues = Mapping[EngineName, str]


def engine_queues(settings: EngineQueues) -> Queues:
    """Each engine's worker queue, from the settings of a function that hands conversions to workers."""
    return {
        "image": settings.conversions_queue_url,
        "av": settings.media_queue_url,
        "document": settings.documents_queue_url,
    }
