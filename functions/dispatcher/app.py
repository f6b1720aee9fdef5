"""The webhook dispatcher (SQS webhooks queue): signs and delivers attempts, schedules retries.

A batch is delivered in parallel; only the messages that failed are reported back (partial batch failure
reporting), so a crash mid-batch loses nothing and repeats only what had not been recorded.
"""

from __future__ import annotations

from typing import Any

from filegate.db import bind_tables
from filegate.observability import instrument
from filegate.settings import DispatcherSettings
from filegate.webhooks.dispatch import process_batch

settings = DispatcherSettings.from_env()
bind_tables(settings)


def process(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return process_batch(event, settings, context)


handler = instrument(process, correlation_path="Records[0].messageId")
