"""The PayPal client's one exception tree.

- ``PayPalError``: PayPal answered, and said no (a 4xx), or we refused before
  asking (``PayPalAmountError``). The operation did not happen.
- ``PayPalUnavailable``: we do not know what happened (a timeout, a broken
  connection, a 5xx, a 429, a request still in progress at PayPal, a 2xx we
  cannot read). The caller treats it as *unknown*, never as failed, and asks
  again with the same request id (or looks the object up) later.
- ``PayPalAuthError``: the client id and secret were refused.
- ``PayPalDuplicateBatch``: a payout's ``sender_batch_id`` was used in the
  last 30 days; it carries the original batch's id when PayPal links to it.

No message ever holds the secret, a token, or an ``Authorization`` header:
messages are built from PayPal's error body (name, message, issue, debug_id)
and our own words only.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


class PayPalError(Exception):
    """PayPal refused the request, or the client refused to send it.

    ``status`` is PayPal's HTTP status (None when nothing was sent), ``name``
    PayPal's error name (``UNPROCESSABLE_ENTITY``, ``RESOURCE_NOT_FOUND``,
    ``invalid_client``, ...), ``issue`` the first ``details[].issue``
    (``ORDER_NOT_APPROVED``, ``ORDER_ALREADY_CAPTURED``, ...), ``debug_id``
    what PayPal's support asks for.
    """

    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        name: str | None = None,
        debug_id: str | None = None,
        issue: str | None = None,
        details: tuple[Mapping[str, Any], ...] = (),
    ) -> None:
        super().__init__(message)
        self.message = message
        self.status = status
        self.name = name
        self.debug_id = debug_id
        self.issue = issue
        self.details = details

    def __str__(self) -> str:
        parts = [self.message]
        if self.status is not None:
            parts.append(f"HTTP {self.status}")
        if self.name:
            parts.append(f"name={self.name}")
        if self.issue:
            parts.append(f"issue={self.issue}")
        if self.debug_id:
            parts.append(f"debug_id={self.debug_id}")
        return "; ".join(parts)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({str(self)!r})"


class PayPalUnavailable(PayPalError):
    """No answer we can trust (timeout, connection, 5xx, 429, in progress): the outcome is unknown."""


class PayPalAuthError(PayPalError):
    """The client id and secret were refused, or a fresh token was refused too."""


class PayPalAmountError(PayPalError, ValueError):
    """An amount PayPal cannot take or that we cannot read (10.50 HUF, a float, a currency PayPal lacks)."""


class PayPalDuplicateBatch(PayPalError):
    """The payout's ``sender_batch_id`` was used in the last 30 days; ``payout_batch_id`` is the original's, if linked."""

    def __init__(self, message: str, *, sender_batch_id: str, payout_batch_id: str | None, **kwargs: Any) -> None:
        super().__init__(message, **kwargs)
        self.sender_batch_id = sender_batch_id
        self.payout_batch_id = payout_batch_id
