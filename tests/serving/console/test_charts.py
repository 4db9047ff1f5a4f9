"""Server-rendered SVG charts."""

from __future__ import annotations

import re

from serving.console.charts import BAR_WIDTH, bar_chart, column_chart


def test_bars_scale_to_the_largest_value_and_labels_are_escaped() -> None:
    svg = str(bar_chart("Customers <b>", ["<script>x</script>", "b", "c"], [10.0, 5.0, float("nan")], str))
    widths = [float(w) for w in re.findall(r'class="bar[^"]*" x="\d+" y="[\d.]+" width="([\d.]+)"', svg)]
    assert widths == [BAR_WIDTH, BAR_WIDTH / 2, 0.0]
    assert "<script>" not in svg and "&lt;script&gt;" in svg and "Customers &lt;b&gt;" in svg
    assert 'role="img"' in svg and "style=" not in svg


def test_columns_carry_their_value_as_a_tooltip() -> None:
    svg = str(column_chart("Spend", ["Jan", "Feb"], [0.0, 4.0], lambda v: f"${v:.0f}"))
    assert "<title>Feb: $4</title>" in svg and svg.count("<rect") == 2
