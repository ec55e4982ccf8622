"""A small async PayPal REST client over aiohttp: OAuth2, Orders v2, Payments v2 refunds, Payouts v1, webhooks.

Why our own: ``paypalrestsdk`` is deprecated and speaks only v1 (and its
webhook check fails every time on current pyOpenSSL); ``paypal-server-sdk``
is synchronous and has neither Payouts nor webhook verification. Liberapay
calls PayPal's REST API with plain HTTP too.

Idempotency. Every call that moves money takes *our* id of the operation as
``request_id`` and sends it as ``PayPal-Request-Id``: asked again with the same
id, PayPal answers the earlier result instead of doing it twice (it keeps the
ids 6 hours for creating an order, 45 days for captures and refunds, 30 days
for payouts). So after ``PayPalUnavailable`` (a timeout, a broken connection,
a 5xx: the outcome is *unknown*, never *failed*) the caller asks again with
the same id.

Payouts. There is no look-up of a batch by our ``sender_batch_id``. The rail
stores ``payout_batch_id`` as soon as ``create_payout`` returns. When it has
none (the answer was lost), the janitor calls ``create_or_find_payout`` with
the same ``sender_batch_id`` and items: within 30 days PayPal either replays
the first answer (same ``PayPal-Request-Id``), or refuses the reused
``sender_batch_id`` with a link to the original batch, which is then read; if
the first request never reached PayPal, this one makes the payout, which is
what was wanted. Past ``SENDER_BATCH_ID_WINDOW`` from the first attempt the
janitor must not ask again (PayPal would make a second payout): such a payout
is unknown and goes to a person.

Secrets. The secret and the tokens are never logged, never in an error
message, and not in ``repr``; the log has method, path, status and PayPal's
debug id only (bodies hold e-mail addresses).
"""

from __future__ import annotations

import asyncio
import base64
import json
import logging
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from types import TracebackType
from typing import Any
from urllib.parse import quote, urlsplit

import aiohttp

from adapters.paypal.errors import PayPalAuthError, PayPalDuplicateBatch, PayPalError, PayPalUnavailable
from adapters.paypal.minor import to_paypal
from adapters.paypal.models import (
    Capture,
    Order,
    PayoutBatch,
    PayoutItem,
    PayoutLine,
    Refund,
    read_capture,
    read_order,
    read_payout_batch,
    read_payout_item,
    read_refund,
)
from adapters.secrets import Secret
from gateway.clock import Clock, SystemClock

log = logging.getLogger("adapters.paypal")

SANDBOX_URL = "https://api-m.sandbox.paypal.com"
LIVE_URL = "https://api-m.paypal.com"

# PayPal refuses a sender_batch_id used in the last 30 days; past that, asking again would pay again.
SENDER_BATCH_ID_WINDOW = timedelta(days=30)
MAX_PAYOUT_ITEMS = 15_000

# The webhook's transmission headers, by the field of verify-webhook-signature they fill.
WEBHOOK_HEADERS = {
    "auth_algo": "PAYPAL-AUTH-ALGO",
    "cert_url": "PAYPAL-CERT-URL",
    "transmission_id": "PAYPAL-TRANSMISSION-ID",
    "transmission_sig": "PAYPAL-TRANSMISSION-SIG",
    "transmission_time": "PAYPAL-TRANSMISSION-TIME",
}

_REQUEST_IN_PROGRESS = "PREVIOUS_REQUEST_IN_PROGRESS"


@dataclass(frozen=True)
class _Token:
    value: Secret
    refresh_at: datetime


@dataclass(frozen=True)
class _Answer:
    status: int
    body: Any  # the parsed JSON, or None
    debug_id: str | None


