from datetime import UTC, datetime

import pytest

from filegate import errors
from filegate.metering import usage


def test_month_ranges_cross_years():
    assert usage._months("2025-11", "2026-02") == ["2025-11", "2025-12", "2026-01", "2026-02"]


def test_days_stop_at_today():
    today = datetime(2026, 3, 3, tzinfo=UTC).date()
    assert usage._days("2026-03", today) == ["2026-03-01", "2026-03-02", "2026-03-03"]
    assert len(usage._days("2026-02", today)) == 28


@pytest.mark.parametrize(
    ("start", "end"),
    [("2026-13", None), ("26-01", None), ("2026-05", "2026-04"), ("2024-01", "2026-01"), ("0000-01", "0000-01")],
)
def test_bad_ranges_are_refused(start, end):
    with pytest.raises(errors.InvalidRequest):
        usage.report("acct", start, end, datetime(2026, 6, 1, tzinfo=UTC))
