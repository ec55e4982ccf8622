"""Currency plugins (fiat, mutual credit, time, demurrage) and exchange rates."""

from currencies.kind import CurrencyKind
from currencies.rates import ChainedRates, Rate, RateProvider, StaticRates, convert
from currencies.registry import CurrencyRegistry, build_unit, load_kinds
from currencies.unit import CurrencyUnit, Demurrage

__all__ = [
    "ChainedRates",
    "CurrencyKind",
    "CurrencyRegistry",
    "CurrencyUnit",
    "Demurrage",
    "Rate",
    "RateProvider",
    "StaticRates",
    "build_unit",
    "convert",
    "load_kinds",
]
