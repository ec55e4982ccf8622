"""What pages say of the use cases' errors and of what just happened, in the page's language.

The use cases' errors speak English to developers (they are the API's
``detail``); a page says each in the reader's language instead, chosen by the
error's class and the field it names (``describe``), with a plain sentence
for each kind of error where no closer one is known. Flash messages (the
line a page shows after a redirect) are chosen by a key from ``FLASHES``, so
that nothing but these texts can be put on a page through them.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from gateway.errors import (
    Conflict,
    CsrfFailed,
    CurrencyNotEnabled,
    Forbidden,
    GatewayError,
    InvalidCredentials,
    NotFound,
    PaymentRequired,
    RateLimited,
    TotpRequired,
    Unauthorized,
    ValidationError,
)
from gateway.i18n import N_
from gateway.rules import HANDLE_MAX, PASSWORD_MAX, PASSWORD_MIN, TOKEN_NAME_MAX
from gateway.usecases.identity.totp import REFUSED as TOTP_REFUSED


@dataclass(frozen=True)
class Said:
    """A message to show: its msgid and what fills its placeholders; ``field`` is the form field it is about."""

    message: str
    params: dict[str, object] = field(default_factory=dict)
    field: str | None = None


# (error class, field) -> message; the first class in the error's MRO that has one wins.
_BY_FIELD: dict[tuple[type[GatewayError], str], Said] = {
    (ValidationError, "handle"): Said(
        N_("A handle is 1 to %(max)s letters, digits, “_”, “.” or “-”, starting with a letter or a digit."), {"max": HANDLE_MAX}
    ),
    (ValidationError, "email"): Said(N_("This is not an e-mail address.")),
    (ValidationError, "password"): Said(
        N_("A password is %(min)s to %(max)s characters."), {"min": PASSWORD_MIN, "max": PASSWORD_MAX}
    ),
    (ValidationError, "token"): Said(N_("This link is unknown, used or expired: ask for a new one.")),
    (ValidationError, "name"): Said(N_("A token's name is 1 to %(max)s characters."), {"max": TOKEN_NAME_MAX}),
    (ValidationError, "scopes"): Said(N_("Choose at least one scope.")),
    (ValidationError, "language"): Said(N_("Choose one of the languages offered.")),
    (ValidationError, "code"): Said(N_("This code is wrong, too old or already used: type the one your app shows next.")),
    (Conflict, "handle"): Said(N_("This handle is taken: choose another.")),
    (Conflict, "email"): Said(N_("This address got an account before this link was opened: sign in, or ask for a new password.")),
}

_BY_KIND: list[tuple[type[GatewayError], Said]] = [
    (CsrfFailed, Said(N_("This form is too old, or did not come from this site. Reload the page and try again."))),
    (TotpRequired, Said(N_("Type the 6-digit code of your authenticator app as well."), field="totp_code")),
    (InvalidCredentials, Said(N_("This login and password do not match."))),
    (Unauthorized, Said(N_("Sign in first."))),
    (CurrencyNotEnabled, Said(N_("This currency is not offered here."), field="preferred_currency")),
    (ValidationError, Said(N_("This cannot be accepted as it is: check the form and try again."))),
    (Forbidden, Said(N_("This is not allowed."))),
    (NotFound, Said(N_("This was not found: it may have been removed meanwhile."))),
    (Conflict, Said(N_("Something changed meanwhile: reload the page and try again."))),
    (PaymentRequired, Said(N_("There is not enough money for this."))),
    (RateLimited, Said(N_("Too many attempts: try again in %(seconds)s seconds."))),
    (GatewayError, Said(N_("This could not be done; nothing was changed."))),
]


def describe(error: GatewayError, retry_after: str | None = None) -> Said:
    """What a page says of ``error``, and which field of its form it is about (if any)."""
    field_name = error.details.get("field")
    if error.message == TOTP_REFUSED:
        return Said(_BY_FIELD[ValidationError, "code"].message, field="totp_code")
    if isinstance(error, Forbidden) and "frozen" in error.message:
        return Said(N_("This account is frozen: write to the operator."))
    if isinstance(error, ValidationError) and field_name == "handle" and "reserved" in error.message:
        return Said(N_("This handle is reserved: choose another."), field="handle")
    for kind in type(error).__mro__:
        said = _BY_FIELD.get((kind, field_name)) if isinstance(field_name, str) else None
        if said is not None:
            return Said(said.message, said.params, field_name)
    for kind, said in _BY_KIND:
        if isinstance(error, kind):
            params: dict[str, object] = {"seconds": retry_after or "60"} if kind is RateLimited else said.params
            return Said(said.message, params, said.field or (field_name if isinstance(field_name, str) else None))
    raise AssertionError("GatewayError is in the list")  # pragma: no cover


# What a page may say after a redirect (the flash cookie holds one of these keys, never a text).
FLASHES: dict[str, str] = {
    "check_mail": N_(
        "Thank you. A message is on its way to the address you gave: open its link to finish. It may take a minute."
    ),
    "verified": N_("Your address is confirmed. You can sign in now."),
    "verified_signed_in": N_("Your new address is confirmed."),
    "signed_in": N_("You are signed in."),
    "signed_out": N_("You are signed out."),
    "reset_sent": N_("If an account has this address, a message with a link to choose a new password is on its way."),
    "password_changed": N_("Your password is changed, and every other session and token of yours has ended. Sign in now."),
    "settings_saved": N_("Your settings are saved."),
    "token_revoked": N_("The token is revoked: it works no more."),
    "sign_in_first": N_("Sign in to see this page."),
    "totp_on": N_("Two-factor sign-in is on: signing in will ask for a code from your app."),
    "totp_off": N_("Two-factor sign-in is off."),
    "address_asked": N_("A link is on its way to the new address: your account changes to it when the link is opened."),
    # the creator's pages (gateway.web.creator, gateway.web.payouts)
    "sites_saved": N_("Your sites are saved."),
    "thing_registered": N_("Your thing is registered."),
    "thing_saved": N_("Your thing is saved."),
    "withdrawal_asked": N_("Your withdrawal is asked for. Here is where it stands."),
    "destination_saved": N_("Your payout destination is saved. A notice was mailed to you."),
    "onboarding_done": N_("Welcome back. Once the provider has checked your details, withdrawals through it are paid."),
    "onboarding_again": N_("The provider's link expired: ask for a new one below."),
    # The operator's pages
    "account_frozen": N_("The account is frozen: it cannot sign in, and its sessions have ended."),
    "account_thawed": N_("The account is unfrozen: it can sign in again."),
    "role_granted": N_("The operator role is granted."),
    "role_revoked": N_("The operator role is revoked."),
    "refund_asked": N_("The refund was asked of the provider: its state is below."),
}
