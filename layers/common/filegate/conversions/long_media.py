"""Long media fanned out over the media queue (docs/api.md "Media" → "Long media"; docs/architecture.md
"Long media fans out").

The job's own invocation probes the input (in ranges), and when its engine's plan has `segments`, writes a
manifest to S3 (never into a message: SQS takes 256 KB) and queues one message per piece: each video segment
and each audio piece (AAC: a few minutes each; Opus: the whole track; engines/av/segments.py). Each piece's
invocation reads the manifest, converts only its part of the stored input (read in ranges through a loopback
HttpSource: no worker copies the input, which may be larger than its disk) and stores the piece under a
deterministic key, so a redelivered message rewrites the same object.

Completion is a DynamoDB string set of finished pieces on the conversion record: a redelivered or reordered
message never counts twice. The invocation whose piece completes the set claims the join (a conditional
write, with a lease so a join whose invocation died is taken over by the next redelivery); it concatenates
the segments without re-encoding, muxes the audio (both read from S3 in ranges as FFmpeg goes) and sends the
output to S3 in parts as it grows (files.growing_upload: the disk holds a few parts of it, so the output may
be larger than the disk), records the output and succeeds the job. A piece that fails raises, so SQS retries
that message alone; after the queue's maxReceiveCount the dead-letter handler fails the job whole, uncharged
(worker.abandon), and ``clean_up`` deletes its pieces. Pieces that somehow
outlive both expire with the bucket's one-day lifecycle rule (their keys are under ``1d/``).

Touches storage: the conversions table, the bucket, the media queue.
"""

from __future__ import annotations

import json
import tempfile
from dataclasses import replace
from datetime import datetime, timedelta
from functools import partial
from pathlib import Path
from typing import Any

from filegate import errors, queues
from filegate.conversions.records import announce, fail
from filegate.db import conversions as conversions_table
from filegate.db import files as files_table
from filegate.engines import Plan, Segmented, Source, Workspace, engine_for
from filegate.files import service as files_service
from filegate.files.growing_upload import GrowingUpload
from filegate.files.http_source import HttpSource, RangeReader
from filegate.files.storage import Bucket
from filegate.formats.table import content_type, kind
from filegate.observability import conversion_finished, logger
from filegate.settings import WebhookEmitter
from filegate.tiers import MB

MANIFEST = "manifest.json"
PIECES_RETENTION = "1d"  # the bucket's shortest lifecycle rule: pieces a failure left behind expire in a day
# Longer than one invocation may run (15 minutes): a join claimed longer ago than this died with its invocation.
JOIN_LEASE = timedelta(minutes=16)
PIECES_SHARE = 95  # of `progress`: the pieces done; the join is the rest


def pieces_prefix(record: conversions_table.ConversionRecord) -> str:
    """Where a conversion's manifest and pieces live (under the account's prefix, like its files)."""
    return f"{PIECES_RETENTION}/{record.account_id}/{record.conversion_id}.pieces/"


def source_of(bucket: Bucket, key: str) -> tuple[HttpSource, bytes]:
    """A loopback server of the stored object (ranged reads) and the object's first bytes."""
    info = bucket.inspect(key)
    if info is None:
        raise errors.ConversionFailed("The source file's content is gone.")
    return HttpSource(info.size, partial(bucket.read_range, key)), info.head


def _object(bucket: Bucket, key: str) -> tuple[int, RangeReader]:
    info = bucket.inspect(key, head_bytes=1)
    if info is None:
        raise errors.ConversionFailed("A piece of the conversion is gone.")
    return info.size, partial(bucket.read_range, key)


def fan_out(
    record: conversions_table.ConversionRecord,
    source_file: files_table.FileRecord,
    plan: Plan,
    cut: Any,
    bucket: Bucket,
    queue_url: str,
) -> None:
    """Write the manifest and queue every piece of `cut` (the engine's segments). A redelivered job message
    does it again: the manifest is the same and a piece queued twice is done once."""
    names = [piece.name for piece in cut.pieces]
    manifest = {
        "source_key": source_file.object_key,
        "source_format": plan.source,
        "target": plan.target,
        "filename": source_file.filename,
        "segments": cut.to_json(),
    }
    bucket.put(pieces_prefix(record) + MANIFEST, json.dumps(manifest).encode(), "application/json")
    conversions_table.fan_out(record, len(names))
    for name in names:
        queues.send(queue_url, {"conversion_id": record.conversion_id, "piece": name})
    logger.info("long media fanned out", extra={"conversion_id": record.conversion_id, "pieces": len(names)})


