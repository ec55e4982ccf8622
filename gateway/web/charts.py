"""Charts drawn on the server as SVG, with no script: horizontal bars, one a row, from a template (``_charts.html``).

Each chart has a ``<title>`` and a ``<desc>`` that name it to a screen
reader, and the template puts its numbers beside it as a table, so that a
reader who cannot see the bars (or a browser without SVG) has them all.
Geometry is computed here in whole SVG units; the template only places it.
Colours come from the stylesheet (CSP allows no inline style).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

WIDTH = 600  # SVG units; the stylesheet scales the drawing to its box
ROW = 30  # the height of a row
LABEL = 200  # the width of the labels' column
VALUE = 110  # the width of the values' column
LABEL_CHARS = 26  # longer labels are cut in the drawing (the table has them whole)


@dataclass(frozen=True)
class Bar:
    label: str  # whole, as the table shows it
    short: str  # as the drawing shows it
    value: str  # the amount, written for the reader
    y: int
    width: int  # of the bar, in SVG units (at least 1 for any amount above zero)


@dataclass(frozen=True)
class Chart:
    id: str  # unique on its page: the ids of its title and description derive from it
    title: str
    description: str
    bars: tuple[Bar, ...]
    heading: tuple[str, str]  # the table's column headings: what a row is, and what its number is
    width: int = WIDTH
    bar_x: int = LABEL
    value_x: int = WIDTH - VALUE + 8

    @property
    def height(self) -> int:
        return max(1, len(self.bars)) * ROW

    @property
    def bar_height(self) -> int:
        return ROW - 10


def bar_chart(
    chart_id: str,
    title: str,
    description: str,
    rows: Sequence[tuple[str, int]],
    written: Callable[[int], str],
    heading: tuple[str, str],
) -> Chart:
    """A chart of ``rows`` (label, amount in minor units), its bars proportional to the largest amount.

    ``written`` writes an amount for the reader (``fmt.money`` with the currency bound).
    """
    largest = max((amount for _, amount in rows), default=0)
    span = WIDTH - LABEL - VALUE
    bars = tuple(
        Bar(
            label=label,
            short=label if len(label) <= LABEL_CHARS else label[: LABEL_CHARS - 1] + "…",
            value=written(amount),
            y=index * ROW,
            width=max(1, amount * span // largest) if amount > 0 and largest > 0 else 0,
        )
        for index, (label, amount) in enumerate(rows)
    )
    return Chart(chart_id, title, description, bars, heading)
