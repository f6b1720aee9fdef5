"""Long media through the media worker's real handler (docs/api.md "Long media"): the job fans out on the media
queue, each piece is its own message and invocation, the piece that completes the set joins. Here (the
service stack's parameters) video over 30 s is cut in 15 s segments.

The outputs are checked on their decoded frames and samples (tests/helpers/long_media.py); the bookkeeping
is checked by its effects: encodes counted, units charged, objects left in the bucket.
"""

from __future__ import annotations

import json
import random
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
from aws_lambda_powertools.utilities.batch.exceptions import BatchProcessingError

from filegate.engines.av import segments
from filegate_local.sqs_poller import sqs_record
from tests.helpers import long_media as long
from tests.service.conftest import Stack
from tests.service.harness import ServiceApi
from tests.service.helpers import Account

SEGMENT_SECONDS = 15.0


@pytest.fixture(scope="module")
def clips() -> Iterator[dict[str, Path]]:
    with tempfile.TemporaryDirectory() as work:
        folder = Path(work)
        yield {
            "a": long.make_clip(folder / "a.mp4", 62.0, 25),
            "b": long.make_clip(folder / "b.mp4", 47.0, 24, size="256x144"),
        }


@pytest.fixture
def encodes(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[tuple[str, str]]]:
    """(conversion's piece file, piece) of every piece encode that ran to its end, in order."""
    done: list[tuple[str, str]] = []
    real = segments.encode_piece

    def counted(plan: segments.SegmentPlan, name: str, url: str, **kwargs: Any) -> Path:
        path = real(plan, name, url, **kwargs)
        done.append((plan.target, name))
        return path

    monkeypatch.setattr(segments, "encode_piece", counted)
    yield done


class MediaQueue:
    """The media queue's messages taken off it, and given to the worker's handler in any order, as often
    as a test likes (SQS delivers at least once, in no promised order)."""

    def __init__(self, api: ServiceApi) -> None:
        self.api = api
        self.mapping = next(m for m in api.model.sqs_mappings if m.function == "MediaWorkerFunction")
        self.dead = next(m for m in api.model.sqs_mappings if m.function == "MediaWorkerDeadLetterFunction")

    def take(self) -> list[dict[str, Any]]:
        taken: list[dict[str, Any]] = []
        while True:
            got = self.api.sqs.receive_message(QueueUrl=self.mapping.queue_url, MaxNumberOfMessages=10).get(
                "Messages", []
            )
            if not got:
                return taken
            for message in got:
                self.api.sqs.delete_message(QueueUrl=self.mapping.queue_url, ReceiptHandle=message["ReceiptHandle"])
            taken.extend(got)

    def deliver(self, message: dict[str, Any]) -> bool:
        """True when the handler took it (False: it reported the message failed, for SQS to retry)."""
        record = sqs_record(message, self.mapping.queue_arn, self.api.region)
        try:
            result = self.api.functions.invoke("MediaWorkerFunction", {"Records": [record]})
        except BatchProcessingError:  # every record of the batch failed: the invocation fails, as in Lambda
            return False
        return not (result or {}).get("batchItemFailures")

    def dead_letter(self, message: dict[str, Any]) -> None:
        record = sqs_record(message, self.dead.queue_arn, self.api.region)
        self.api.functions.invoke("MediaWorkerDeadLetterFunction", {"Records": [record]})


def piece(message: dict[str, Any]) -> str | None:
    return json.loads(message["Body"]).get("piece")


def start(account: Account, clip: Path, target: str, queue: MediaQueue) -> tuple[str, list[dict[str, Any]]]:
    """A long job created and its own message run: the job id and the piece messages it queued."""
    file = account.upload(clip.read_bytes(), clip.name)
    job = account.call("POST", "/v1/conversions", json_body={"file_id": file["id"], "target": target}).json()
    (message,) = queue.take()
    assert queue.deliver(message)
    queued = queue.take()
    assert queued and all(json.loads(m["Body"])["conversion_id"] == job["id"] for m in queued)
    return job["id"], queued


