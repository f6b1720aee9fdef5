"""SQS: the conversions queue (worker) and the webhooks queue (dispatcher)."""

from __future__ import annotations

import json
from typing import Any

from filegate import aws

MAX_SQS_DELAY_SECONDS = 900


def send(queue_url: str, message: dict[str, Any], *, delay_seconds: int = 0) -> None:
    aws.client("sqs").send_message(
        QueueUrl=queue_url,
        MessageBody=json.dumps(message, separators=(",", ":")),
        DelaySeconds=max(0, min(delay_seconds, MAX_SQS_DELAY_SECONDS)),
    )
