"""What the funder's pages share: an amount read from a form, an amount written for the reader, a form's own request key,
and the words for what money refuses (a budget under the minimum, more than there is, a provider that did not answer).
"""

from __future__ import annotations

import secrets

from moneyed import Money

from gateway.errors import (
    BelowMinimum,
    CurrencyNotEnabled,
    GatewayError,
    IdempotencyKeyReused,
    InsufficientFunds,
    RailNotEnabled,
    RailRefused,
    RailUnavailable,
    ValidationError,
)
from gateway.formatting import money
from gateway.i18n import N_
from gateway.usecases.amounts import MAX_MINOR
from gateway.web.messages import describe
from gateway.web.page import Page


def request_key() -> str:
    """A new key for one form as rendered: sent twice (a double click, a reload), the form does its work once."""
    return secrets.token_urlsafe(18)


def amount_of(page: Page, amount_field: str = "amount", currency_field: str = "currency") -> Money:
    """The amount a form asks for, in its currency: "5", "5.00" or "5,00" (a decimal comma, as French writes it)."""
    code = page.text(currency_field)
    try:
        unit = page.deployment.currencies.get(code)
    except CurrencyNotEnabled as error:
        raise CurrencyNotEnabled(error.message, field=currency_field) from None
    text = page.text(amount_field).strip().replace(",", ".")
    try:
        minor = unit.parse(text)
    except ValidationError as error:
        raise ValidationError(error.message, field=amount_field) from None
    if minor <= 0:
        raise ValidationError("the amount must be more than zero", field=amount_field)
    if minor > MAX_MINOR:
        raise ValidationError(f"the amount must be at most {unit.format_amount(MAX_MINOR)}", field=amount_field)
    return unit.from_minor(minor)


def written(page: Page, value: Money) -> str:
    """``value`` as the reader's language writes it (a ``Money`` from a use case)."""
    unit = page.deployment.currencies.get(value.currency.code)
    return money(unit, unit.to_minor(value), page.language)


def problem(page: Page, error: GatewayError, currency: str | None = None) -> tuple[str, str | None]:
    """What a money form says of ``error``, and the field it is about."""
    field = error.details.get("field")
    if isinstance(error, BelowMinimum) and currency:
        unit = page.deployment.currencies.get(currency)
        least = written(page, unit.from_minor(unit.parse(str(error.details["minimum"]))))
        return page._(N_("The smallest budget is %(minimum)s a period."), minimum=least), "amount"
    if isinstance(error, InsufficientFunds) and currency and "available" in error.details:
        unit = page.deployment.currencies.get(currency)
        most = written(page, unit.from_minor(unit.parse(str(error.details["available"]))))
        return page._(N_("You can move at most %(available)s."), available=most), "amount"
    if isinstance(error, RailNotEnabled):
        return page._(N_("This way of paying is not offered here.")), "rail"
    if isinstance(error, CurrencyNotEnabled):
        return page._(N_("This currency cannot be used for this here.")), "currency"
    if isinstance(error, IdempotencyKeyReused):
        return page._(N_("This form was already sent with other values: reload the page and try again.")), None
    if isinstance(error, RailUnavailable | RailRefused):
        return page._(N_("The payment provider did not answer. Nothing was taken twice; try again in a moment.")), None
    if isinstance(error, ValidationError) and field == "amount":
        return page._(N_("Write an amount above zero, like 5.00.")), "amount"
    said = describe(error)
    return page.say(said), said.field or (field if isinstance(field, str) else None)