def leftovers(stack: Stack, account: Account, conversion_id: str) -> list[str]:
    bucket = stack.functions.module("MediaWorkerFunction").settings.bucket
    listed = stack.s3.list_objects_v2(Bucket=bucket, Prefix=f"1d/{account.account_id}/{conversion_id}.pieces/")
    return [o["Key"] for o in listed.get("Contents", [])]


def output_of(account: Account, conversion_id: str, folder: Path, target: str) -> Path:
    job = account.call("GET", f"/v1/conversions/{conversion_id}").json()
    assert job["status"] == "succeeded" and job["progress"] == 100, job
    location = account.call("GET", f"/v1/files/{job['output_file_id']}/content").headers["location"]
    path = folder / f"{conversion_id}.{target}"
    path.write_bytes(requests.get(location, timeout=60).content)
    return path


def joins(count: int, fps: float) -> list[float]:
    per = round(SEGMENT_SECONDS * fps)
    return [k * per / fps for k in range(1, count)]


def test_a_long_video_fans_out_and_joins_seamlessly(
    stack: Stack, pro_account: Account, clips: dict[str, Path], encodes: list[tuple[str, str]], tmp_path: Path
) -> None:
    queue = MediaQueue(stack.api)
    conversion_id, queued = start(pro_account, clips["a"], "mp4", queue)
    names = ["a0000", "a0001", "v0000", "v0001", "v0002", "v0003", "v0004"]
    assert sorted(piece(m) or "" for m in queued) == names  # AAC audio in pieces of 4 segments' length
    progress = []
    for message in queued:
        assert queue.deliver(message)
        progress.append(pro_account.call("GET", f"/v1/conversions/{conversion_id}").json()["progress"])
    assert progress == sorted(progress) and progress[-1] == 100 and 0 < progress[0] < 100, progress
    output = output_of(pro_account, conversion_id, tmp_path, "mp4")
    audio_join = round(segments.AUDIO_PIECE_SEGMENTS * SEGMENT_SECONDS * 48_000 / 1024) * 1024 / 48_000
    long.check_seamless(output, clips["a"], 25, [*joins(5, 25), audio_join])
    assert sorted(encodes) == sorted(("mp4", piece(m) or "") for m in queued)  # each piece once
    assert pro_account.conversions_this_month() == 2  # 62 s: two units, as in one piece
    assert leftovers(stack, pro_account, conversion_id) == []  # manifest and pieces deleted after the join


def test_duplicate_and_out_of_order_pieces_are_done_once(
    stack: Stack, pro_account: Account, clips: dict[str, Path], encodes: list[tuple[str, str]], tmp_path: Path
) -> None:
    queue = MediaQueue(stack.api)
    conversion_id, queued = start(pro_account, clips["b"], "webm", queue)
    shuffled = queued[::-1] + random.Random(7).sample(queued, len(queued))  # audio first, then all again
    for message in shuffled:
        assert queue.deliver(message)
    assert sorted(encodes) == sorted(("webm", piece(m) or "") for m in queued)  # a redelivery encodes nothing
    long.check_seamless(output_of(pro_account, conversion_id, tmp_path, "webm"), clips["b"], 24, joins(4, 24))
    assert pro_account.conversions_this_month() == 1


def _failing(monkeypatch: pytest.MonkeyPatch, name: str, times: int) -> Callable[[], int]:
    """Makes the encode of piece `name` fail `times` times; how many times it was tried."""
    tried = [0]
    real = segments.encode_piece

    def flaky(plan: segments.SegmentPlan, piece_name: str, url: str, **kwargs: Any) -> Path:
        if piece_name == name:
            tried[0] += 1
            if tried[0] <= times:
                raise RuntimeError("the segment's worker crashed")
        return real(plan, piece_name, url, **kwargs)

    monkeypatch.setattr(segments, "encode_piece", flaky)
    return lambda: tried[0]


