"""ISO 4217 money, with each currency's own minor unit (JPY 0, EUR 2, KWD 3)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import moneyed

from currencies.kind import reject_unknown
from currencies.unit import CurrencyUnit
from gateway.errors import ConfigError


class FiatKind:
    name = "fiat"

    def build(self, code: str, options: Mapping[str, Any]) -> CurrencyUnit:
        reject_unknown(code, options, set())
        currency = moneyed.CURRENCIES.get(code)
        if currency is None or currency.numeric is None:
            raise ConfigError(f"currencies.{code}: {code!r} is not an ISO 4217 currency code")
        return CurrencyUnit(code=code, kind=self.name, currency=currency, minor_per_major=currency.sub_unit)
