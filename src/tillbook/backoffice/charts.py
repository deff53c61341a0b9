"""Server-rendered SVG charts: no JavaScript, readable by screen readers, printable."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

from django.utils.html import escape, format_html
from django.utils.safestring import SafeString, mark_safe

from tillbook.core.money import Money

WIDTH, HEIGHT = 720, 240
LEFT, RIGHT, TOP, BOTTOM = 64, 12, 12, 28


@dataclass(frozen=True)
class Series:
    label: str
    values: Sequence[int]  # minor units, one per day
    css_class: str


def _nice_ceiling(value: int) -> int:
    if value <= 0:
        return 100
    magnitude = 10 ** (len(str(value)) - 1)
    for step in (1, 2, 5, 10):
        if value <= step * magnitude:
            return step * magnitude
    return 10 * magnitude


def line_chart(
    *, days: Sequence[date], series: Sequence[Series], currency: str, title: str
) -> SafeString:
    """A line per series over the days, with a labelled money axis."""
    if not days:
        return SafeString("")
    low = min(0, *(min(s.values) for s in series))
    high = _nice_ceiling(max(1, *(max(s.values) for s in series)))
    span = high - low or 1
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    step = plot_w / max(1, len(days) - 1)

    # Coordinates are formatted here: format_html escapes its arguments into strings.
    def x(index: int) -> str:
        return f"{LEFT + index * step:.1f}"

    def y(value: int) -> str:
        return f"{TOP + plot_h * (high - value) / span:.1f}"

    parts = [
        format_html(
            '<svg class="chart" viewBox="0 0 {} {}" role="img" aria-labelledby="chart-title">'
            '<title id="chart-title">{}</title>',
            WIDTH,
            HEIGHT,
            title,
        )
    ]
    for tick in (low, low + span // 2, high):
        label = Money(tick, currency).format()
        parts.append(
            format_html(
                '<line class="grid" x1="{}" x2="{}" y1="{}" y2="{}"/>'
                '<text class="axis" x="{}" y="{}" text-anchor="end">{}</text>',
                LEFT,
                WIDTH - RIGHT,
                y(tick),
                y(tick),
                LEFT - 6,
                f"{float(y(tick)) + 4:.1f}",
                label,
            )
        )
    last = len(days) - 1
    for index in sorted({0, len(days) // 2, last}):
        # The first day's label starts at the axis and the last one's ends at the plot's edge:
        # centred there, "Nov 28" ran past the chart's right edge and lost its last digit.
        anchor = "start" if index == 0 else "end" if index == last else "middle"
        parts.append(
            format_html(
                '<text class="axis" x="{}" y="{}" text-anchor="{}">{}</text>',
                x(index),
                HEIGHT - 8,
                anchor,
                days[index].strftime("%b %-d"),
            )
        )
    for item in series:
        points = " ".join(f"{x(i)},{y(v)}" for i, v in enumerate(item.values))
        parts.append(
            format_html(
                '<polyline class="{}" points="{}"><title>{}</title></polyline>',
                item.css_class,
                points,
                item.label,
            )
        )
    parts.append(mark_safe("</svg>"))
    return SafeString("".join(str(part) for part in parts))


def legend(series: Sequence[Series]) -> SafeString:
    items = "".join(
        f'<span class="key {escape(s.css_class)}">{escape(s.label)}</span>' for s in series
    )
    return mark_safe(f'<p class="legend">{items}</p>')