def _manifest(bucket: Bucket, record: conversions_table.ConversionRecord) -> dict[str, Any] | None:
    data = bucket.read_if_exists(pieces_prefix(record) + MANIFEST)
    return None if data is None else dict(json.loads(data))


def _engine(manifest: dict[str, Any]) -> tuple[Segmented, Any]:
    engine = engine_for(manifest["source_format"], manifest["target"])
    assert isinstance(engine, Segmented)
    return engine, engine.segments_from_json(manifest["segments"])


def run_piece(
    conversion_id: str, name: str, bucket: Bucket, workspace: Workspace, webhooks: WebhookEmitter, now: datetime
) -> conversions_table.ConversionRecord | None:
    """Convert one piece (unless a delivery before did), record it, and join when it completes the set.
    A failure propagates: SQS retries this piece alone, and dead-letters it in the end."""
    record = conversions_table.get(conversion_id)
    if record is None or record.status in conversions_table.TERMINAL:
        return record  # a late piece of a finished (or failed and cleaned-up) job: nothing to do
    manifest = _manifest(bucket, record)
    if manifest is None:
        raise errors.ConversionFailed("The long conversion's manifest is gone.")  # retried, then dead-lettered
    engine, cut = _engine(manifest)
    prefix = pieces_prefix(record)
    if name not in (record.pieces_done or set()):
        server, head = source_of(bucket, manifest["source_key"])
        with tempfile.TemporaryDirectory(prefix="piece-", dir=workspace.workdir) as scratch, server as url:
            source = Source(manifest["source_format"], url=url, head=head)
            path = engine.run_piece(cut, name, source, replace(workspace, workdir=Path(scratch)))
            bucket.upload(prefix + cut.file_name(name), path, "application/octet-stream")
        done = conversions_table.piece_done(conversion_id, name)
        if done is None:
            return conversions_table.get(conversion_id)
        record = done
    finished, total = len(record.pieces_done or ()), int(record.pieces_total or 0)
    if total and finished < total:
        conversions_table.advance(conversion_id, finished * PIECES_SHARE // total)
    if not total or finished < total or not conversions_table.claim_join(conversion_id, total, now, lease=JOIN_LEASE):
        return record
    return _join(record, manifest, engine, cut, bucket, workspace, webhooks, now)


def _join(
    record: conversions_table.ConversionRecord,
    manifest: dict[str, Any],
    engine: Segmented,
    cut: Any,
    bucket: Bucket,
    workspace: Workspace,
    webhooks: WebhookEmitter,
    now: datetime,
) -> conversions_table.ConversionRecord | None:
    conversions_table.advance(record.conversion_id, PIECES_SHARE)
    prefix = pieces_prefix(record)
    segmenting = workspace.segmenting
    assert segmenting is not None
    file_id, key = files_service.output_key(record.account_id, record.tier)
    try:
        names = [cut.file_name(piece.name) for piece in cut.pieces]
        # The pieces are read from S3 in ranges as the join goes, and the output is sent to S3 as it grows.
        served = HttpSource.of({name: _object(bucket, prefix + name) for name in names})
        with (
            tempfile.TemporaryDirectory(prefix="join-", dir=workspace.workdir) as scratch,
            served as url,
            GrowingUpload(
                bucket, key, Path(scratch) / f"output.{record.target}", content_type(record.target),
                part_bytes=segmenting.join_part_mb * MB,
            ) as sink,
        ):  # fmt: skip
            output = engine.join_pieces(cut, url, replace(workspace, workdir=Path(scratch)), sink)
        stored = files_service.record_output(
            record.account_id,
            record.tier,
            file_id,
            key,
            size=output.size,
            fmt=output.format,
            filename=files_service.output_filename(manifest["filename"], output.format),
            now=now,
            metadata=output.metadata,
        )
    except errors.ApiError as exc:
        fail(record, exc.code, exc.message, now)
        clean_up(record, bucket)
        return announce(record.conversion_id, webhooks, now)
    if conversions_table.succeed(record, stored.file_id, now):
        conversion_finished(kind(record.target), succeeded=True)
    clean_up(record, bucket)
    return announce(record.conversion_id, webhooks, now)


def clean_up(record: conversions_table.ConversionRecord, bucket: Bucket) -> None:
    """Delete a fanned-out conversion's manifest and pieces (after its join, or once it failed)."""
    prefix = pieces_prefix(record)
    manifest = _manifest(bucket, record)
    if manifest is None:
        return  # never fanned out, or already cleaned up
    _, cut = _engine(manifest)
    bucket.delete_many([*(prefix + cut.file_name(p.name) for p in cut.pieces), prefix + MANIFEST])
