"""The local stack's event source threads (filegate_local.poller) and SQS pollers: an idle poller waits, a failing
one backs off, a queue is long-polled and keeps what Lambda keeps of a batch."""

import dataclasses
from threading import Event, Semaphore
from typing import Any
from unittest.mock import Mock

import pytest

from filegate_local import poller as poller_module
from filegate_local.poller import PollerThread, backoff_seconds
from filegate_local.sqs_poller import LONG_POLL_SECONDS, SqsPoller, sqs_record
from filegate_local.workers import Invocation
from tests.helpers.local_stack import template_model as model
from tests.helpers.sam_cli import sam_event

REGION = "us-east-1"


class Scripted(PollerThread):
    """Polls return what `results` says (an exception is raised); each poll is announced on `polled`."""

    def __init__(self, results: list[Any]) -> None:
        super().__init__("scripted", Event())
        self.results, self.polled, self.idle_asked = results, Semaphore(0), []

    def poll(self) -> bool:
        self.polled.release()
        if isinstance(result := self.results.pop(0) if self.results else False, Exception):
            raise result
        return bool(result)

    def idle_seconds(self, idle_polls: int) -> None:
        self.idle_asked.append(idle_polls)


def test_an_idle_poller_sleeps_until_woken_a_failing_one_backs_off_and_stopping_ends_it(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    assert [backoff_seconds(n, 0.25, 2.0) for n in (1, 2, 3, 4, 5, 10**6)] == [0.25, 0.5, 1.0, 2.0, 2.0, 2.0]
    monkeypatch.setattr(poller_module, "ERROR_BACKOFF_FIRST_SECONDS", 0.0)
    poller = Scripted([RuntimeError("moto is down"), True, False, False])
    poller.start()
    for _ in range(3):  # failed (retried at once here), busy, then idle: it waits to be woken
        assert poller.polled.acquire(timeout=10)
    assert not poller.polled.acquire(timeout=0.3)  # no poll without a wake: it does not spin
    poller.wake()
    assert poller.polled.acquire(timeout=10)
    assert poller.idle_asked[:2] == [1, 2] and "scripted failed (1 in a row); retrying" in caplog.text
    poller.stop_event.set()
    poller.wake()
    poller.join(5)
    assert not poller.is_alive()


@pytest.mark.parametrize(
    ("status", "result", "deleted"),
    [
        ("ok", None, "123"),
        ("ok", {"batchItemFailures": []}, "123"),
        ("ok", {"batchItemFailures": [{"itemIdentifier": "m3"}, {"itemIdentifier": "m1"}]}, "2"),
        ("ok", {"batchItemFailures": [{"itemIdentifier": ""}]}, ""),  # an empty identifier: the whole batch failed
        ("ok", {"batchItemFailures": [{"itemIdentifier": "m9"}]}, ""),  # not in the batch
        ("ok", {"batchItemFailures": [{"id": "m1"}]}, ""),  # a bad key name
        ("ok", "not a partial batch response", ""),
        ("timeout", None, ""),  # a function error
    ],
)
def test_the_sqs_poller_long_polls_and_deletes_what_lambda_deletes(status: str, result: Any, deleted: str) -> None:
    sqs, pool = Mock(), Mock()
    pool.invoke.return_value = Invocation("r", status, result=result)
    messages = [{"MessageId": f"m{n}", "ReceiptHandle": f"r{n}", "Body": "{}"} for n in (1, 2, 3)]
    sqs.receive_message.side_effect = [{"Messages": messages}, {}]
    sqs.delete_message_batch.return_value = {}
    poller = SqsPoller(dataclasses.replace(model().sqs_mappings[0], batch_size=5), pool, sqs, REGION, Event())
    assert poller.poll() and poller.poll()  # the second poll finds nothing after a long poll: poll again at once
    for call in sqs.receive_message.call_args_list:
        assert call.kwargs["WaitTimeSeconds"] == LONG_POLL_SECONDS and call.kwargs["MaxNumberOfMessages"] == 5
    assert [r["messageId"] for r in pool.invoke.call_args.args[0]["Records"]] == ["m1", "m2", "m3"]
    entries = sqs.delete_message_batch.call_args.kwargs["Entries"] if deleted else []
    assert [entry["ReceiptHandle"] for entry in entries] == [f"r{n}" for n in deleted]


def test_sqs_records_have_the_shape_sam_generates() -> None:
    (sams,) = sam_event("sqs", "receive-message")["Records"]
    message = {"MessageId": "m", "ReceiptHandle": "r", "Body": "b", "MD5OfBody": "d", "Attributes": {"a": "1"}}
    ours = sqs_record(message, "arn:aws:sqs:us-east-1:123456789012:q", REGION)
    assert set(ours) == set(sams) and all(type(ours[k]) is type(v) for k, v in sams.items())
