"""The dashboard's charts (issue 26): round ticks and gridlines, dates that fit, bars of a sane width for any
range, a tooltip on every period, words when there is nothing to show, and periods that cover every day."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime

import pytest

from filegate.dashboard import charts, periods


def _days(values: list[int]) -> list[charts.Period]:
    first = date(2026, 11, 1)
    days = periods.days_between(first, date(2026, 11, len(values)))
    return periods.conversion_days({d.isoformat(): v for d, v in zip(days, values, strict=True)}, days)


def _widths(svg: str) -> list[float]:
    return [float(w) for w in re.findall(r'<rect class="bar [^"]*" x="[^"]*" y="[^"]*" width="([^"]*)"', svg)]


@pytest.mark.parametrize(
    ("peak", "ticks"),
    [(0, [0, 1]), (1, [0, 1]), (3, [0, 1, 2, 3]), (7, [0, 2, 4, 6, 8]), (10, [0, 5, 10]), (999, [0, 500, 1000])],
)
def test_y_ticks_are_round_and_reach_the_peak(peak: int, ticks: list[int]) -> None:
    assert charts.nice_ticks(peak) == ticks


def test_every_tick_has_a_gridline_and_a_label() -> None:
    svg = str(charts.bar_chart(_days([0, 7, 3]), title="t", chart_id="c", empty="none"))
    assert svg.count('class="grid"') == 5 and all(f">{v}</text>" in svg for v in (0, 2, 4, 6, 8))


def test_one_day_is_one_slim_bar_not_a_block_across_the_chart() -> None:
    svg = str(charts.bar_chart(_days([5]), title="t", chart_id="c", empty="none"))
    assert _widths(svg) == [charts.MAX_BAR]
    many = str(charts.bar_chart(_days([1] * 30), title="t", chart_id="c", empty="none"))
    widths = _widths(many)
    assert len(widths) == 30 and all(0 < w < charts.MAX_BAR for w in widths)


def test_dates_under_the_axis_are_few_enough_to_read_and_start_at_the_first_day() -> None:
    svg = str(charts.bar_chart(_days([1] * 30), title="t", chart_id="c", empty="none"))
    labels = re.findall(r'text-anchor="middle">([^<]+)</text>', svg)
    assert labels[0] == "1 Nov" and len(labels) <= charts.MAX_X_LABELS


def test_every_period_has_a_tooltip_even_an_empty_one() -> None:
    svg = str(charts.bar_chart(_days([0, 2]), title="t", chart_id="c", empty="none"))
    assert "<title>2026-11-01: 0 conversions</title>" in svg and "<title>2026-11-02: 2 conversions</title>" in svg


def test_an_empty_chart_says_so_in_words_and_draws_no_zero_over_zero_axis() -> None:
    svg = str(charts.bar_chart(_days([0] * 30), title="t", chart_id="c", empty="No conversions yet."))
    assert ">No conversions yet.</text>" in svg and "30 periods: No conversions yet." in svg
    assert ">0</text>" in svg and ">1</text>" in svg and _widths(svg) == []


def test_stacked_outcomes_add_up_and_the_tooltip_names_each() -> None:
    bucket = {"start": "2026-12-07T06:00:00Z", "succeeded": 3, "client_errors": 1, "refused": 0,
              "rate_limited": 2, "quota_exceeded": 0}  # fmt: skip
    shown = periods.activity_periods([bucket], "hour")
    svg = str(charts.stacked_bar_chart(shown, periods.OUTCOME_SERIES, title="t", chart_id="a", unit="requests",
                                       empty="none"))  # fmt: skip
    assert svg.count('<rect class="bar') == 3  # one part per outcome that happened
    assert "2026-12-07 06:00 UTC: 6 requests, succeeded 3, client errors 1, refused (401/403) 0" in svg
    assert ">06:00</text>" in svg


def test_a_sparkline_is_labelled_in_words() -> None:
    svg = str(charts.sparkline([0, 1, 4], label="5 requests <in> 7 days"))
    assert 'aria-label="5 requests &lt;in&gt; 7 days"' in svg and svg.count('class="bar"') == 3


def test_usage_periods_cover_every_day_of_the_range() -> None:
    days = periods.days_between(date(2026, 11, 28), date(2026, 12, 2))
    shown = periods.conversion_days({"2026-11-30": 4}, days)
    assert [p.short for p in shown] == ["28 Nov", "29 Nov", "30 Nov", "1 Dec", "2 Dec"]
    assert [p.total for p in shown] == [0, 0, 4, 0, 0]


def test_days_of_activity_are_labelled_by_date() -> None:
    shown = periods.activity_periods([{"start": datetime(2026, 12, 7, tzinfo=UTC).isoformat()}], "day")
    assert (shown[0].label, shown[0].short, shown[0].total) == ("2026-12-07", "7 Dec", 0)


@pytest.mark.parametrize(
    ("size", "shown"), [(None, "—"), (0, "0 B"), (999, "999 B"), (1841, "1.8 kB"), (5_300_000, "5.3 MB")]
)
def test_sizes_read_as_people_write_them(size: int | None, shown: str) -> None:
    from filegate.dashboard.conversion_rows import human_bytes

    assert human_bytes(size) == shown


def test_durations_read_as_people_write_them() -> None:
    from filegate.dashboard.conversion_rows import human_duration

    start = datetime(2026, 12, 7, 6, 0, tzinfo=UTC)
    assert human_duration(start, start.replace(second=2, microsecond=500_000)) == "2.5 s"
    assert human_duration(start, start.replace(minute=3, second=4)) == "3 min 4 s"
    assert human_duration(start, None) == "—"
