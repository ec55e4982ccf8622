"""Printing for people: tables, and money written the currency's own way."""

from __future__ import annotations

from collections.abc import Sequence

from moneyed import Money

from currencies import CurrencyRegistry


def money_text(currencies: CurrencyRegistry, money: Money) -> str:
    unit = currencies.get(money.currency.code)
    return unit.format(unit.to_minor(money))


def table(headers: Sequence[str], rows: Sequence[Sequence[object]], indent: str = "  ") -> str:
    cells = [[str(h) for h in headers]] + [[str(c) for c in row] for row in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(headers))]
    lines = []
    for n, row in enumerate(cells):
        lines.append(indent + "  ".join(cell.ljust(width) for cell, width in zip(row, widths)).rstrip())
        if n == 0:
            lines.append(indent + "  ".join("-" * width for width in widths))
    return "\n".join(lines)
