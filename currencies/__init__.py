"""Currency plugins (fiat, mutual credit, time, demurrage) and exchange rates."""

from .kind import CurrencyKind
from .rates import ChainedRates, Rate, RateProvider, StaticRates, convert
from .registry import CurrencyRegistry, build_unit, load_kinds
from .unit import CurrencyUnit, Demurrage

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
