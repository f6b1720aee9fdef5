"""Sign-in answers leave at the same time after their request whatever happened (docs/api.md §7), driven by a
fake clock: nothing here is timed."""

from __future__ import annotations

from collections.abc import Coroutine
from typing import Any

from filegate.dashboard.padding import Padding


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0
        self.slept: list[float] = []

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


def _run(step: Coroutine[Any, Any, None]) -> None:
    """Runs a coroutine that awaits only the fake sleep, without an event loop (asyncio.run would leave the
    thread without one for the tests after it)."""
    try:
        step.send(None)
    except StopIteration:
        return
    raise AssertionError("the padding waited on something other than its sleep")


def answer_after(work_seconds: float, floor: float = 1.0) -> tuple[float, list[float]]:
    """How long after its start an answer leaves when its work took `work_seconds`."""
    clock = FakeClock()
    padding = Padding(floor, clock=clock, sleep=clock.sleep)
    started = padding.start()
    clock.now += work_seconds
    _run(padding.wait(started))
    return clock.now - started, clock.slept


def test_every_answer_leaves_at_the_floor_whatever_its_work_took() -> None:
    # A limit held (fast), a code pending (an SES send), a wrong or right code (scrypt): one leaving time.
    for work in (0.0, 0.003, 0.05, 0.4, 0.999):
        left_after, _ = answer_after(work)
        assert left_after == 1.0


def test_work_past_the_floor_is_not_padded_further() -> None:
    left_after, slept = answer_after(1.7)
    assert left_after == 1.7 and slept == []


def test_a_zero_floor_never_sleeps() -> None:
    assert answer_after(0.2, floor=0.0) == (0.2, [])
