"""Server-rendered bar charts: the geometry here, the SVG in ``templates/_charts.html``.

No chart library and no script: a chart is a list of bars with their sizes in SVG user units,
drawn by a Jinja macro. Values are counts; every bar keeps its number as text beside it, so
the chart reads without colour or hover.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

ROW = 22  # height of one horizontal bar row
LABEL = 170  # width of the label column
WIDTH = 560  # total width of a horizontal chart
COLUMN_HEIGHT = 140  # plot height of a column chart


@dataclass(frozen=True, slots=True)
class Bar:
    label: str
    value: int
    x: float
    y: float
    width: float
    height: float
    href: str | None = None  # a search for what the bar counts


@dataclass(frozen=True, slots=True)
class Chart:
    title: str
    kind: str  # rows | columns
    bars: tuple[Bar, ...]
    width: float
    height: float
    label_width: float = LABEL
    empty: str = "nothing yet"

    @property
    def total(self) -> int:
        return sum(b.value for b in self.bars)


def rows(title: str, items: Sequence[tuple[str, int]], hrefs: Sequence[str | None] | None = None) -> Chart:
    """Horizontal bars, one row per item, longest = full width."""
    top = max((v for _, v in items), default=0) or 1
    plot = WIDTH - LABEL - 48  # room for the number after the bar
    bars = tuple(
        Bar(label, value, LABEL, i * ROW + 3, max(plot * value / top, 1.0 if value else 0.0), ROW - 6, _href(hrefs, i))
        for i, (label, value) in enumerate(items)
    )
    return Chart(title, "rows", bars, WIDTH, max(len(items), 1) * ROW)


def columns(title: str, items: Sequence[tuple[str, int]], hrefs: Sequence[str | None] | None = None) -> Chart:
    """Vertical columns left to right (a time line or a distribution), tallest = full height."""
    top = max((v for _, v in items), default=0) or 1
    n = max(len(items), 1)
    step = (WIDTH - 20) / n
    bars = tuple(
        Bar(
            label,
            value,
            10 + i * step + step * 0.1,
            20 + COLUMN_HEIGHT - COLUMN_HEIGHT * value / top,
            step * 0.8,
            COLUMN_HEIGHT * value / top,
            _href(hrefs, i),
        )
        for i, (label, value) in enumerate(items)
    )
    return Chart(title, "columns", bars, WIDTH, COLUMN_HEIGHT + 56, label_width=0)


def _href(hrefs: Sequence[str | None] | None, i: int) -> str | None:
    return hrefs[i] if hrefs is not None and i < len(hrefs) else None
