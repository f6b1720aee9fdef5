"""Charts drawn on the server as SVG: they need no script (the CSP allows none inline) and read the same
with JavaScript off. Colours come from the stylesheet (classes), sizes from SVG attributes, never style=."""

from __future__ import annotations

from collections.abc import Sequence

from markupsafe import Markup, escape

WIDTH = 720
HEIGHT = 180
TOP = 16
BOTTOM = 28
LEFT = 40


def bar_chart(points: Sequence[tuple[str, int]], *, title: str, chart_id: str) -> Markup:
    """One bar per point (label, value), labelled for screen readers (title + a summary) and per bar."""
    count = len(points)
    total = sum(value for _, value in points)
    peak = max((value for _, value in points), default=0)
    scale = max(peak, 1)
    inner_w, inner_h = WIDTH - LEFT - 8, HEIGHT - TOP - BOTTOM
    slot = inner_w / max(count, 1)
    bar_w = max(slot * 0.7, 1.0)
    busiest = max(points, key=lambda p: p[1]) if points and peak else None
    summary = f"{count} periods, {total} conversions in all" + (
        f"; the most, {peak}, on {busiest[0]}" if busiest else "; none yet"
    )
    parts = [
        f'<svg class="chart" viewBox="0 0 {WIDTH} {HEIGHT}" role="img" '
        f'aria-labelledby="{chart_id}-title {chart_id}-desc" preserveAspectRatio="xMinYMin meet">',
        f'<title id="{chart_id}-title">{escape(title)}</title>',
        f'<desc id="{chart_id}-desc">{escape(summary)}</desc>',
        f'<line class="axis" x1="{LEFT}" y1="{TOP + inner_h}" x2="{WIDTH - 8}" y2="{TOP + inner_h}"/>',
        f'<text class="tick" x="{LEFT - 6}" y="{TOP + 4}" text-anchor="end">{peak}</text>',
        f'<text class="tick" x="{LEFT - 6}" y="{TOP + inner_h}" text-anchor="end">0</text>',
    ]
    for index, (label, value) in enumerate(points):
        height = inner_h * value / scale
        x = LEFT + index * slot + (slot - bar_w) / 2
        y = TOP + inner_h - height
        parts.append(
            f'<rect class="bar" x="{x:.1f}" y="{y:.1f}" width="{bar_w:.1f}" height="{height:.1f}">'
            f"<title>{escape(label)}: {value}</title></rect>"
        )
    if points:
        baseline = TOP + inner_h + 18
        parts.append(f'<text class="tick" x="{LEFT}" y="{baseline}">{escape(points[0][0])}</text>')
        parts.append(
            f'<text class="tick" x="{WIDTH - 8}" y="{baseline}" text-anchor="end">{escape(points[-1][0])}</text>'
        )
    parts.append("</svg>")
    return Markup("".join(parts))  # noqa: S704 - every value above is a number or escaped
