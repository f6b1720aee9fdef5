"""SQS event source mappings: long-poll a queue in moto, invoke the function with SQS events.

As Lambda's poller does: successes are deleted; with ReportBatchItemFailures only the reported
`batchItemFailures` stay (they reappear after the visibility timeout, and moto's redrive policy moves them
to the DLQ after maxReceiveCount); a function error, timeout or malformed partial-batch reply keeps the
whole batch.

Like Lambda's pollers they long-poll (20 s): an idle queue costs one request per poller every 20 s, not a
stream of empty receives. A batching window starts with the first message received.
"""

from __future__ import annotations

import base64
import logging
import math
import threading
import time
from collections.abc import Mapping
from typing import Any

from filegate_local.model import SqsMappingSpec
from filegate_local.poller import PollerThread
from filegate_local.resources import client
from filegate_local.workers import FunctionPool, Invocation

log = logging.getLogger("filegate_local.sqs")

# ReceiveMessage's longest wait. Stopping does not wait for it: the stack joins pollers with a deadline and
# stops moto, which ends the call.
LONG_POLL_SECONDS = 20


def _message_attribute(value: Mapping[str, Any]) -> dict[str, Any]:
    binary = value.get("BinaryValue")
    return {
        "stringValue": value.get("StringValue"),
        "binaryValue": base64.b64encode(binary).decode() if isinstance(binary, bytes | bytearray) else binary,
        "stringListValues": list(value.get("StringListValues") or []),
        "binaryListValues": list(value.get("BinaryListValues") or []),
        "dataType": value.get("DataType"),
    }


def sqs_record(message: Mapping[str, Any], queue_arn: str, region: str) -> dict[str, Any]:
    """One record of an SQS event, from a ReceiveMessage message."""
    attributes = dict(message.get("Attributes") or {})
    record: dict[str, Any] = {
        "messageId": message["MessageId"],
        "receiptHandle": message["ReceiptHandle"],
        "body": message.get("Body", ""),
        "attributes": attributes,
        "messageAttributes": {
            name: _message_attribute(value) for name, value in (message.get("MessageAttributes") or {}).items()
        },
        "md5OfBody": message.get("MD5OfBody"),
        "eventSource": "aws:sqs",
        "eventSourceARN": queue_arn,
        "awsRegion": region,
    }
    if message.get("MD5OfMessageAttributes"):
        record["md5OfMessageAttributes"] = message["MD5OfMessageAttributes"]
    return record


class SqsPoller(PollerThread):
    """One poller thread for one event source mapping (several pollers may serve a mapping)."""

    def __init__(
        self,
        mapping: SqsMappingSpec,
        pool: FunctionPool,
        endpoint: str,
        region: str,
        stop: threading.Event,
        index: int = 0,
    ) -> None:
        super().__init__(f"sqs-{mapping.function}-{mapping.event}-{index}", stop)
        self.mapping = mapping
        self.pool = pool
        self.region = region
        self.sqs = client("sqs", endpoint, region)
        self.batches = 0

    def poll_once(self) -> bool:
        messages = self._receive_batch()
        if messages:
            self._process(messages)
        return bool(messages)

    def _receive_batch(self) -> list[dict[str, Any]]:
        """Up to BatchSize messages: a long poll for the first, then what comes within the batching window."""
        wanted = self.mapping.batch_size
        messages: list[dict[str, Any]] = []
        window_ends = 0.0
        while len(messages) < wanted and not self.stopping:
            if messages:
                remaining = window_ends - time.monotonic()
                if remaining <= 0:
                    break
                wait = min(LONG_POLL_SECONDS, math.ceil(remaining))
            else:
                wait = LONG_POLL_SECONDS
            response = self.sqs.receive_message(
                QueueUrl=self.mapping.queue_url,
                MaxNumberOfMessages=min(10, wanted - len(messages)),
                WaitTimeSeconds=wait,
                AttributeNames=["All"],
                MessageSystemAttributeNames=["All"],
                MessageAttributeNames=["All"],
            )
            received = response.get("Messages") or []
            if received and not messages:
                window_ends = time.monotonic() + self.mapping.batching_window_seconds
            messages.extend(received)
            if not received:
                break  # a long poll came back empty: give what there is (nothing, or a batch in its window)
        return messages

    def _process(self, messages: list[dict[str, Any]]) -> None:
        self.batches += 1
        event = {"Records": [sqs_record(m, self.mapping.queue_arn, self.region) for m in messages]}
        invocation = self.pool.invoke(event)
        keep = self._failed_ids(invocation, messages)
        done = [m for m in messages if m["MessageId"] not in keep]
        for start in range(0, len(done), 10):
            chunk = done[start : start + 10]
            result = self.sqs.delete_message_batch(
                QueueUrl=self.mapping.queue_url,
                Entries=[{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(chunk)],
            )
            for failure in result.get("Failed") or []:
                log.warning("could not delete a message from %s: %s", self.mapping.queue, failure)
        if keep:
            log.info(
                "%s: %d of %d messages left on %s (%s)",
                self.mapping.function,
                len(keep),
                len(messages),
                self.mapping.queue,
                invocation.status,
            )

    def _failed_ids(self, invocation: Invocation, messages: list[dict[str, Any]]) -> set[str]:
        everything = {m["MessageId"] for m in messages}
        if not invocation.ok:
            return everything
        if not self.mapping.report_batch_item_failures:
            return set()
        result = invocation.result
        if result is None:
            return set()
        if not isinstance(result, Mapping):
            return everything  # not a partial batch response: Lambda fails the whole batch
        failures = result.get("batchItemFailures")
        if failures is None:
            return set()
        if not isinstance(failures, list):
            return everything
        failed: set[str] = set()
        for item in failures:
            identifier = item.get("itemIdentifier") if isinstance(item, Mapping) else None
            if not identifier or identifier not in everything:
                # An empty or unknown identifier makes Lambda treat the whole batch as failed.
                return everything
            failed.add(str(identifier))
        return failed


def start_pollers(
    mappings: list[SqsMappingSpec],
    pools: Mapping[str, FunctionPool],
    endpoint: str,
    region: str,
    stop: threading.Event,
    max_pollers: int,
) -> list[SqsPoller]:
    pollers: list[SqsPoller] = []
    for mapping in mappings:
        pool = pools.get(mapping.function)
        if pool is None:
            continue
        count = max(1, min(max_pollers, mapping.maximum_concurrency or max_pollers, pool.max_workers))
        for index in range(count):
            poller = SqsPoller(mapping, pool, endpoint, region, stop, index)
            poller.start()
            pollers.append(poller)
    return pollers
