"""The one exception hierarchy of the gateway.

Every error a user can cause carries a stable ``code`` (the problem type the
HTTP layer will serve, the word the CLI prints) and a one-line message.
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
    """The deployment file is wrong; start-up stops."""

    code = "config_error"


class ValidationError(GatewayError):
    """Input that cannot be accepted as it is."""

    code = "validation_error"
    status = 422


class Unauthorized(GatewayError):
    """No valid credentials: sign in, or send a token."""

    code = "unauthorized"
    status = 401


class InvalidCredentials(Unauthorized):
    code = "invalid_credentials"


class TotpRequired(Unauthorized):
    """The password was right; the account also wants its one-time code."""

    code = "totp_required"


class Forbidden(GatewayError):
    code = "forbidden"
    status = 403


class NotTheCreatorsSite(Forbidden):
    """An auto-submitted address that is not under one of the creator's sites."""

    code = "not_the_creators_site"


class CsrfFailed(Forbidden):
    code = "csrf_failed"


class RateLimited(GatewayError):
    code = "rate_limited"
    status = 429


class NotFound(GatewayError):
    code = "not_found"
    status = 404


class Conflict(GatewayError):
    code = "conflict"
    status = 409


class CurrencyNotEnabled(GatewayError):
    code = "currency_not_enabled"
    status = 422


class RailNotEnabled(GatewayError):
    code = "rail_not_enabled"
    status = 422


class AlreadyFlattred(Conflict):
    code = "already_flattred"


class OwnThing(GatewayError):
    code = "own_thing"
    status = 403


class NoMeans(GatewayError):
    code = "no_means"
    status = 402


class InsufficientFunds(GatewayError):
    code = "insufficient_funds"
    status = 402


class BelowMinimum(ValidationError):
    code = "below_minimum"


class PeriodClosed(Conflict):
    code = "period_closed"


class PeriodNotEnded(Conflict):
    code = "period_not_ended"


class IdempotencyKeyReused(GatewayError):
    """The same idempotency key came back with different content."""

    code = "idempotency_key_reused"
    status = 422


class RailError(GatewayError):
    """A rail (payment provider) refused or failed an operation."""

    code = "rail_error"
    status = 502


class LedgerBreach(GatewayError):
    """An invariant of the ledger does not hold. Never caused by a user."""

    code = "ledger_breach"
    status = 500
