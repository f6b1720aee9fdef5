"""What AWS expires by itself, expired in the local stack's moto process so `make dev` can run all day (moto
keeps everything for ever). `sweep(now)` removes, as AWS would at `now` (epoch seconds), by the settings the
stack provisioned from template.yaml: DynamoDB items past their TTL (a Number, not over five years past),
deleted by the service (the REMOVE stream record's `userIdentity`); stream records older than 24 hours; S3
objects under the bucket's enabled lifecycle rules and incomplete multipart uploads under
AbortIncompleteMultipartUpload (moto does not record when an upload began: its age counts from the first sweep
that saw it); SQS messages older than their queue's MessageRetentionPeriod.
"""

from __future__ import annotations

import bisect
import calendar
import contextlib
import ctypes
import logging
import math
from collections.abc import Callable, Iterable
from typing import Any

from filegate_local.moto_fixes import TRANSACTION_LOCK

DAY_SECONDS = 86_400
FIVE_YEARS = 5 * 365 * DAY_SECONDS  # DynamoDB leaves an item whose TTL is further past (a likely mistake)
# Who GetRecords says deleted an item by TTL (stream_poller renames the keys to the Lambda event's form).
TTL_DELETER = {"Type": "Service", "PrincipalId": "dynamodb.amazonaws.com"}


def snapshot(read: Callable[[], Iterable[Any]]) -> list[Any]:
    """`list(read())` while moto's request threads may change what it reads ("changed size during
    iteration"): retried, then given up until the next sweep."""
    for _attempt in range(3):
        with contextlib.suppress(RuntimeError):
            return list(read())
    return []


def models(service: str, kind: str) -> list[Any]:
    """Every model of a kind ("tables", "buckets"...) in every account and region of a moto service."""
    from moto.backends import get_backend

    backends = [backend for regions in snapshot(get_backend(service).values) for backend in snapshot(regions.values)]
    held = [getattr(backend, kind) for backend in backends]
    return [model for found in held for model in snapshot(getattr(found, "values", found.copy))]  # a dict or a list


def _utc(moment: Any) -> float:
    return calendar.timegm(moment.utctimetuple())  # moto's timestamps are naive UTC datetimes


def lifecycle_expires_at(created: float, days: int) -> float:
    """When S3 expires an object: creation plus the days, rounded up to the next midnight UTC."""
    return math.ceil((created + days * DAY_SECONDS) / DAY_SECONDS) * DAY_SECONDS


def sweep(now: float) -> dict[str, int]:
    """Expire everything due at `now`; how many of each kind went."""
    expired = dict.fromkeys(("items", "stream_records", "objects", "uploads", "messages"), 0)
    with TRANSACTION_LOCK:  # no TTL deletion inside a DynamoDB transaction that may still roll back
        for table in models("dynamodb", "tables"):
            ttl = table.ttl.get("AttributeName") if table.ttl.get("TimeToLiveStatus") == "ENABLED" else None
            for item in snapshot(table.all_items) if ttl else []:
                value = item.attrs.get(ttl)
                expires = float(value.value) if value is not None and value.type == "N" else math.nan
                if now - FIVE_YEARS <= expires < now and table.delete_item(item.hash_key, item.range_key):
                    expired["items"] += 1
                    if table.stream_shard is not None:
                        table.stream_shard.items[-1].record["userIdentity"] = dict(TTL_DELETER)
            if (shard := table.stream_shard) is not None:
                created = [_utc(record.record["dynamodb"]["ApproximateCreationDateTime"]) for record in shard.items]
                old = bisect.bisect_left(created, now - DAY_SECONDS)
                # moto numbers a record by its index plus the shard's first number: move that on, so none changes.
                del shard.items[:old]
                shard.starting_sequence_number += old
                expired["stream_records"] += old
    for bucket in models("s3", "buckets"):
        for rule in bucket.rules or []:
            if rule.status != "Enabled" or (rule.filter and (rule.filter.tag_key or rule.filter.and_filter)):
                continue  # only prefix filters, the form the template uses
            prefix = (rule.filter.prefix if rule.filter else rule.prefix) or ""
            days, abort_days = int(rule.expiration_days or 0), int(rule.aimu_days or 0)
            for name, key in snapshot(bucket.keys.items) if days else []:
                if name.startswith(prefix) and lifecycle_expires_at(_utc(key.last_modified), days) <= now:
                    with contextlib.suppress(KeyError):  # deleted meanwhile
                        bucket.keys.pop(name)  # which disposes of its buffer (memory or temporary file) at once
                        expired["objects"] += 1
            for upload_id, upload in snapshot(bucket.multiparts.items) if abort_days else []:
                due = upload.__dict__.setdefault("first_seen", now) + abort_days * DAY_SECONDS <= now
                if due and upload.key_name.startswith(prefix) and bucket.multiparts.pop(upload_id, None):
                    upload.dispose()
                    expired["uploads"] += 1
    for queue in models("sqs", "queues"):
        for message in snapshot(queue._messages.copy):
            if message.sent_timestamp / 1000 + int(queue.message_retention_period) <= now:
                with contextlib.suppress(ValueError):  # received and deleted meanwhile
                    queue._messages.remove(message)
                    expired["messages"] += 1
                queue.pending_messages.discard(message)
    if any(expired.values()):
        logging.getLogger(__name__).info("expired %s", expired)
        with contextlib.suppress(OSError, AttributeError):  # hand the freed heap back (glibc's malloc_trim)
            ctypes.CDLL("libc.so.6").malloc_trim(0)
    return expired
