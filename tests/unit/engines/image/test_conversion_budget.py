"""The sync budget's guards: the estimate from the header, and the forked run that is killed when it overruns."""

from __future__ import annotations

import os
import time

import pytest

from filegate.engines.image.budget import OverBudget, estimated_seconds, run_within
from filegate.engines.image.engine import convert
from filegate.errors import InvalidParameter
from tests.helpers import media_samples as fm


def test_run_within_returns_the_result_of_the_work() -> None:
    data = fm.sample("png", 64, 48)
    result = run_within(lambda: convert(data, "webp"), 20)
    assert result.format == "webp" and result.data[:4] == b"RIFF"


def test_run_within_stops_work_that_overruns() -> None:
    marker = f"/tmp/filegate-budget-{os.getpid()}"

    def slow() -> None:
        time.sleep(5)
        open(marker, "w").close()  # only reached if the child was not killed

    started = time.monotonic()
    with pytest.raises(OverBudget):
        run_within(slow, 0.3)
    assert time.monotonic() - started < 2
    time.sleep(5.2)
    assert not os.path.exists(marker)


def test_run_within_raises_what_the_work_raised() -> None:
    def refuse() -> None:
        raise InvalidParameter("page must be from 1 to 2 for this PDF.")

    with pytest.raises(InvalidParameter, match="page must be from 1 to 2"):
        run_within(refuse, 20)


def test_no_time_left_is_over_budget_at_once() -> None:
    with pytest.raises(OverBudget):
        run_within(lambda: 1, 0)


def test_estimate_grows_with_pixels_and_costly_targets() -> None:
    assert estimated_seconds("jpg", 200_000_000, "avif") > 21  # a 200 MP photo to AVIF goes on as a job
    assert estimated_seconds("jpg", 12_000_000, "jpg") < 2
    assert estimated_seconds("png", 12_000_000, None) > estimated_seconds("png", 12_000_000, "jpg")
