"""The local stack's event source threads (filegate_local.poller), Lambda's partial batch responses, and the
SQS pollers: an idle poller waits instead of spinning, a failing one backs off, queues are long-polled, and
what a batch leaves on its queue is what Lambda leaves."""

from __future__ import annotations

import dataclasses
import threading
from pathlib import Path
from typing import Any

import pytest

from filegate_local import poller as poller_module
from filegate_local.model import build_model
from filegate_local.poller import PollerThread, backoff_seconds, failed_ids
from filegate_local.sqs_poller import LONG_POLL_SECONDS, SqsPoller, sqs_record
from filegate_local.template import Template
from filegate_local.workers import Invocation
from tests.helpers.sam_cli import sam_event

ROOT = Path(__file__).resolve().parents[2]


def test_backoff_doubles_up_to_its_cap_for_ever() -> None:
    assert [backoff_seconds(n, 0.25, 2.0) for n in (1, 2, 3, 4, 5, 10**6)] == [0.25, 0.5, 1.0, 2.0, 2.0, 2.0]


class Scripted(PollerThread):
    """Polls return what `results` says (an exception is raised); each poll is announced on `polled`."""

    def __init__(self, results: list[Any]) -> None:
        super().__init__("scripted", threading.Event())
        self.results, self.polled, self.idle_asked = results, threading.Semaphore(0), []

    def poll(self) -> bool:
        result = self.results.pop(0) if self.results else False
        self.polled.release()
        if isinstance(result, Exception):
            raise result
        return bool(result)

    def idle_seconds(self, idle_polls: int) -> float | None:
        self.idle_asked.append(idle_polls)
        return None


def test_an_idle_poller_sleeps_until_woken_a_failing_one_backs_off_and_stopping_ends_it(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setattr(poller_module, "ERROR_BACKOFF_FIRST_SECONDS", 0.0)
    poller = Scripted([RuntimeError("moto is down"), True, False, False])
    poller.start()
    for _ in range(3):  # failed (retried at once here), busy, then idle: it waits to be woken
        assert poller.polled.acquire(timeout=10)
    assert not poller.polled.acquire(timeout=0.3)  # no poll without a wake: it does not spin
    poller.wake()
    assert poller.polled.acquire(timeout=10)
    assert poller.idle_asked[:2] == [1, 2]  # idle polls in a row are counted for the back-off
    assert "scripted failed (1 in a row); retrying" in caplog.text
    poller.stop_event.set()
    poller.wake()
    poller.join(5)
    assert not poller.is_alive()


def failures(*identifiers: Any) -> dict[str, Any]:
    return {"batchItemFailures": [{"itemIdentifier": i} for i in identifiers]}


@pytest.mark.parametrize(
    ("ok", "result", "failed"),
    [
        (True, None, ""),
        (True, {}, ""),
        (True, {"batchItemFailures": []}, ""),
        (True, {"batchItemFailures": None}, ""),
        (True, failures("c", "a"), "ac"),
        (True, failures(""), "abcd"),  # an empty identifier: the whole batch failed
        (True, failures(None), "abcd"),
        (True, failures({"a": 1}), "abcd"),
        (True, failures("z"), "abcd"),  # not in the batch
        (True, {"batchItemFailures": [{"id": "a"}]}, "abcd"),  # a bad key name
        (True, {"batchItemFailures": "a"}, "abcd"),
        (True, "not a response", "abcd"),
        (False, None, "abcd"),  # a function error
    ],
)
def test_the_records_lambda_counts_failed_after_an_invocation(ok: bool, result: Any, failed: str) -> None:
    assert failed_ids(ok, result, "abcd") == set(failed)


class FakeSqs:
    def __init__(self, messages: list[dict[str, Any]]) -> None:
        self.messages, self.requests, self.deleted = messages, [], []

    def receive_message(self, **request: Any) -> dict[str, Any]:
        self.requests.append(request)
        given, self.messages = self.messages[: request["MaxNumberOfMessages"]], []
        return {"Messages": given} if given else {}

    def delete_message_batch(self, QueueUrl: str, Entries: list[dict[str, str]]) -> dict[str, Any]:
        self.deleted += [entry["ReceiptHandle"] for entry in Entries]
        return {"Successful": Entries}


class FakePool:
    def __init__(self, invocation: Invocation) -> None:
        self.invocation, self.events = invocation, []

    def invoke(self, event: dict[str, Any]) -> Invocation:
        self.events.append(event)
        return self.invocation


@pytest.mark.parametrize(
    ("invocation", "deleted"),
    [
        (Invocation("r", "ok", result=None), ["r1", "r2", "r3"]),
        (Invocation("r", "ok", result=failures("m2")), ["r1", "r3"]),
        (Invocation("r", "ok", result=failures("")), []),
        (Invocation("r", "error", error={"errorMessage": "boom"}), []),
        (Invocation("r", "timeout"), []),
    ],
)
def test_the_sqs_poller_long_polls_and_deletes_what_lambda_deletes(invocation: Invocation, deleted: list[str]) -> None:
    mapping = next(m for m in build_model(Template(ROOT / "template.yaml", stack_name="st")).sqs_mappings)
    mapping = dataclasses.replace(mapping, batch_size=5)
    sqs = FakeSqs([{"MessageId": f"m{n}", "ReceiptHandle": f"r{n}", "Body": "{}"} for n in (1, 2, 3)])
    pool = FakePool(invocation)
    poller = SqsPoller(mapping, pool, sqs, "eu-west-1", threading.Event())  # type: ignore[arg-type]
    assert poller.poll() and poller.poll()  # the second poll finds nothing after a long poll: poll again at once
    assert [r["WaitTimeSeconds"] for r in sqs.requests] == [LONG_POLL_SECONDS] * 2
    assert sqs.requests[0]["MaxNumberOfMessages"] == 5
    ((event),) = pool.events
    assert [r["messageId"] for r in event["Records"]] == ["m1", "m2", "m3"] and sqs.deleted == deleted


def test_sqs_records_have_the_shape_sam_generates() -> None:
    (sams,) = sam_event("sqs", "receive-message")["Records"]
    message = {"MessageId": "m", "ReceiptHandle": "r", "Body": "b", "MD5OfBody": "d", "Attributes": {"a": "1"}}
    ours = sqs_record(message, "arn:aws:sqs:us-east-1:123456789012:q", "us-east-1")
    assert set(ours) == set(sams) and all(type(ours[k]) is type(v) for k, v in sams.items())
