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


def send_many(queue_url: str, messages: list[dict[str, Any]]) -> list[int]:
    """Send in batches of 10; returns the indexes of messages SQS refused."""
    failed: list[int] = []
    for start in range(0, len(messages), 10):
        entries = [
            {"Id": str(start + i), "MessageBody": json.dumps(m, separators=(",", ":"))}
            for i, m in enumerate(messages[start : start + 10])
        ]
        response = aws.client("sqs").send_message_batch(QueueUrl=queue_url, Entries=entries)
        failed += [int(f["Id"]) for f in response.get("Failed", [])]
    return failed
