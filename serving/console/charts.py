"""Charts as inline SVG built on the server: no script, no style attribute (the page's content security
policy allows neither), every label escaped. Each chart has a ``<title>`` and ``role="img"``, and the
page shows the same figures in a table beside it for screen readers and copying.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from markupsafe import Markup, escape

LABEL_WIDTH = 150
BAR_WIDTH = 300
VALUE_WIDTH = 110
ROW_HEIGHT = 22
COLUMN_HEIGHT = 120


def bar_chart(title: str, labels: Sequence[str], values: Sequence[float], shown: Callable[[float], str],
              highlight: str | None = None) -> Markup:
    """Horizontal bars, one per label, scaled to the largest value; ``shown`` writes each value's text.
    The bar of ``highlight`` (a label) gets the accent class."""
    top = max([v for v in values if v == v and v > 0] or [1.0])
    height = ROW_HEIGHT * len(labels) + 6
    width = LABEL_WIDTH + BAR_WIDTH + VALUE_WIDTH
    parts = [f'<svg class="chart" viewBox="0 0 {width} {height}" width="{width}" height="{height}" role="img" '
             f'aria-label="{escape(title)}" xmlns="http://www.w3.org/2000/svg"><title>{escape(title)}</title>']
    for row, (label, value) in enumerate(zip(labels, values)):
        y = row * ROW_HEIGHT + 3
        length = 0.0 if value != value or value <= 0 else BAR_WIDTH * value / top
        accent = " accent" if label == highlight else ""
        parts.append(
            f'<text class="label" x="{LABEL_WIDTH - 6}" y="{y + 15}" text-anchor="end">{escape(label)}</text>'
            f'<rect class="bar{accent}" x="{LABEL_WIDTH}" y="{y + 2}" width="{length:.1f}" height="{ROW_HEIGHT - 6}"/>'
            f'<text class="value" x="{LABEL_WIDTH + length + 4:.1f}" y="{y + 15}">{escape(shown(value))}</text>'
        )
    parts.append("</svg>")
    return Markup("".join(parts))


def column_chart(title: str, labels: Sequence[str], values: Sequence[float], shown: Callable[[float], str]) -> Markup:
    """Vertical columns over time (a purchase timeline): label under every column, value as a tooltip."""
    top = max([v for v in values if v == v and v > 0] or [1.0])
    step = 46
    width, height = step * len(labels) + 10, COLUMN_HEIGHT + 34
    parts = [f'<svg class="chart" viewBox="0 0 {width} {height}" width="{width}" height="{height}" role="img" '
             f'aria-label="{escape(title)}" xmlns="http://www.w3.org/2000/svg"><title>{escape(title)}</title>']
    for column, (label, value) in enumerate(zip(labels, values)):
        x = column * step + 8
        bar = 0.0 if value != value or value <= 0 else COLUMN_HEIGHT * value / top
        parts.append(
            f'<rect class="bar" x="{x}" y="{COLUMN_HEIGHT - bar + 4:.1f}" width="{step - 8}" height="{bar:.1f}">'
            f'<title>{escape(label)}: {escape(shown(value))}</title></rect>'
            f'<text class="tick" x="{x + (step - 8) / 2}" y="{COLUMN_HEIGHT + 20}" text-anchor="middle">{escape(label)}</text>'
        )
    parts.append("</svg>")
    return Markup("".join(parts))