class PayPalClient:
    """PayPal's REST API, one client per deployment (its token is shared by every call).

    ``session`` is an aiohttp session the caller owns; without one the client
    makes its own on first use and ``close()`` (or ``async with``) closes it.
    ``timeout`` bounds each HTTP exchange, in seconds. ``clock`` tells when the
    cached token is due for renewal (``token_margin`` before PayPal's
    ``expires_in``).
    """

    def __init__(
        self,
        base_url: str,
        client_id: str,
        secret: str,
        *,
        session: aiohttp.ClientSession | None = None,
        timeout: float = 30.0,
        clock: Clock | None = None,
        token_margin: timedelta = timedelta(minutes=5),
    ) -> None:
        parts = urlsplit(base_url)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise ValueError(f"base_url must be an http(s) address, got {base_url!r}")
        self.base_url = base_url.rstrip("/")
        self.client_id = client_id
        self._secret = Secret(secret)
        self._session = session
        self._owns_session = session is None
        self.timeout = timeout
        self._clock: Clock = clock or SystemClock()
        self._token_margin = token_margin
        self._token: _Token | None = None
        self._token_lock = asyncio.Lock()

    def __repr__(self) -> str:
        return f"PayPalClient(base_url={self.base_url!r}, client_id={self.client_id!r})"

    async def __aenter__(self) -> PayPalClient:
        return self

    async def __aexit__(self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None) -> None:
        await self.close()

    async def close(self) -> None:
        """Close the session if the client made it."""
        if self._owns_session and self._session is not None:
            await self._session.close()
            self._session = None

    # --- Orders v2 -------------------------------------------------------------------------

    async def create_order(
        self,
        request_id: str,
        amount: Decimal,
        currency: str,
        return_url: str,
        cancel_url: str,
        custom_id: str,
        brand_name: str | None = None,
        locale: str | None = None,
        *,
        landing_page: str = "NO_PREFERENCE",
        description: str | None = None,
    ) -> Order:
        """Create an order to capture at once (``intent=CAPTURE``); send the buyer to ``order.approve_url``.

        ``custom_id`` is our operation's id; it comes back on the capture and
        in webhooks. The same ``request_id`` within 6 hours returns the same
        order, and one made for another operation is an error.
        """
        unit: dict[str, Any] = {
            "custom_id": custom_id,
            "amount": {"currency_code": currency, "value": to_paypal(amount, currency)},
        }
        if description is not None:
            unit["description"] = description
        context: dict[str, Any] = {
            "landing_page": landing_page,
            "shipping_preference": "NO_SHIPPING",
            "user_action": "PAY_NOW",
            "return_url": return_url,
            "cancel_url": cancel_url,
        }
        if brand_name is not None:
            context["brand_name"] = brand_name
        if locale is not None:
            context["locale"] = locale
        body = {"intent": "CAPTURE", "purchase_units": [unit], "application_context": context}
        answer = await self._call(
            "POST", "/v2/checkout/orders", "create order", body=body, request_id=request_id, representation=True
        )
        order = read_order(answer, "create order")
        if order.custom_id not in (None, custom_id) or (
            order.amount is not None and (order.amount, order.currency) != (amount, currency)
        ):
            raise PayPalError(
                f"create order: PayPal-Request-Id {request_id!r} was used for another order ({order.id})",
                name="REQUEST_ID_REUSED",
            )
        return order

    async def get_order(self, order_id: str) -> Order:
        answer = await self._call("GET", f"/v2/checkout/orders/{_segment(order_id)}", "get order")
        return read_order(answer, "get order")

    async def capture_order(self, order_id: str, request_id: str) -> Capture:
        """Capture an approved order: the capture's id, status, amount and PayPal's fee.

        An order the buyer has not approved is a ``PayPalError`` with
        ``issue == "ORDER_NOT_APPROVED"``; one captured before (under another
        request id) ``issue == "ORDER_ALREADY_CAPTURED"`` (read it with ``get_order``).
        """
        what = "capture order"
        answer = await self._call(
            "POST", f"/v2/checkout/orders/{_segment(order_id)}/capture", what, body={}, request_id=request_id, representation=True
        )
        order = read_order(answer, what)
        if not order.captures:
            raise PayPalUnavailable(
                f"{what}: PayPal's answer holds no capture (order {order.id} is {order.status})", name="UNREADABLE_ANSWER"
            )
        return order.captures[0]

    async def get_capture(self, capture_id: str) -> Capture:
        answer = await self._call("GET", f"/v2/payments/captures/{_segment(capture_id)}", "get capture")
        return read_capture(answer, "get capture")

    async def refund_capture(
        self, capture_id: str, request_id: str, amount: Decimal | None = None, currency: str | None = None
    ) -> Refund:
        """Refund a capture, wholly (``amount=None``) or in part (``amount`` and ``currency``)."""
        body: dict[str, Any] = {}
        if amount is not None:
            if currency is None:
                raise ValueError("a partial refund needs its currency")
            body["amount"] = {"currency_code": currency, "value": to_paypal(amount, currency)}
        answer = await self._call(
            "POST",
            f"/v2/payments/captures/{_segment(capture_id)}/refund",
            "refund",
            body=body,
            request_id=request_id,
            representation=True,
        )
        refund = read_refund(answer, "refund")
        return refund if refund.capture_id else _with_capture(refund, capture_id)

    async def get_refund(self, refund_id: str) -> Refund:
        answer = await self._call("GET", f"/v2/payments/refunds/{_segment(refund_id)}", "get refund")
        return read_refund(answer, "get refund")

    # --- Payouts v1 ------------------------------------------------------------------------

    async def create_payout(
        self,
        sender_batch_id: str,
        items: Sequence[PayoutLine | tuple[str, Decimal, str, str, str | None]],
        *,
        email_subject: str | None = None,
        email_message: str | None = None,
    ) -> PayoutBatch:
        """Pay ``items`` (receiver e-mail, amount, currency, our sender_item_id, note) in one batch.

        PayPal answers at once with the batch id and ``PENDING``; the items'
        outcomes come later (``get_payout_batch``, ``get_payout_item``, or
        webhooks). ``sender_batch_id`` is sent as ``PayPal-Request-Id`` too. A
        ``sender_batch_id`` used in the last 30 days is ``PayPalDuplicateBatch``.
        """
        lines = [PayoutLine(*item) for item in items]
        if not 1 <= len(lines) <= MAX_PAYOUT_ITEMS:
            raise ValueError(f"a payout batch holds 1 to {MAX_PAYOUT_ITEMS} items, not {len(lines)}")
        header: dict[str, Any] = {"sender_batch_id": sender_batch_id, "recipient_type": "EMAIL"}
        if email_subject is not None:
            header["email_subject"] = email_subject
        if email_message is not None:
            header["email_message"] = email_message
        body = {"sender_batch_header": header, "items": [_payout_item(line) for line in lines]}
        what = "create payout"
        try:
            answer = await self._call("POST", "/v1/payments/payouts", what, body=body, request_id=sender_batch_id)
        except PayPalError as error:
            duplicate = _duplicate_batch(error, sender_batch_id)
            if duplicate is not None:
                raise duplicate from None
            raise
        batch = read_payout_batch(answer, what)
        if batch.sender_batch_id not in (None, sender_batch_id):
            raise PayPalError(
                f"{what}: PayPal-Request-Id {sender_batch_id!r} was used for another batch ({batch.payout_batch_id})",
                name="REQUEST_ID_REUSED",
            )
        return batch

    async def create_or_find_payout(
        self,
        sender_batch_id: str,
        items: Sequence[PayoutLine | tuple[str, Decimal, str, str, str | None]],
        *,
        email_subject: str | None = None,
        email_message: str | None = None,
    ) -> PayoutBatch:
        """``create_payout``, or, when PayPal says the ``sender_batch_id`` was used, the batch it made then.

        For the janitor, for a payout whose batch id we never got, and only
        within ``SENDER_BATCH_ID_WINDOW`` of the first attempt (see the module's
        docstring). A duplicate without a link to the original is raised as it came.
        """
        try:
            return await self.create_payout(sender_batch_id, items, email_subject=email_subject, email_message=email_message)
        except PayPalDuplicateBatch as duplicate:
            if duplicate.payout_batch_id is None:
                raise
            batch = await self.get_payout_batch(duplicate.payout_batch_id)
            if batch.sender_batch_id not in (None, sender_batch_id):
                raise PayPalError(
                    f"create payout: PayPal linked batch {batch.payout_batch_id}, which is not {sender_batch_id!r}",
                    name="DUPLICATE_LINK_MISMATCH",
                ) from None
            return batch

    async def get_payout_batch(self, payout_batch_id: str, *, page_size: int = 1000) -> PayoutBatch:
        """The batch and all its items (read page by page)."""
        what = "get payout batch"
        path = f"/v1/payments/payouts/{_segment(payout_batch_id)}"
        first: PayoutBatch | None = None
        items: list[PayoutItem] = []
        page = 1
        while True:
            query = {"page": str(page), "page_size": str(page_size), "total_required": "true"}
            answer = await self._call("GET", path, what, query=query)
            batch = read_payout_batch(answer, what)
            first = first or batch
            items.extend(batch.items)
            total = answer.get("total_items") if isinstance(answer, Mapping) else None
            done = len(batch.items) < page_size or (isinstance(total, int) and len(items) >= total)
            if done or not batch.items:
                break
            page += 1
        return PayoutBatch(first.payout_batch_id, first.batch_status, first.sender_batch_id, tuple(items), first.raw)

    async def get_payout_item(self, payout_item_id: str) -> PayoutItem:
        answer = await self._call("GET", f"/v1/payments/payouts-item/{_segment(payout_item_id)}", "get payout item")
        return read_payout_item(answer, "get payout item")

    # --- Webhooks --------------------------------------------------------------------------

    async def verify_webhook_signature(
        self, webhook_id: str, headers: Mapping[str, str], body: bytes | str | Mapping[str, Any]
    ) -> bool:
        """Whether PayPal says it sent this webhook (``POST /v1/notifications/verify-webhook-signature``).

        ``headers`` are the webhook request's (any case); ``body`` its raw body,
        best as received: it is passed to PayPal as it came, not re-encoded, so
        that the signature PayPal checks is over the same bytes. A webhook
        without the transmission headers, or whose body is not a JSON object,
        is not verified (False) and PayPal is not asked.
        """
        folded = {key.upper(): value for key, value in headers.items()}
        fields = {field: folded.get(header) for field, header in WEBHOOK_HEADERS.items()}
        if any(not isinstance(value, str) or not value for value in fields.values()):
            log.info("PayPal webhook without its transmission headers: not verified")
            return False
        event_text = _event_text(body)
        if event_text is None:
            log.info("PayPal webhook whose body is not a JSON object: not verified")
            return False
        head = json.dumps({**fields, "webhook_id": webhook_id})
        raw = head[:-1] + ', "webhook_event": ' + event_text + "}"
        try:
            answer = await self._call("POST", "/v1/notifications/verify-webhook-signature", "verify webhook", raw_body=raw)
        except PayPalError as error:
            if error.status == 400:  # malformed transmission headers: not PayPal's
                log.info("PayPal refused to check a webhook (%s): not verified", error.name)
                return False
            raise
        status = answer.get("verification_status") if isinstance(answer, Mapping) else None
        if status not in ("SUCCESS", "FAILURE"):
            raise PayPalUnavailable("verify webhook: PayPal's answer has no verification_status", name="UNREADABLE_ANSWER")
        return bool(status == "SUCCESS")

    # --- HTTP ------------------------------------------------------------------------------

    async def _call(
        self,
        method: str,
        path: str,
        what: str,
        *,
        body: Mapping[str, Any] | None = None,
        raw_body: str | None = None,
        request_id: str | None = None,
        representation: bool = False,
        query: Mapping[str, str] | None = None,
    ) -> Any:
        """One API call with the cached token; on a 401 the token is renewed once and the call made again."""
        payload = raw_body if raw_body is not None else (json.dumps(body) if body is not None else None)
        for attempt in (1, 2):
            token = await self._access_token()
            headers = {"Authorization": f"Bearer {token.value.reveal()}", "Accept": "application/json"}
            if payload is not None:
                headers["Content-Type"] = "application/json"
            if request_id is not None:
                headers["PayPal-Request-Id"] = request_id
            if representation:
                headers["Prefer"] = "return=representation"
            answer = await self._exchange(method, path, what, headers, payload, query)
            if answer.status == 401 and attempt == 1:
                self._forget(token)
                continue
            return self._read(answer, what)
        raise AssertionError("unreachable")  # pragma: no cover

    async def _exchange(
        self,
        method: str,
        path: str,
        what: str,
        headers: Mapping[str, str],
        payload: str | None,
        query: Mapping[str, str] | None = None,
    ) -> _Answer:
        """Send one request; a timeout or a broken connection is PayPalUnavailable."""
        session = self._session
        if session is None:
            session = self._session = aiohttp.ClientSession()
        started = asyncio.get_running_loop().time()
        try:
            async with session.request(
                method,
                self.base_url + path,
                headers=headers,
                data=payload.encode() if payload is not None else None,
                params=query,
                timeout=aiohttp.ClientTimeout(total=self.timeout),
                allow_redirects=False,
            ) as response:
                text = await response.text()
                status = response.status
                debug_id = response.headers.get("Paypal-Debug-Id")
        except TimeoutError:
            log.warning("PayPal %s %s: no answer within %s s", method, path, self.timeout)
            raise PayPalUnavailable(f"{what}: no answer from PayPal within {self.timeout} s", name="TIMEOUT") from None
        except aiohttp.ClientError as error:
            log.warning("PayPal %s %s: %s", method, path, type(error).__name__)
            raise PayPalUnavailable(
                f"{what}: PayPal could not be reached ({type(error).__name__})", name="CONNECTION_ERROR"
            ) from None
        try:
            parsed = json.loads(text) if text.strip() else None
        except ValueError:
            parsed = None
        if isinstance(parsed, Mapping) and isinstance(parsed.get("debug_id"), str):
            debug_id = parsed["debug_id"]
        elapsed = asyncio.get_running_loop().time() - started
        log.debug("PayPal %s %s -> %s in %.3f s (debug_id %s)", method, path, status, elapsed, debug_id)
        return _Answer(status, parsed if text.strip() else {}, debug_id)

    def _read(self, answer: _Answer, what: str) -> Any:
        if 200 <= answer.status < 300:
            if answer.body is None:
                raise PayPalUnavailable(f"{what}: PayPal's answer is not JSON", status=answer.status, name="UNREADABLE_ANSWER")
            return answer.body
        raise _error(answer, what)

    # --- OAuth2 ----------------------------------------------------------------------------

    async def _access_token(self) -> _Token:
        token = self._token
        if token is not None and self._clock.now() < token.refresh_at:
            return token
        async with self._token_lock:  # one renewal at a time; the others wait and take its token
            token = self._token
            if token is not None and self._clock.now() < token.refresh_at:
                return token
            self._token = await self._new_token()
            return self._token

    def _forget(self, token: _Token) -> None:
        """PayPal refused ``token``: drop it, unless another call has renewed it already."""
        if self._token is token:
            self._token = None

    async def _new_token(self) -> _Token:
        what = "token"
        credentials = base64.b64encode(f"{self.client_id}:{self._secret.reveal()}".encode()).decode("ascii")
        headers = {
            "Authorization": f"Basic {credentials}",
            "Accept": "application/json",
            "Content-Type": "application/x-www-form-urlencoded",
        }
        answer = await self._exchange("POST", "/v1/oauth2/token", what, headers, "grant_type=client_credentials")
        if answer.status in (400, 401, 403):
            error = _error(answer, what)
            raise PayPalAuthError(
                "PayPal refused the client id and secret",
                status=error.status,
                name=error.name,
                debug_id=error.debug_id,
                issue=error.issue,
            )
        body = self._read(answer, what)
        value = body.get("access_token") if isinstance(body, Mapping) else None
        lifetime = body.get("expires_in") if isinstance(body, Mapping) else None
        if (
            not isinstance(value, str)
            or not value
            or not isinstance(lifetime, int)
            or isinstance(lifetime, bool)
            or lifetime <= 0
        ):
            raise PayPalUnavailable("token: PayPal's answer has no access_token or expires_in", name="UNREADABLE_ANSWER")
        margin = min(self._token_margin, timedelta(seconds=lifetime) / 2)
        log.debug("PayPal token obtained, valid %s s", lifetime)
        return _Token(Secret(value), self._clock.now() + timedelta(seconds=lifetime) - margin)


