"""The one exception tree of the gateway.

Every error a user can cause carries a stable ``code`` (the problem type the
HTTP layer serves, the word the CLI prints) and a one-line message. Errors
are grouped by cause, so a caller can catch a whole kind (``ValidationError``,
``Forbidden``) and the HTTP status follows from the group:

- ``BadRequest`` (400): a request the API cannot read at all.
- ``ValidationError`` (422): input that cannot be accepted as it is.
- ``Unauthorized`` (401) and ``Forbidden`` (403): who is asking, and what they may do.
- ``NotFound`` (404): no such thing, or none the caller may see.
- ``Conflict`` (409): the state the request needs has changed.
- ``PaymentRequired`` (402): not enough money for it.
- ``RateLimited`` (429).
- ``ConfigError``: the deployment file or the database's schema is wrong; start-up stops.
  ``DatabaseUnreachable``, one of them: the database cannot be connected to.
- ``RailUnavailable`` (503) and ``RailRefused`` (502): a provider did not answer, or refused what we sent.
- ``LedgerBreach`` (500): an invariant of the ledger does not hold; never a user's doing.

Nothing below the CLI and HTTP layers formats errors for people.
"""

from __future__ import annotations

from typing import Any


class GatewayError(Exception):
    """Base of every error the gateway raises on purpose."""

    code = "gateway_error"
    status = 400

    def __init__(self, message: str, **details: Any) -> None:
        super().__init__(message)
        self.message = message
        self.details = details

    def __str__(self) -> str:
        return self.message


class ConfigError(GatewayError):
    """The deployment file is wrong, or the database is not at this release's schema; start-up stops."""

    code = "config_error"


class DatabaseUnreachable(ConfigError):
    """The deployment's database cannot be connected to (down, refusing, or a file that cannot be opened)."""

    code = "database_unreachable"


class BadRequest(GatewayError):
    """A request the API cannot read: not JSON, too large."""

    code = "bad_request"
    status = 400


class WebhookRefused(BadRequest):
    """A provider's webhook whose signature does not hold, or that cannot be read: nothing is applied."""

    code = "webhook_refused"


class UnsupportedMediaType(BadRequest):
    code = "unsupported_media_type"
    status = 415


class ValidationError(GatewayError):
    """Input that cannot be accepted as it is."""

    code = "validation_error"
    status = 422


class BelowMinimum(ValidationError):
    code = "below_minimum"


class CurrencyNotEnabled(ValidationError):
    code = "currency_not_enabled"


class RailNotEnabled(ValidationError):
    code = "rail_not_enabled"


class NoOutsideWorld(CurrencyNotEnabled):
    """A top-up in a currency with no outside world: no rail brings mutual credit or time in; members make it by giving."""

    code = "no_outside_world"


class HasOutsideWorld(ValidationError):
    """A direct payment between members in money that a rail brings in from outside: it goes by flattrs."""

    code = "has_outside_world"


class IdempotencyKeyReused(ValidationError):
    """The same idempotency key came back with different content."""

    code = "idempotency_key_reused"


class Unauthorized(GatewayError):
    """Who is calling is unknown: sign in, or send a token."""

    code = "unauthorized"
    status = 401


class InvalidCredentials(Unauthorized):
    code = "invalid_credentials"


class TotpRequired(Unauthorized):
    """The password was right; the account also wants its one-time code."""

    code = "totp_required"


class Forbidden(GatewayError):
    """The caller is known, and may not do this."""

    code = "forbidden"
    status = 403


class OwnThing(Forbidden):
    code = "own_thing"


class NotTheCreatorsSite(Forbidden):
    """An auto-submitted address that is not under one of the creator's sites."""

    code = "not_the_creators_site"


class EmailNotVerified(Forbidden):
    """Money may leave, or its destination change, only for an account whose owner can be reached."""

    code = "email_not_verified"


class TotpNotEnabled(Forbidden):
    """This needs two-factor sign-in, and the account has it off."""

    code = "totp_not_enabled"


class CsrfFailed(Forbidden):
    code = "csrf_failed"


class NotFound(GatewayError):
    code = "not_found"
    status = 404


class Conflict(GatewayError):
    code = "conflict"
    status = 409


class NotDemoData(Conflict):
    """The demo data goes only into an empty database, or one that holds it already: never into a deployment's."""

    code = "not_demo_data"


class AlreadyFlattred(Conflict):
    code = "already_flattred"


class UrlTaken(Conflict):
    """The address is registered already: by another account, or hidden by its owner."""

    code = "url_taken"


class PeriodClosed(Conflict):
    code = "period_closed"


class PeriodNotEnded(Conflict):
    code = "period_not_ended"


class EarlierPeriodUnsettled(Conflict):
    """A period asked to settle while an earlier one still has something to settle.

    Periods settle in order, so settling the later one first would leave the
    earlier one unsettled for good; the message names it.
    """

    code = "earlier_period_unsettled"


class LastOperator(Conflict):
    """A change that would leave the deployment without an operator who can sign in."""

    code = "last_operator"


class PaymentRequired(GatewayError):
    """Not enough money for what was asked."""

    code = "payment_required"
    status = 402


class NoMeans(PaymentRequired):
    code = "no_means"


class InsufficientFunds(PaymentRequired):
    code = "insufficient_funds"


class EarningsHeld(PaymentRequired):
    """Earnings held against a chargeback cannot leave yet; the error says when the first part becomes free."""

    code = "earnings_held"


class RateLimited(GatewayError):
    code = "rate_limited"
    status = 429


class RailUnavailable(GatewayError):
    """A provider did not answer (a timeout, a 5xx, a refused connection): what it did is unknown.

    A rail raises it; the use case records the operation as unknown and the
    janitor (``gateway rails sync``) asks again later. Never a user's doing.
    """

    code = "rail_unavailable"
    status = 503


class RailRefused(GatewayError):
    """A provider refused a call for a reason that asking again will not change (bad credentials, a bad request)."""

    code = "rail_refused"
    status = 502


class LedgerBreach(GatewayError):
    """An invariant of the ledger does not hold. Never caused by a user."""

    code = "ledger_breach"
    status = 500
