"""What AWS expires by itself, expired in the local stack's moto process, so `make dev` can run all day.

moto keeps everything for ever: items past their TTL, objects past their bucket's lifecycle, every stream
record, every SQS message however old. On AWS each of these goes away on its own, and the local stack's
footprint grew with every request. `sweep(now)` removes, as AWS would at `now` (epoch seconds):

- DynamoDB items whose TTL attribute (a Number, epoch seconds) is in the past, on tables with TTL enabled.
  As on AWS the deletion is a REMOVE stream record from the service (`userIdentity`), and a value more
  than five years in the past is left alone.
- S3 objects matched by an enabled lifecycle rule with `Expiration: Days`, once the creation time plus the
  days, rounded up to the next midnight UTC, has passed; incomplete multipart uploads under an
  `AbortIncompleteMultipartUpload` rule (moto does not record when an upload began, so its age counts
  from the first sweep that saw it). Only prefix filters, the form the template uses.
- DynamoDB stream records older than 24 hours (the shard's sequence numbers stay as they were).
- SQS messages older than their queue's MessageRetentionPeriod.

The settings are moto's own, which the stack provisioned from template.yaml. Tests pass `now` (the
injectable clock); the moto process runs `Sweeper` every minute with the wall clock.
"""

from __future__ import annotations

import calendar
import contextlib
import ctypes
import datetime
import logging
import math
import threading
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, fields
from typing import Any, TypeVar

log = logging.getLogger("filegate_local.expiry")
T = TypeVar("T")
SNAPSHOT_ATTEMPTS = 3

SWEEP_INTERVAL_SECONDS = 60.0
DAY_SECONDS = 86_400
STREAM_RECORD_LIFETIME_SECONDS = DAY_SECONDS
# DynamoDB does not delete items whose TTL value is more than five years in the past (a likely mistake).
TTL_IGNORED_AFTER_SECONDS = 5 * 365 * DAY_SECONDS
# Who GetRecords says deleted an item by TTL (stream_poller renames the keys to the Lambda event's form).
TTL_DELETER = {"Type": "Service", "PrincipalId": "dynamodb.amazonaws.com"}


@dataclass
class Expired:
    """How many of each kind one sweep removed."""

    items: int = 0
    stream_records: int = 0
    objects: int = 0
    uploads: int = 0
    messages: int = 0

    def as_json(self) -> dict[str, int]:
        return {f.name: getattr(self, f.name) for f in fields(self)}


def sweep(now: float, write_lock: threading.RLock | None = None) -> Expired:
    """Expire everything due at `now` in this process's moto backends. `write_lock` (moto_fixes'
    transaction lock) keeps a TTL deletion out of a DynamoDB transaction that may still roll back."""
    expired = Expired()
    with write_lock or contextlib.nullcontext():
        expired.items = expire_items(now)
    expired.stream_records = expire_stream_records(now)
    expired.objects, expired.uploads = expire_objects(now)
    expired.messages = expire_messages(now)
    return expired


# ------------------------------------------------------------------ the backends


def backends(service_backends: Any) -> Iterator[Any]:
    """Every (account, region) backend of a moto service; copies, as requests add accounts meanwhile."""
    for regions in snapshot(service_backends.values):
        yield from snapshot(regions.values)


def snapshot(read: Callable[[], Iterable[T]]) -> list[T]:
    """A list of what `read` iterates over, taken while moto's request threads may change it: a change
    mid-copy ("changed size during iteration") is retried, then given up for this sweep."""
    for _attempt in range(SNAPSHOT_ATTEMPTS):
        with contextlib.suppress(RuntimeError):
            return list(read())
    return []


def _items(table: Any) -> list[Any]:
    if table.range_key_attr is None:
        return snapshot(table.items.values)
    return [item for by_range in snapshot(table.items.values) for item in snapshot(by_range.values)]


def _epoch(moment: datetime.datetime) -> float:
    """moto's timestamps are naive UTC datetimes."""
    return calendar.timegm(moment.utctimetuple()) + moment.microsecond / 1e6


# ------------------------------------------------------------------ DynamoDB


def _ttl_due(item: Any, attribute: str, now: float) -> bool:
    value = item.attrs.get(attribute)
    if value is None or value.type != "N":
        return False  # a TTL attribute that is not a Number is ignored, as on AWS
    try:
        expires = float(value.value)
    except (TypeError, ValueError):
        return False
    return now - TTL_IGNORED_AFTER_SECONDS <= expires < now


def expire_items(now: float) -> int:
    from moto.dynamodb.models import dynamodb_backends

    count = 0
    for backend in backends(dynamodb_backends):
        for table in snapshot(backend.tables.values):
            ttl = table.ttl
            if ttl.get("TimeToLiveStatus") != "ENABLED" or not ttl.get("AttributeName"):
                continue
            for item in _items(table):
                if _ttl_due(item, ttl["AttributeName"], now) and table.delete_item(item.hash_key, item.range_key):
                    count += 1
                    shard = table.stream_shard
                    if shard is not None and shard.items:
                        shard.items[-1].record["userIdentity"] = dict(TTL_DELETER)
    return count


