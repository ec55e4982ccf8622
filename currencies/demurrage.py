"""Demurrage money: a holding fee, due every few months on what is held.

Examples: Woergl (1932) charged 1% a month (``rate = "0.01"``,
``every_months = 1``); the Chiemgauer charges 2% a quarter (``rate = "0.02"``,
``every_months = 3``). The fee goes to the community fund named by ``fund``.

Demurrage money has an outside world, though it is community money: it is
issued against national money and redeemed into it (Woergl's certificates
were bought with schillings, the Chiemgauer is bought with euros at par and
exchanged back at 95%), so a rail brings it in and takes it out; and a fee on
what is held presumes issued money, which only positive balances are, not a
credit that members create among themselves.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from currencies.kind import community_unit, decimal_option, decimals_option, int_option, reject_unknown
from currencies.unit import CurrencyUnit, Demurrage
from gateway.errors import ConfigError


class DemurrageKind:
    name = "demurrage"

    def build(self, code: str, options: Mapping[str, Any]) -> CurrencyUnit:
        reject_unknown(code, options, {"rate", "every_months", "fund", "decimals", "name"})
        rate = decimal_option(code, options, "rate")
        if not 0 < rate < 1:
            raise ConfigError(f"currencies.{code}.rate: must be between 0 and 1, got {rate}")
        every = int_option(code, options, "every_months", 1)
        if every < 1:
            raise ConfigError(f"currencies.{code}.every_months: must be at least 1")
        fund = options.get("fund")
        if not isinstance(fund, str) or not fund:
            raise ConfigError(f"currencies.{code}.fund: required, the handle of the community fund")
        demurrage = Demurrage(rate=rate, every_months=every, fund=fund)
        return community_unit(self.name, code, options, decimals_option(code, options), code, demurrage=demurrage)
