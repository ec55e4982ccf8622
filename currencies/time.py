"""Time-bank hours, counted in minutes.

A minute is 1/60 of an hour, which no decimal writes exactly, so the ledger
keeps whole minutes and amounts are written ``H:MM`` (``1:30`` is ninety
minutes). Time banks usually let members owe time: ``credit_limit`` in hours.
An hour is only ever given by a member, so, like mutual credit, time has no
outside world (``outside_world=False``).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from currencies.kind import community_unit, credit_floor, reject_unknown
from currencies.unit import CurrencyUnit
from gateway.errors import ValidationError

MINUTES_PER_HOUR = 60


@dataclass(frozen=True)
class TimeUnit(CurrencyUnit):
    def parse(self, text: str) -> int:
        if isinstance(text, str):
            match = re.fullmatch(r"\s*(-?)([0-9]+):([0-5][0-9])\s*", text)
            if match:
                sign = -1 if match.group(1) else 1
                return sign * (int(match.group(2)) * MINUTES_PER_HOUR + int(match.group(3)))
        try:
            return super().parse(text)
        except ValidationError:
            raise ValidationError(f"{text!r} is not a time amount (write hours as '1:30' or '1.5')") from None

    def format_amount(self, minor: int) -> str:
        sign = "-" if minor < 0 else ""
        hours, minutes = divmod(abs(minor), MINUTES_PER_HOUR)
        return f"{sign}{hours}:{minutes:02d}"


class TimeKind:
    name = "time"

    def build(self, code: str, options: Mapping[str, Any]) -> CurrencyUnit:
        reject_unknown(code, options, {"credit_limit", "name"})
        floor = credit_floor(code, options, MINUTES_PER_HOUR)
        return community_unit(
            self.name, code, options, MINUTES_PER_HOUR, "hours", TimeUnit, wallet_floor=floor, outside_world=False
        )
