"""The local stack's event source threads (filegate_local.poller) and how a worker is killed with what it
started (filegate_local.process_tree): an idle poller waits instead of spinning, a failing one backs off,
stopping ends every wait, SQS pollers long-poll, and no grandchild outlives a killed worker."""

from __future__ import annotations

import os
import signal
import subprocess
import threading
import time
from typing import Any

import pytest

from filegate_local import poller as poller_module
from filegate_local.model import SqsMappingSpec
from filegate_local.poller import PollerThread, backoff_seconds
from filegate_local.process_tree import kill_trees
from filegate_local.sqs_poller import LONG_POLL_SECONDS, SqsPoller


def test_backoff_doubles_up_to_its_cap() -> None:
    assert [backoff_seconds(n, 0.25, 2.0) for n in range(1, 6)] == [0.25, 0.5, 1.0, 2.0, 2.0]


class Scripted(PollerThread):
    """Polls return what `results` says (an exception is raised); each poll is announced on `polled`."""

    def __init__(self, results: list[Any], idle: float | None, stop: threading.Event) -> None:
        super().__init__("scripted", stop)
        self.results, self.idle, self.polls = results, idle, 0
        self.polled = threading.Semaphore(0)
        self.idle_asked: list[int] = []

    def poll_once(self) -> bool:
        self.polls += 1
        result = self.results.pop(0) if self.results else False
        self.polled.release()
        if isinstance(result, Exception):
            raise result
        return bool(result)

    def idle_seconds(self, idle_polls: int) -> float | None:
        self.idle_asked.append(idle_polls)
        return self.idle


def test_an_idle_poller_sleeps_until_woken_and_stopping_ends_the_wait() -> None:
    stop = threading.Event()
    poller = Scripted([True, False, False], idle=None, stop=stop)
    poller.start()
    for _ in range(2):  # busy, then idle: after an idle poll it waits to be woken
        assert poller.polled.acquire(timeout=10)
    assert not poller.polled.acquire(timeout=0.3)  # no third poll without a wake: it does not spin
    poller.wake()
    assert poller.polled.acquire(timeout=10)
    assert poller.idle_asked[:2] == [1, 2]  # idle polls in a row are counted for the back-off
    stop.set()
    poller.wake()
    poller.join(5)
    assert not poller.thread.is_alive()


def test_a_failing_poll_is_logged_and_retried_after_a_back_off(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setattr(poller_module, "ERROR_BACKOFF_FIRST_SECONDS", 0.0)
    stop = threading.Event()
    poller = Scripted([RuntimeError("moto is down"), True], idle=None, stop=stop)
    poller.start()
    assert poller.polled.acquire(timeout=10) and poller.polled.acquire(timeout=10)
    stop.set()
    poller.wake()
    poller.join(5)
    assert "scripted failed (1 in a row); retrying" in caplog.text


class FakeSqs:
    def __init__(self, answers: list[list[dict[str, Any]]]) -> None:
        self.answers = answers
        self.waits: list[int] = []

    def receive_message(self, **request: Any) -> dict[str, Any]:
        self.waits.append(request["WaitTimeSeconds"])
        return {"Messages": self.answers.pop(0) if self.answers else []}


def _sqs_poller(window: float, answers: list[list[dict[str, Any]]]) -> tuple[SqsPoller, FakeSqs]:
    mapping = SqsMappingSpec(
        function="Fn",
        event="Jobs",
        queue="Q",
        queue_url="http://127.0.0.1:1/q",
        queue_arn="arn:aws:sqs:us-east-1:123456789012:q",
        batch_size=10,
        batching_window_seconds=window,
        report_batch_item_failures=False,
        maximum_concurrency=None,
    )
    poller = SqsPoller(mapping, pool=None, endpoint="http://127.0.0.1:1", region="us-east-1", stop=threading.Event())  # type: ignore[arg-type]
    fake = FakeSqs(answers)
    poller.sqs = fake
    return poller, fake


def _message(n: int) -> dict[str, Any]:
    return {"MessageId": str(n), "ReceiptHandle": f"r{n}", "Body": "{}"}


def test_an_idle_queue_is_long_polled() -> None:
    poller, fake = _sqs_poller(0.0, [])
    assert poller._receive_batch() == []
    assert fake.waits == [LONG_POLL_SECONDS]  # one request for 20 s of nothing


def test_a_batch_is_given_at_once_without_a_window_and_gathered_within_one() -> None:
    poller, fake = _sqs_poller(0.0, [[_message(1)]])
    assert len(poller._receive_batch()) == 1 and fake.waits == [LONG_POLL_SECONDS]
    poller, fake = _sqs_poller(3.0, [[_message(1)], [_message(2)], []])
    assert len(poller._receive_batch()) == 2
    assert fake.waits[0] == LONG_POLL_SECONDS and all(0 < wait <= 3 for wait in fake.waits[1:])


def test_killing_a_tree_takes_grandchildren_in_sessions_of_their_own() -> None:
    """As a function's LibreOffice or FFmpeg: started in a session of its own under the worker."""
    worker = subprocess.Popen(
        ["sh", "-c", "setsid sleep 300 & echo $!; exec sleep 300"],
        stdout=subprocess.PIPE,
        start_new_session=True,
    )
    assert worker.stdout is not None
    grandchild = int(worker.stdout.readline())
    try:
        killed = kill_trees([worker.pid])
        assert worker.pid in killed and grandchild in killed
        assert worker.wait(timeout=5) == -signal.SIGKILL
        deadline = time.monotonic() + 5
        while _alive(grandchild) and time.monotonic() < deadline:
            time.sleep(0.01)  # init reaps it: wait for that, not for a guess
        assert not _alive(grandchild)
    finally:
        for pid in (worker.pid, grandchild):
            if _alive(pid):
                os.kill(pid, signal.SIGKILL)


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().rsplit(")", 1)[1].split()[0] != "Z"
    except FileNotFoundError:
        return False
