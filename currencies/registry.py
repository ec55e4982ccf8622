"""The currencies a deployment enabled, and discovery of kinds through entry points."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from importlib.metadata import entry_points
from typing import Any

from moneyed import Money

from currencies.kind import CurrencyKind
from currencies.unit import CurrencyUnit
from gateway.errors import ConfigError, CurrencyNotEnabled

ENTRY_POINT_GROUP = "gateway.currencies"


def load_kinds() -> dict[str, CurrencyKind]:
    """Every installed kind of currency, by name (built-in ones included)."""
    kinds: dict[str, CurrencyKind] = {}
    for entry in entry_points(group=ENTRY_POINT_GROUP):
        kinds[entry.name] = entry.load()()
    return kinds


def build_unit(code: str, kind_name: str, options: Mapping[str, Any], kinds: Mapping[str, CurrencyKind]) -> CurrencyUnit:
    kind = kinds.get(kind_name)
    if kind is None:
        known = ", ".join(sorted(kinds)) or "none installed"
        raise ConfigError(f"currencies.{code}.kind: unknown kind {kind_name!r} (known: {known})")
    return kind.build(code, options)


class CurrencyRegistry:
    """The enabled currencies, looked up by code."""

    def __init__(self, units: Mapping[str, CurrencyUnit]) -> None:
        self._units = dict(units)

    def get(self, code: str) -> CurrencyUnit:
        unit = self._units.get(code)
        if unit is None:
            raise CurrencyNotEnabled(f"{code!r} is not a currency of this deployment", currency=code)
        return unit

    def money(self, minor: int, code: str) -> Money:
        return self.get(code).from_minor(minor)

    def format(self, minor: int, code: str) -> str:
        return self.get(code).format(minor)

    def __contains__(self, code: object) -> bool:
        return code in self._units

    def __iter__(self) -> Iterator[CurrencyUnit]:
        return iter(self._units.values())

    def __len__(self) -> int:
        return len(self._units)
