"""The plugin interface for kinds of currency, and helpers the kinds share."""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal, InvalidOperation
from typing import Any, ClassVar, Protocol

import moneyed
from moneyed import Currency

from currencies.unit import CurrencyUnit
from gateway.errors import ConfigError

# The most digits after the point a community currency may have. Whatever the decimals, an amount
# is at most 10**15 minor units (usecases.amounts): 16 digits, which Decimal's 28-digit context keeps
# exact times a rate of up to 12 digits (fees, demurrage). What decimals take is range:
# 10**15 minor units are 10**(15 - decimals) whole units, so 12 decimals still let an amount carry
# 1,000 whole units, while 16 would not carry one, and 40 would put a single unit past the columns' 2**63.
MAX_DECIMALS = 12


class CurrencyKind(Protocol):
    """A kind of currency, found through the ``gateway.currencies`` entry points.

    ``build`` receives the code and the kind's own options from the deployment
    file (common keys such as ``minimum_budget`` are removed first) and raises
    ``ConfigError`` naming the option that is wrong. The unit says whether the
    currency has an outside world (``CurrencyUnit.outside_world``, true unless
    the kind says otherwise): whether a rail brings it in and takes it out.
    """

    name: ClassVar[str]

    def build(self, code: str, options: Mapping[str, Any]) -> CurrencyUnit: ...


def community_currency(code: str, minor_per_major: int, name: str) -> Currency:
    """A py-moneyed Currency for a code ISO 4217 does not define."""
    existing = moneyed.CURRENCIES.get(code)
    if existing is not None and existing.sub_unit == minor_per_major:
        return existing
    return moneyed.add_currency(code, None, sub_unit=minor_per_major, name=name)


def community_unit(
    kind: str,
    code: str,
    options: Mapping[str, Any],
    minor_per_major: int,
    default_name: str,
    unit_class: type[CurrencyUnit] = CurrencyUnit,
    **fields: Any,
) -> CurrencyUnit:
    """A unit of a non-ISO currency, registered with py-moneyed under its code."""
    currency = community_currency(code, minor_per_major, str_option(code, options, "name", default_name))
    return unit_class(code=code, kind=kind, currency=currency, minor_per_major=minor_per_major, **fields)


def decimals_option(code: str, options: Mapping[str, Any]) -> int:
    """Minor units per unit from the ``decimals`` option (2 by default, at most ``MAX_DECIMALS``)."""
    return int(10 ** int_option(code, options, "decimals", 2, MAX_DECIMALS))


def decimal_option(code: str, options: Mapping[str, Any], key: str, default: str | None = None) -> Decimal:
    raw = options.get(key, default)
    if raw is None:
        raise ConfigError(f"currencies.{code}.{key}: required")
    if isinstance(raw, float):
        raise ConfigError(f"currencies.{code}.{key}: write the number as a string or exact decimal")
    if not isinstance(raw, str | int | Decimal) or isinstance(raw, bool):
        raise ConfigError(f'currencies.{code}.{key}: expected a number such as 0.01 or "0.01", got {raw!r}')
    try:
        number = Decimal(str(raw))
    except InvalidOperation:
        raise ConfigError(f"currencies.{code}.{key}: {raw!r} is not a number") from None
    if not number.is_finite():
        raise ConfigError(f"currencies.{code}.{key}: {raw!r} is not a finite number")
    return number


def int_option(code: str, options: Mapping[str, Any], key: str, default: int, maximum: int | None = None) -> int:
    """A whole number >= 0 (and <= ``maximum``): a TOML integer, never a string or a switch."""
    raw = options.get(key, default)
    if not isinstance(raw, int) or isinstance(raw, bool) or raw < 0 or (maximum is not None and raw > maximum):
        bounds = ">= 0" if maximum is None else f"from 0 to {maximum}"
        raise ConfigError(f"currencies.{code}.{key}: expected a whole number {bounds}, got {raw!r}")
    return raw


def str_option(code: str, options: Mapping[str, Any], key: str, default: str) -> str:
    raw = options.get(key, default)
    if not isinstance(raw, str):
        raise ConfigError(f"currencies.{code}.{key}: expected a string, got {raw!r}")
    return raw


def reject_unknown(code: str, options: Mapping[str, Any], known: set[str]) -> None:
    unknown = sorted(set(options) - known)
    if unknown:
        raise ConfigError(f"currencies.{code}.{unknown[0]}: unknown option for this kind of currency")


def credit_floor(code: str, options: Mapping[str, Any], minor_per_major: int) -> int:
    limit = decimal_option(code, options, "credit_limit", "0")
    if limit < 0:
        raise ConfigError(f"currencies.{code}.credit_limit: must be >= 0")
    scaled = limit * minor_per_major
    if scaled != scaled.to_integral_value():
        raise ConfigError(f"currencies.{code}.credit_limit: finer than the currency's minor unit")
    return -int(scaled)