def test_a_segment_that_fails_once_is_retried_alone(
    stack: Stack,
    pro_account: Account,
    clips: dict[str, Path],
    encodes: list[tuple[str, str]],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    tried = _failing(monkeypatch, "v0001", times=1)
    queue = MediaQueue(stack.api)
    conversion_id, queued = start(pro_account, clips["a"], "mp4", queue)
    retry = [m for m in queued if not queue.deliver(m)]
    assert [piece(m) for m in retry] == ["v0001"]  # only it failed, and only it comes back
    assert queue.deliver(retry[0])
    assert tried() == 2
    assert sorted(encodes) == sorted(("mp4", piece(m) or "") for m in queued)  # the others once each
    long.check_seamless(output_of(pro_account, conversion_id, tmp_path, "mp4"), clips["a"], 25, joins(5, 25))


def test_a_segment_that_always_fails_fails_the_job_uncharged_and_leaves_nothing(
    stack: Stack,
    pro_account: Account,
    clips: dict[str, Path],
    encodes: list[tuple[str, str]],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    _failing(monkeypatch, "v0002", times=1000)
    queue = MediaQueue(stack.api)
    conversion_id, queued = start(pro_account, clips["a"], "mp4", queue)
    broken = next(m for m in queued if piece(m) == "v0002")
    others = [m for m in queued if m is not broken]
    for message in others[:3]:
        assert queue.deliver(message)
    assert not queue.deliver(broken) and not queue.deliver(broken)  # the queue's maxReceiveCount is 2
    assert leftovers(stack, pro_account, conversion_id)  # the finished pieces are stored meanwhile
    queue.dead_letter(broken)  # SQS moves it to the dead-letter queue
    job = pro_account.call("GET", f"/v1/conversions/{conversion_id}").json()
    assert job["status"] == "failed" and job["error"]["code"] == "conversion_failed", job
    assert pro_account.conversions_this_month() == 0
    assert leftovers(stack, pro_account, conversion_id) == []
    done = len(encodes)
    for message in others[3:]:  # pieces still queued when it failed do no work
        assert queue.deliver(message)
    assert len(encodes) == done and leftovers(stack, pro_account, conversion_id) == []


def test_a_long_video_cut_short_fails_uncharged_never_a_shorter_output(
    stack: Stack, pro_account: Account, clips: dict[str, Path], tmp_path: Path
) -> None:
    # Its index (moov, at the front) declares 47 s; only the first 93 % of its media data arrived. Before, the
    # job ended succeeded with a shorter output.
    whole = tmp_path / "fast.mp4"
    long.ffmpeg("-i", str(clips["b"]), "-c", "copy", "-movflags", "+faststart", "-f", "mp4", str(whole))
    cut = tmp_path / "cut.mp4"
    cut.write_bytes(whole.read_bytes()[: int(whole.stat().st_size * 0.93)])
    queue = MediaQueue(stack.api)
    conversion_id, queued = start(pro_account, cut, "mp4", queue)
    for message in queued:
        if not queue.deliver(message) and not queue.deliver(message):  # the queue's maxReceiveCount is 2
            queue.dead_letter(message)
    job = pro_account.call("GET", f"/v1/conversions/{conversion_id}").json()
    assert job["status"] == "failed" and job["error"]["code"] == "conversion_failed", job
    assert pro_account.conversions_this_month() == 0


def test_two_long_jobs_at_once_keep_their_own_segments(
    stack: Stack, pro_account: Account, clips: dict[str, Path], tmp_path: Path
) -> None:
    queue = MediaQueue(stack.api)
    first, first_pieces = start(pro_account, clips["a"], "mp4", queue)
    second, second_pieces = start(pro_account, clips["b"], "mp4", queue)
    for message in random.Random(3).sample(first_pieces + second_pieces, len(first_pieces) + len(second_pieces)):
        assert queue.deliver(message)
    long.check_seamless(output_of(pro_account, first, tmp_path, "mp4"), clips["a"], 25, joins(5, 25))
    long.check_seamless(output_of(pro_account, second, tmp_path, "mp4"), clips["b"], 24, joins(4, 24))
