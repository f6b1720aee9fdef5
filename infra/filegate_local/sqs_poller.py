"""SQS event source mappings, as Lambda's pollers: long polls (an idle queue costs a request per poller every
20 s), a batch per receive (the template sets no batching window), successes deleted, with ReportBatchItemFailures
all but the messages reported; what stays reappears after the visibility timeout (then the DLQ, by moto's redrive).
"""

import threading
from collections.abc import Mapping
from typing import Any

from filegate_local.model import SqsMappingSpec
from filegate_local.poller import PollerThread, failed_ids, log
from filegate_local.resources import client
from filegate_local.workers import FunctionPool

LONG_POLL_SECONDS = 20
RECEIVE = {"WaitTimeSeconds": LONG_POLL_SECONDS, "MessageSystemAttributeNames": ["All"]}


def sqs_record(message: Mapping[str, Any], queue_arn: str, region: str) -> dict[str, Any]:
    """One record of an SQS event, from a ReceiveMessage message (FileGate sends no message attributes)."""
    return {
        "messageId": message["MessageId"],
        "receiptHandle": message["ReceiptHandle"],
        "body": message.get("Body", ""),
        "attributes": dict(message.get("Attributes") or {}),
        "messageAttributes": {},
        "md5OfBody": message.get("MD5OfBody"),
        "eventSource": "aws:sqs",
        "eventSourceARN": queue_arn,
        "awsRegion": region,
    }


class SqsPoller(PollerThread):
    def __init__(self, mapping: SqsMappingSpec, pool: FunctionPool, sqs: Any, region: str, stop: threading.Event):
        super().__init__(f"sqs-{mapping.function}-{mapping.event}", stop)
        self.mapping, self.pool, self.sqs, self.region = mapping, pool, sqs, region

    def poll(self) -> bool:
        """One long poll and the function's batch; True: poll again at once (the long poll was the wait)."""
        mapping, size = self.mapping, min(10, self.mapping.batch_size)
        received = self.sqs.receive_message(QueueUrl=mapping.queue_url, MaxNumberOfMessages=size, **RECEIVE)
        if not (messages := received.get("Messages")):
            return True
        invocation = self.pool.invoke({"Records": [sqs_record(m, mapping.queue_arn, self.region) for m in messages]})
        result = invocation.result if mapping.report_batch_item_failures else None
        keep = failed_ids(invocation.ok, result, (m["MessageId"] for m in messages))
        if done := [m["ReceiptHandle"] for m in messages if m["MessageId"] not in keep]:
            entries = [{"Id": str(i), "ReceiptHandle": handle} for i, handle in enumerate(done)]
            for failure in self.sqs.delete_message_batch(QueueUrl=mapping.queue_url, Entries=entries).get("Failed", []):
                log.warning("%s could not delete a message: %s", self.name, failure)
        if keep:
            log.info("%s: %d of %d messages stay (%s)", self.name, len(keep), len(messages), invocation.status)
        return True


def start_pollers(
    mappings: list[SqsMappingSpec],
    pools: Mapping[str, FunctionPool],
    endpoint: str,
    region: str,
    stop: threading.Event,
    max_pollers: int,
) -> list[SqsPoller]:
    """Up to `max_pollers` pollers per mapping, no more than its function has workers."""
    pollers = []
    for mapping in mappings:
        pool = pools[mapping.function]
        for _ in range(max(1, min(max_pollers, pool.max_workers))):
            pollers.append(SqsPoller(mapping, pool, client("sqs", endpoint, region), region, stop))
            pollers[-1].start()
    return pollers
