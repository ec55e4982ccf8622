"""The JSON shapes shared by many routes: money, pages of results."""

from __future__ import annotations

import base64
import json
from typing import Any

from moneyed import Money
from pydantic import BaseModel, ConfigDict, Field, StrictStr

from currencies import CurrencyRegistry
from gateway.errors import ValidationError
from gateway.rules import CURRENCY, anchored

# A month (2026-11) or an ISO week (2026-W48) of the years 1970 to 9998, whichever the deployment's period is;
# parse_period checks the rest (a week 53 that the year does not have).
PERIOD_PATTERN = (
    r"^(19[7-9][0-9]|[2-8][0-9]{3}|9[0-8][0-9]{2}|99[0-8][0-9]|999[0-8])-(0[1-9]|1[0-2]|W(0[1-9]|[1-4][0-9]|5[0-3]))$"
)


class Model(BaseModel):
    """Request bodies refuse unknown fields and numbers where strings are due."""

    model_config = ConfigDict(extra="forbid", strict=True)


class MoneyJson(Model):
    """An amount of money. The amount is a string, so no float ever carries it."""

    amount: StrictStr = Field(pattern=r"^-?[0-9]+(\.[0-9]+)?$|^-?[0-9]+:[0-5][0-9]$", max_length=40, examples=["2.25"])
    currency: StrictStr = Field(pattern=anchored(CURRENCY), examples=["EUR"])

    def minor(self, currencies: CurrencyRegistry) -> int:
        return currencies.get(self.currency).parse(self.amount)

    def money(self, currencies: CurrencyRegistry) -> Money:
        return currencies.money(self.minor(currencies), self.currency)


def money_json(currencies: CurrencyRegistry, money: Money) -> MoneyJson:
    unit = currencies.get(money.currency.code)
    return MoneyJson(amount=unit.format_amount(unit.to_minor(money)), currency=unit.code)


def encode_cursor(position: Any) -> str:
    return base64.urlsafe_b64encode(json.dumps(position).encode()).decode().rstrip("=")


def decode_cursor(cursor: str | None) -> Any:
    if not cursor:
        return None
    try:
        return json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
    except (ValueError, UnicodeDecodeError):
        raise ValidationError("this cursor was not made by this API", field="cursor") from None


def decode_id_cursor(cursor: str | None) -> int | None:
    """A cursor that ``encode_cursor`` made of a row id (a BIGINT), or None for the first page."""
    position = decode_cursor(cursor)
    if position is not None and (type(position) is not int or not 0 <= position < 2**63):
        raise ValidationError("this cursor was not made by this API", field="cursor")
    return position


class PageQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")
    cursor: str | None = Field(default=None, max_length=200)
    limit: int = Field(default=50, ge=1, le=200)