def _segment(value: str) -> str:
    """An id as one path segment: PayPal's ids are letters and digits; anything else is quoted, never a path."""
    if not value:
        raise ValueError("an empty id")
    return quote(value, safe="")


def _with_capture(refund: Refund, capture_id: str) -> Refund:
    return Refund(refund.id, refund.status, refund.amount, refund.currency, refund.fee, capture_id, refund.raw)


def _payout_item(line: PayoutLine) -> dict[str, Any]:
    item: dict[str, Any] = {
        "recipient_type": "EMAIL",
        "receiver": line.receiver,
        "amount": {"currency": line.currency, "value": to_paypal(line.amount, line.currency)},
        "sender_item_id": line.sender_item_id,
    }
    if line.note is not None:
        item["note"] = line.note
    return item


def _details(body: Any) -> tuple[Mapping[str, Any], ...]:
    details = body.get("details") if isinstance(body, Mapping) else None
    return tuple(entry for entry in details if isinstance(entry, Mapping)) if isinstance(details, list) else ()


def _error(answer: _Answer, what: str) -> PayPalError:
    """PayPal's error answer as our exception: 5xx, 429 and a request still in progress are unknown outcomes."""
    body = answer.body if isinstance(answer.body, Mapping) else {}
    name = body.get("name", body.get("error"))
    message = body.get("message", body.get("error_description"))
    details = _details(body)
    issue = next((entry["issue"] for entry in details if isinstance(entry.get("issue"), str)), None)
    name = name if isinstance(name, str) else None
    text = message[:300] if isinstance(message, str) and message else "no message"
    kind: type[PayPalError] = PayPalError
    if answer.status >= 500 or answer.status == 429 or issue == _REQUEST_IN_PROGRESS:
        kind = PayPalUnavailable
    elif answer.status == 401:
        kind = PayPalAuthError
    return kind(f"{what}: {text}", status=answer.status, name=name, debug_id=answer.debug_id, issue=issue, details=details)


