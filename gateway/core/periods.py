"""Periods: the month (by default) or ISO week over which budgets are split.

A period is named by its id (``2026-11`` or ``2026-W48``), runs from its
``start`` (inclusive) to its ``end`` (exclusive), both UTC midnights, and has
an ``ordinal`` that counts periods, used to rotate who gets a leftover cent.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from gateway.config import PeriodLength
from gateway.errors import ValidationError


@dataclass(frozen=True, order=True)
class Period:
    start: date
    end: date
    length: PeriodLength

    @property
    def id(self) -> str:
        if self.length == "month":
            return f"{self.start.year:04d}-{self.start.month:02d}"
        year, week, _ = self.start.isocalendar()
        return f"{year:04d}-W{week:02d}"

    @property
    def ordinal(self) -> int:
        if self.length == "month":
            return self.start.year * 12 + self.start.month - 1
        return self.start.toordinal() // 7

    @property
    def ends_at(self) -> datetime:
        return datetime(self.end.year, self.end.month, self.end.day, tzinfo=UTC)

    def next(self) -> Period:
        return period_containing(self.ends_at, self.length)

    def previous(self) -> Period:
        return period_containing(
            datetime(self.start.year, self.start.month, self.start.day, tzinfo=UTC) - timedelta(days=1), self.length
        )

    def __str__(self) -> str:
        return self.id


def period_containing(moment: datetime | date, length: PeriodLength) -> Period:
    day = moment.astimezone(UTC).date() if isinstance(moment, datetime) else moment
    if length == "month":
        start = day.replace(day=1)
        end = date(start.year + start.month // 12, start.month % 12 + 1, 1)
        return Period(start, end, length)
    start = day - timedelta(days=day.weekday())
    return Period(start, start + timedelta(days=7), length)


def parse_period(text: str, length: PeriodLength) -> Period:
    """Read a period id; a weekly deployment takes ``2026-W48``, a monthly one ``2026-11``.

    Years run from 1970 to 9998, so that a period's neighbours are dates too.
    """
    if length == "month":
        match = re.fullmatch(r"([0-9]{4})-([0-9]{2})", text)
        if match and 1 <= int(match.group(2)) <= 12 and 1970 <= int(match.group(1)) <= 9998:
            return period_containing(date(int(match.group(1)), int(match.group(2)), 1), length)
        raise ValidationError(f"{text!r} is not a month period (write it like 2026-11)")
    match = re.fullmatch(r"([0-9]{4})-W([0-9]{2})", text)
    if match and 1970 <= int(match.group(1)) <= 9998:
        try:
            return period_containing(date.fromisocalendar(int(match.group(1)), int(match.group(2)), 1), length)
        except ValueError:
            pass
    raise ValidationError(f"{text!r} is not a week period (write it like 2026-W48)")


def month_boundaries_crossed(period: Period, every_months: int) -> bool:
    """Whether a due date of something charged every ``every_months`` months falls at this period's close.

    Due dates are the first days of months whose number since year 0 is a
    multiple of ``every_months``: each month for 1, each quarter (Jan, Apr,
    Jul, Oct) for 3. The period whose end reaches a due date pays it.
    """
    first_of_month = period.end.replace(day=1)  # the latest first-of-month up to the period's end
    if not period.start < first_of_month <= period.end:
        return False
    return (first_of_month.year * 12 + first_of_month.month - 1) % every_months == 0
