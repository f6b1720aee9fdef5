"""Charts drawn on the server as SVG: they need no script (the CSP allows none inline) and read the same
with JavaScript off. Colours come from the stylesheet (classes), sizes from SVG attributes, never style=.

Every chart has a y axis with round ticks and gridlines, dates under the x axis (as many as fit), a
``<title>`` tooltip on every bar, a text summary for screen readers, and says so in words when it has
nothing to show. Bars keep a sensible width whatever the number of periods: one day is one slim bar.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final

from markupsafe import Markup, escape

WIDTH: Final = 640
HEIGHT: Final = 220
TOP: Final = 14
BOTTOM: Final = 34
LEFT: Final = 52
RIGHT: Final = 10
MAX_BAR: Final = 36.0  # the widest a bar gets, so a short range never draws blocks
MAX_X_LABELS: Final = 6  # dates under the axis: few enough to read on a phone
Y_TICKS: Final = 4


@dataclass(frozen=True)
class Series:
    """One stacked part of each bar: its field, its name in the legend and tooltips, its CSS class."""

    field: str
    label: str
    css: str


@dataclass(frozen=True)
class Period:
    """One bar: ``label`` in full (tooltips), ``short`` under the axis, a value per series."""

    label: str
    short: str
    values: dict[str, int]

    @property
    def total(self) -> int:
        return sum(self.values.values())


def nice_ticks(peak: int, count: int = Y_TICKS) -> list[int]:
    """Round tick values from 0 to at least ``peak`` (1, 2 or 5 times a power of ten apart)."""
    if peak <= 0:
        return [0, 1]
    raw = peak / count
    power = 10 ** math.floor(math.log10(raw)) if raw >= 1 else 1
    step = next(m * power for m in (1, 2, 5, 10) if m * power >= raw)
    step = max(int(step), 1)
    return list(range(0, step * math.ceil(peak / step) + 1, step))


def label_every(count: int, most: int = MAX_X_LABELS) -> int:
    """Label one period in this many, so at most ``most`` labels share the axis."""
    return max(1, math.ceil(count / most))


def _svg_open(chart_id: str, title: str, summary: str) -> list[str]:
    return [
        f'<svg class="chart" viewBox="0 0 {WIDTH} {HEIGHT}" role="img" '
        f'aria-labelledby="{chart_id}-title {chart_id}-desc" preserveAspectRatio="xMinYMin meet">',
        f'<title id="{chart_id}-title">{escape(title)}</title>',
        f'<desc id="{chart_id}-desc">{escape(summary)}</desc>',
    ]


def _y_axis(ticks: list[int], inner_h: float) -> list[str]:
    top = ticks[-1]
    parts = []
    for value in ticks:
        y = TOP + inner_h - inner_h * value / top
        parts.append(f'<line class="grid" x1="{LEFT}" y1="{y:.1f}" x2="{WIDTH - RIGHT}" y2="{y:.1f}"/>')
        parts.append(f'<text class="tick" x="{LEFT - 6}" y="{y + 4:.1f}" text-anchor="end">{value:,}</text>')
    parts.append(f'<line class="axis" x1="{LEFT}" y1="{TOP}" x2="{LEFT}" y2="{TOP + inner_h}"/>')
    parts.append(f'<line class="axis" x1="{LEFT}" y1="{TOP + inner_h}" x2="{WIDTH - RIGHT}" y2="{TOP + inner_h}"/>')
    return parts


def stacked_bar_chart(
    periods: Sequence[Period], series: Sequence[Series], *, title: str, chart_id: str, unit: str, empty: str
) -> Markup:
    """One bar per period, stacked by series; ``empty`` is the sentence shown when every value is zero."""
    count = len(periods)
    totals = [p.total for p in periods]
    total, peak = sum(totals), max(totals, default=0)
    inner_w, inner_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    slot = inner_w / max(count, 1)
    bar_w = min(max(slot * 0.7, 1.0), MAX_BAR)
    ticks = nice_ticks(peak)
    if total:
        busiest = periods[totals.index(peak)]
        summary = f"{count} periods, {total:,} {unit} in all; the most, {peak:,}, in {busiest.label}."
    else:
        summary = f"{count} periods: {empty}"
    parts = _svg_open(chart_id, title, summary) + _y_axis(ticks, inner_h)
    every = label_every(count)
    for index, period in enumerate(periods):
        x = LEFT + index * slot + (slot - bar_w) / 2
        bottom = float(TOP + inner_h)
        tooltip = f"{period.label}: {period.total:,} {unit}" + "".join(
            f", {s.label} {period.values.get(s.field, 0):,}" for s in series if len(series) > 1
        )
        rects = []
        for part in series:
            value = period.values.get(part.field, 0)
            if not value:
                continue
            height = inner_h * value / ticks[-1]
            bottom -= height
            rects.append(
                f'<rect class="bar {part.css}" x="{x:.1f}" y="{bottom:.1f}" width="{bar_w:.1f}" height="{height:.1f}"/>'
            )
        # The tooltip sits on a column as tall as the chart, so even a zero bar has one to hover.
        parts.append(
            f'<g class="period"><title>{escape(tooltip)}</title>'
            f'<rect class="hit" x="{LEFT + index * slot:.1f}" y="{TOP}" width="{slot:.1f}" height="{inner_h:.1f}"/>'
            + "".join(rects)
            + "</g>"
        )
        if index % every == 0:
            centre = x + bar_w / 2
            parts.append(
                f'<text class="tick" x="{centre:.1f}" y="{TOP + inner_h + 20}" text-anchor="middle">'
                f"{escape(period.short)}</text>"
            )
    if not total:
        parts.append(
            f'<text class="empty" x="{LEFT + inner_w / 2:.1f}" y="{TOP + inner_h / 2:.1f}" text-anchor="middle">'
            f"{escape(empty)}</text>"
        )
    parts.append("</svg>")
    return Markup("".join(parts))  # noqa: S704 - every value above is a number or escaped


CONVERSIONS: Final = (Series("conversions", "conversions", "s-conv"),)


def bar_chart(periods: Sequence[Period], *, title: str, chart_id: str, empty: str) -> Markup:
    """Conversions per period (one series)."""
    return stacked_bar_chart(periods, CONVERSIONS, title=title, chart_id=chart_id, unit="conversions", empty=empty)


def sparkline(values: Sequence[int], *, label: str) -> Markup:
    """A small chart of a few values (a key's requests per day), for a table cell; ``label`` says it in words."""
    width, height, gap = 84, 24, 2
    peak = max(values, default=0) or 1
    slot = width / max(len(values), 1)
    parts = [
        f'<svg class="spark" viewBox="0 0 {width} {height}" width="{width}" height="{height}" role="img" '
        f'aria-label="{escape(label)}">',
        f'<line class="axis" x1="0" y1="{height - 0.5}" x2="{width}" y2="{height - 0.5}"/>',
    ]
    for index, value in enumerate(values):
        bar = (height - 2) * value / peak
        parts.append(
            f'<rect class="bar" x="{index * slot + gap / 2:.1f}" y="{height - 1 - bar:.1f}" '
            f'width="{max(slot - gap, 1):.1f}" height="{bar:.1f}"/>'
        )
    parts.append("</svg>")
    return Markup("".join(parts))  # noqa: S704 - numbers and an escaped label
