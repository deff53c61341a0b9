"""The dashboard's server-rendered revenue chart."""

from __future__ import annotations

import re
from datetime import date, timedelta

from tillbook.backoffice.charts import Series, line_chart


def _day_labels(svg: str) -> list[tuple[str, str, str]]:
    """(x, anchor, text) of the day labels along the bottom."""
    return re.findall(r'<text class="axis" x="([\d.]+)" y="232" text-anchor="(\w+)">([^<]+)<', svg)


def test_the_first_and_last_days_are_labelled_inside_the_chart() -> None:
    days = [date(2026, 10, 30) + timedelta(days=n) for n in range(30)]
    svg = line_chart(
        days=days,
        series=[Series("Net revenue", [100 * n for n in range(30)], "net")],
        currency="USD",
        title="Revenue",
    )
    # From the axis (x 64) to the plot's right edge (x 708 of 720): the last label ends there
    # instead of being centred on it and cut off by the chart's edge.
    assert _day_labels(svg) == [
        ("64.0", "start", "Oct 30"),
        ("397.1", "middle", "Nov 14"),
        ("708.0", "end", "Nov 28"),
    ]


def test_a_single_day_has_one_label_from_the_axis() -> None:
    svg = line_chart(
        days=[date(2026, 11, 28)],
        series=[Series("Net revenue", [1250], "net")],
        currency="USD",
        title="Revenue",
    )
    assert _day_labels(svg) == [("64.0", "start", "Nov 28")]