def expire_stream_records(now: float) -> int:
    from moto.dynamodb.models import dynamodb_backends

    oldest_kept = now - STREAM_RECORD_LIFETIME_SECONDS
    count = 0
    for backend in backends(dynamodb_backends):
        for table in snapshot(backend.tables.values):
            shard = table.stream_shard
            if shard is None:
                continue
            records = shard.items
            old = 0
            while old < len(records) and _epoch(records[old].record["dynamodb"]["ApproximateCreationDateTime"]) < (
                oldest_kept
            ):
                old += 1
            if old:
                # moto numbers a record by its index plus the shard's first number: move that number on, so
                # records keep theirs (moto_fixes moves iterators that pointed at trimmed records).
                del records[:old]
                shard.starting_sequence_number += old
                count += old
    return count


# ------------------------------------------------------------------ S3


def lifecycle_expires_at(created: float, days: int) -> float:
    """When S3 expires an object: creation plus the days, rounded up to the next midnight UTC."""
    due = created + days * DAY_SECONDS
    return math.ceil(due / DAY_SECONDS) * DAY_SECONDS


def _rule_prefix(rule: Any) -> str | None:
    """The prefix a rule applies to ("" for every key), or None for filters the template does not use."""
    lc_filter = rule.filter
    if lc_filter is None:
        return str(rule.prefix or "")
    if lc_filter.tag_key is not None or lc_filter.and_filter is not None:
        return None
    return str(lc_filter.prefix or "")


# Upload id -> when a sweep first saw it (moto does not record when an upload was initiated).
_uploads_seen: dict[str, float] = {}


def expire_objects(now: float) -> tuple[int, int]:
    from moto.s3.models import s3_backends

    objects = uploads = 0
    live_uploads: set[str] = set()
    for backend in backends(s3_backends):
        for bucket in snapshot(backend.buckets.values):
            live_uploads.update(bucket.multiparts)
            rules = [rule for rule in (getattr(bucket, "rules", None) or []) if rule.status == "Enabled"]
            for rule in rules:
                prefix = _rule_prefix(rule)
                if prefix is None:
                    continue
                if rule.expiration_days:
                    objects += _expire_keys(backend, bucket, prefix, int(rule.expiration_days), now)
                if rule.aimu_days:
                    uploads += _abort_uploads(backend, bucket, prefix, int(rule.aimu_days), now)
    for upload_id in set(_uploads_seen) - live_uploads:  # completed or aborted by their clients
        _uploads_seen.pop(upload_id, None)
    return objects, uploads


def _expire_keys(backend: Any, bucket: Any, prefix: str, days: int, now: float) -> int:
    count = 0
    for name, key in snapshot(bucket.keys.items):
        if not name.startswith(prefix) or lifecycle_expires_at(_epoch(key.last_modified), days) > now:
            continue
        with contextlib.suppress(KeyError):
            backend.delete_object(bucket.name, name)
            key.dispose()  # its spooled buffer (memory or a temporary file) now, not at garbage collection
            count += 1
    return count


def _abort_uploads(backend: Any, bucket: Any, prefix: str, days: int, now: float) -> int:
    from moto.s3.exceptions import NoSuchUpload

    count = 0
    for upload_id, upload in snapshot(bucket.multiparts.items):
        if not upload.key_name.startswith(prefix):
            continue
        if _uploads_seen.setdefault(upload_id, now) + days * DAY_SECONDS > now:
            continue
        with contextlib.suppress(NoSuchUpload):  # completed or aborted meanwhile
            backend.abort_multipart_upload(bucket.name, upload_id)
            upload.dispose()
            count += 1
        _uploads_seen.pop(upload_id, None)
    return count


# ------------------------------------------------------------------ SQS


def expire_messages(now: float) -> int:
    from moto.sqs.models import sqs_backends

    count = 0
    for backend in backends(sqs_backends):
        for queue in snapshot(backend.queues.values):
            retention = int(queue.message_retention_period)
            for message in snapshot(queue._messages.copy):
                if message.sent_timestamp is None or message.sent_timestamp / 1000 + retention > now:
                    continue
                with contextlib.suppress(ValueError):  # received and deleted meanwhile
                    queue._messages.remove(message)
                    count += 1
                queue.pending_messages.discard(message)
    return count


# ------------------------------------------------------------------ the sweeper


def release_free_memory() -> None:
    """Hand the heap's free pages back to the system (glibc's malloc_trim; elsewhere nothing to do)."""
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL("libc.so.6").malloc_trim(0)


class Sweeper:
    """A daemon thread in the moto process that sweeps every `interval` seconds by `clock`."""

    def __init__(
        self,
        clock: Callable[[], float],
        write_lock: threading.RLock | None = None,
        interval: float = SWEEP_INTERVAL_SECONDS,
    ) -> None:
        self._clock = clock
        self._write_lock = write_lock
        self._interval = interval
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="expiry", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()

    def sweep(self, now: float | None = None) -> Expired:
        expired = sweep(self._clock() if now is None else now, self._write_lock)
        if any(expired.as_json().values()):
            log.info("expired %s", expired.as_json())
            release_free_memory()
        return expired

    def _run(self) -> None:
        while not self._stop.wait(self._interval):
            try:
                self.sweep()
            except Exception:  # moto changed under us mid-sweep: the next sweep tries again
                log.exception("expiry sweep failed")