def _duplicate_batch(error: PayPalError, sender_batch_id: str) -> PayPalDuplicateBatch | None:
    """PayPal's refusal of a reused sender_batch_id (400, a detail on SENDER_BATCH_ID), with the original's id."""
    if error.status != 400 or isinstance(error, PayPalUnavailable):
        return None
    for detail in error.details:
        field = str(detail.get("field", "")).upper()
        issue = str(detail.get("issue", "")).lower()
        if field != "SENDER_BATCH_ID" and "sender_batch_id" not in issue:
            continue
        return PayPalDuplicateBatch(
            f"create payout: sender_batch_id {sender_batch_id!r} was used in the last 30 days",
            sender_batch_id=sender_batch_id,
            payout_batch_id=_linked_batch(detail),
            status=error.status,
            name=error.name,
            debug_id=error.debug_id,
            issue=error.issue,
            details=error.details,
        )
    return None


def _linked_batch(detail: Mapping[str, Any]) -> str | None:
    """The payout_batch_id at the end of the detail's link to the original payout."""
    links = detail.get("link", detail.get("links"))
    entries: Iterable[Any] = links if isinstance(links, list) else [links] if isinstance(links, Mapping) else ()
    for entry in entries:
        href = entry.get("href") if isinstance(entry, Mapping) else None
        if isinstance(href, str) and "/v1/payments/payouts/" in href:
            batch_id = urlsplit(href).path.rstrip("/").rsplit("/", 1)[-1]
            if batch_id:
                return batch_id
    return None


def _event_text(body: bytes | str | Mapping[str, Any]) -> str | None:
    """The webhook's body as JSON text, unchanged, if it is a JSON object; else None."""
    if isinstance(body, Mapping):
        return json.dumps(body, default=str)
    try:
        text = body.decode("utf-8") if isinstance(body, bytes) else body
        parsed = json.loads(text, parse_float=Decimal, parse_constant=_no_constant)
    except ValueError:
        return None
    return text.strip() if isinstance(parsed, dict) else None


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")
