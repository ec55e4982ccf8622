"""Periods: ids, bounds, ordinals, and when a demurrage due date falls."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from gateway.core.periods import (
    month_boundaries_crossed,
    parse_period,
    period_containing,
)
from gateway.errors import ValidationError


def test_month_bounds_and_neighbours():
    november = parse_period("2026-11", "month")
    assert (november.start, november.end) == (date(2026, 11, 1), date(2026, 12, 1))
    assert november.next().id == "2026-12" and november.previous().id == "2026-10"
    assert parse_period("2026-12", "month").next().id == "2027-01"
    assert november.next().ordinal == november.ordinal + 1


def test_iso_weeks():
    week = period_containing(datetime(2026, 11, 24, 23, 59, tzinfo=UTC), "week")
    assert week.id == "2026-W48" and week.start == date(2026, 11, 23) and week.end == date(2026, 11, 30)
    assert parse_period("2026-W48", "week") == week
    assert parse_period("2026-W53", "week").id == "2026-W53"  # 2026 has 53 ISO weeks
    assert week.next().ordinal == week.ordinal + 1


@pytest.mark.parametrize("text, length", [("2026-13", "month"), ("2026-11", "week"), ("2025-W53", "week"), ("nov", "month")])
def test_bad_period_ids(text, length):
    with pytest.raises(ValidationError):
        parse_period(text, length)


def test_monthly_and_quarterly_due_dates():
    months = [parse_period(f"2026-{m:02d}", "month") for m in range(1, 13)]
    assert all(month_boundaries_crossed(p, 1) for p in months)
    assert [p.id for p in months if month_boundaries_crossed(p, 3)] == ["2026-03", "2026-06", "2026-09", "2026-12"]


def test_a_week_pays_when_a_due_date_falls_in_it():
    weeks = [period_containing(date(2026, 9, 1), "week")]
    while weeks[-1].end < date(2027, 1, 10):
        weeks.append(weeks[-1].next())
    monthly = [w.id for w in weeks if month_boundaries_crossed(w, 1)]
    assert monthly == ["2026-W36", "2026-W40", "2026-W44", "2026-W49", "2026-W53"]  # weeks holding Sep 1 ... Jan 1
    assert [w.id for w in weeks if month_boundaries_crossed(w, 3)] == ["2026-W40", "2026-W53"]
