"""A stateful fake of PayPal's REST API, in-process on 127.0.0.1, for the PayPal client and rail.

It answers as PayPal's REST reference documents, as far as the gateway uses it:

- ``POST /v1/oauth2/token``: client credentials over basic auth; tokens expire
  (after ``token_lifetime`` seconds of the fake's own clock, ``advance``) or are
  revoked at once (``revoke_tokens``). Other routes need a live bearer token: a
  401 ``AUTHENTICATION_FAILURE`` (v2) or ``invalid_token`` (v1) otherwise.
- Orders v2: create (``intent=CAPTURE``, one purchase unit; PayPal's decimals per
  currency), get, capture (only an APPROVED order: else 422 ``ORDER_NOT_APPROVED``,
  or ``ORDER_ALREADY_CAPTURED``), with PayPal's fee in ``seller_receivable_breakdown``.
  The buyer is played by ``POST /_test/orders/{id}/approve`` (or by following the
  ``approve`` link, ``GET /checkoutnow?token=…``, which redirects to the return URL).
- Payments v2: get a capture, refund it (wholly or in part), get a refund.
- Payouts v1: create a batch (a ``sender_batch_id`` used in the last 30 days is
  the documented 400 ``USER_BUSINESS_ERROR`` with a link to the original), get a
  batch (paged), get an item. Each item's outcome is chosen by its receiver's
  address: the part before ``@`` names the status (``unclaimed@example.com`` is
  UNCLAIMED; ``returned@``, ``failed@``, ``pending@``, ``onhold@``, ``blocked@``,
  ``denied@``, ``refunded@``, ``reversed@`` likewise), anything else is SUCCESS;
  ``payout_outcomes[receiver]`` overrides, and ``POST /_test/payouts-item/{id}/status``
  moves an item later (UNCLAIMED to RETURNED after 30 days, say).
- Webhooks: ``POST /v1/notifications/verify-webhook-signature`` answers SUCCESS
  only for a transmission this fake made (``sign_event``, ``send_webhook`` or
  ``POST /_test/webhooks``) with the same headers, webhook id and event.
- ``PayPal-Request-Id``: a POST with an id seen before (same path) replays the
  first successful answer, for as long as PayPal keeps ids (6 h for creating an
  order, 45 days for captures and refunds, 30 days for payouts); the same id
  while the first request is still being answered is 422
  ``PREVIOUS_REQUEST_IN_PROGRESS``.
- Errors have PayPal's JSON shape: name, message, debug_id, details, links
  (and a ``Paypal-Debug-Id`` header).

Fault injection, per route name (``ROUTES``): ``fail_next`` makes the next calls
answer 500, before doing anything or after doing the work (the worst case: it
happened, the caller is told it did not); ``hang_next`` holds the next call,
before or after the work, until the test releases it (``Hang``), so that the
client's timeout fires without any sleep in the test.

Not covered: AUTHORIZE intent and authorizations, several purchase units,
vault and card payment sources, order PATCH, payer-action flows, disputes,
webhook management (lists, subscriptions), the offline (certificate) webhook
check, rate limits, and PayPal's exact fees (``capture_fee``, ``payout_fee``
are of PayPal's kind, not its tariff).
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import re
import secrets
import uuid
import zlib
from collections import Counter, deque
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any
from urllib.parse import urlencode

import aiohttp
import pytest
from aiohttp import web

from gateway.clock import FixedClock

# The fake's own knowledge of PayPal's currencies (kept apart from the client's table on purpose).
DECIMALS = {code: 2 for code in "AUD BRL CAD CHF CNY CZK DKK EUR GBP HKD ILS MXN MYR NOK NZD PHP PLN RUB SEK SGD THB USD".split()}
DECIMALS.update({"HUF": 0, "JPY": 0, "TWD": 0})

CAPTURE_FEE_RATE = Decimal("0.0349")
CAPTURE_FEE_FIXED = {
    "USD": Decimal("0.49"),
    "EUR": Decimal("0.39"),
    "GBP": Decimal("0.30"),
    "JPY": Decimal(40),
    "HUF": Decimal(90),
}
CAPTURE_FEE_FIXED.update({"TWD": Decimal(10)})
PAYOUT_FEE_RATE = Decimal("0.02")

ITEM_STATUSES = ("SUCCESS", "FAILED", "PENDING", "UNCLAIMED", "RETURNED", "ONHOLD", "BLOCKED", "REFUNDED", "REVERSED", "DENIED")
ITEM_ERRORS = {
    "UNCLAIMED": ("RECEIVER_UNREGISTERED", "Receiver is unregistered. Send a reminder or cancel the payout."),
    "RETURNED": ("RECEIVER_UNREGISTERED", "Receiver is unregistered and the unclaimed payout was returned."),
    "FAILED": ("RECEIVER_ACCOUNT_LOCKED", "Receiver's account is locked or inactive."),
    "BLOCKED": ("RECEIVER_COUNTRY_NOT_ALLOWED", "The payout was blocked."),
    "DENIED": ("RISK_DENIED", "The payout was denied."),
}
NO_FEE = {"FAILED", "RETURNED", "BLOCKED", "DENIED", "REFUNDED", "REVERSED"}

# PayPal's names of the routes, for fault injection and call counts.
ROUTES = (
    "token",
    "create_order",
    "get_order",
    "capture",
    "get_capture",
    "refund",
    "get_refund",
    "create_payout",
    "get_payout_batch",
    "get_payout_item",
    "verify_webhook",
)
# How long PayPal keeps a PayPal-Request-Id, by route.
RETENTION = {
    "create_order": timedelta(hours=6),
    "capture": timedelta(days=45),
    "refund": timedelta(days=45),
    "create_payout": timedelta(days=30),
}
SENDER_BATCH_ID_DAYS = timedelta(days=30)

_VALUE = re.compile(r"-?(?:[0-9]+|[0-9]*\.[0-9]+)", re.ASCII)
_V2_UNPROCESSABLE = "The requested action could not be performed, semantically incorrect, or failed business validation."

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@dataclass
class Hang:
    """A call held by the fake: ``arrived`` when it came, held until ``release()``, ``done`` once answered (or dropped)."""

    arrived: asyncio.Event = field(default_factory=asyncio.Event)
    released: asyncio.Event = field(default_factory=asyncio.Event)
    done: asyncio.Event = field(default_factory=asyncio.Event)

    def release(self) -> None:
        self.released.set()


@dataclass
class _Fault:
    kind: str  # "fail" or "hang"
    after: bool
    status: int = 500
    hang: Hang | None = None


@dataclass
class _Transmission:
    webhook_id: str
    time: str
    signature: str
    cert_url: str
    auth_algo: str
    event: dict[str, Any]


class PayPalProblem(Exception):
    """An error answer in PayPal's shape, raised inside a handler."""

    def __init__(self, status: int, body: dict[str, Any]) -> None:
        super().__init__(body.get("name") or body.get("error"))
        self.status = status
        self.body = body


def _amount_text(value: Decimal) -> str:
    return f"{value:f}"


class FakePayPal:
    """The fake's state, its routes, and its test controls. ``start()`` serves it on 127.0.0.1 at a free port."""

    def __init__(
        self,
        *,
        client_id: str = "fake-client-id",
        secret: str = "fake-secret-do-not-leak",
        token_lifetime: int = 32400,
        clock: FixedClock | None = None,
    ) -> None:
        self.client_id = client_id
        self.secret = secret
        self.token_lifetime = token_lifetime
        self.clock = clock or FixedClock(datetime(2026, 11, 16, 9, 0, tzinfo=UTC))
        self.url = ""
        self.tokens: dict[str, datetime] = {}
        self.tokens_issued = 0
        self.orders: dict[str, dict[str, Any]] = {}
        self.captures: dict[str, dict[str, Any]] = {}
        self.refunds: dict[str, dict[str, Any]] = {}
        self.batches: dict[str, dict[str, Any]] = {}
        self.payout_items: dict[str, dict[str, Any]] = {}
        self.payout_outcomes: dict[str, str] = {}  # receiver -> transaction_status, over the address rule
        self.sent_webhooks: list[dict[str, Any]] = []
        self.calls: Counter[str] = Counter()
        self._buyer: dict[str, dict[str, Any]] = {}  # order id -> what the buyer chose at approval
        self._transmissions: dict[str, _Transmission] = {}
        self._replays: dict[tuple[str, str], tuple[datetime, str, int, str]] = {}
        self._in_flight: set[tuple[str, str]] = set()
        self._faults: dict[str, deque[_Fault]] = {}
        self._hangs: list[Hang] = []
        self._serial = 0
        self._signing_key = secrets.token_bytes(32)
        self._runner: web.AppRunner | None = None

    # --- running ---------------------------------------------------------------------------

    async def start(self) -> None:
        self._runner = web.AppRunner(self.app())  # handlers run to their end even when the client gives up
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        server = site._server
        assert server is not None
        port = server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        self.url = f"http://127.0.0.1:{port}"

    async def stop(self) -> None:
        for hang in self._hangs:
            hang.release()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    def app(self) -> web.Application:
        app = web.Application(middlewares=[self._middleware])
        add = app.router.add_route
        add("POST", "/v1/oauth2/token", self._token, name="token")
        add("POST", "/v2/checkout/orders", self._create_order, name="create_order")
        add("GET", "/v2/checkout/orders/{id}", self._get_order, name="get_order")
        add("POST", "/v2/checkout/orders/{id}/capture", self._capture, name="capture")
        add("GET", "/v2/payments/captures/{id}", self._get_capture, name="get_capture")
        add("POST", "/v2/payments/captures/{id}/refund", self._refund, name="refund")
        add("GET", "/v2/payments/refunds/{id}", self._get_refund, name="get_refund")
        add("POST", "/v1/payments/payouts", self._create_payout, name="create_payout")
        add("GET", "/v1/payments/payouts/{id}", self._get_payout_batch, name="get_payout_batch")
        add("GET", "/v1/payments/payouts-item/{id}", self._get_payout_item, name="get_payout_item")
        add("POST", "/v1/notifications/verify-webhook-signature", self._verify_webhook, name="verify_webhook")
        add("GET", "/checkoutnow", self._checkoutnow, name="_test_checkoutnow")
        add("POST", "/_test/orders/{id}/approve", self._test_approve, name="_test_approve")
        add("POST", "/_test/payouts-item/{id}/status", self._test_item_status, name="_test_item_status")
        add("POST", "/_test/webhooks", self._test_webhook, name="_test_webhook")
        return app

    # --- test controls ---------------------------------------------------------------------

    def fail_next(self, route: str, times: int = 1, *, status: int = 500, after: bool = False) -> None:
        """The next ``times`` calls of ``route`` answer ``status``; with ``after``, once the work is done."""
        self._check_route(route)
        for _ in range(times):
            self._faults.setdefault(route, deque()).append(_Fault("fail", after, status))

    def hang_next(self, route: str, *, after: bool = False) -> Hang:
        """Hold the next call of ``route`` (before the work, or with ``after`` once it is done) until ``release()``."""
        self._check_route(route)
        hang = Hang()
        self._hangs.append(hang)
        self._faults.setdefault(route, deque()).append(_Fault("hang", after, hang=hang))
        return hang

    def advance(self, delta: timedelta) -> None:
        """Move the fake's clock: tokens expire, kept request ids are forgotten."""
        self.clock.set(self.clock.now() + delta)

    def revoke_tokens(self) -> None:
        self.tokens.clear()

    def forget_request_ids(self) -> None:
        """PayPal no longer knows the PayPal-Request-Ids it was sent (their time is up)."""
        self._replays.clear()

    def approve(self, order_id: str, *, capture_status: str = "COMPLETED", instrument_declined: bool = False) -> dict[str, Any]:
        """The buyer approves ``order_id``; the capture will be ``capture_status`` (COMPLETED, PENDING, DECLINED)."""
        order = self.orders.get(order_id)
        if order is None:
            raise PayPalProblem(404, _not_found("order_id", order_id))
        if order["status"] != "CREATED":
            raise PayPalProblem(422, _unprocessable("ORDER_ALREADY_APPROVED", "The order was approved before."))
        order["status"] = "APPROVED"
        order["payer"] = {
            "payer_id": f"FAKEPAYER{len(self._buyer) + 1:08d}",
            "email_address": "buyer@example.com",
            "name": {"given_name": "Fake", "surname": "Buyer"},
        }
        order["update_time"] = self._now()
        self._buyer[order_id] = {"capture_status": capture_status, "instrument_declined": instrument_declined}
        return order

    def set_item_status(self, payout_item_id: str, status: str) -> dict[str, Any]:
        item = self.payout_items[payout_item_id]
        self._settle_item(item, status)
        return item

    def capture_fee(self, amount: Decimal, currency: str) -> Decimal:
        """The fake's fee on a capture: 3.49 % and a fixed part by currency, never more than the amount."""
        fixed = CAPTURE_FEE_FIXED.get(currency, Decimal("0.30"))
        fee = _round(amount * CAPTURE_FEE_RATE + fixed, currency)
        return min(fee, amount)

    def payout_fee(self, amount: Decimal, currency: str) -> Decimal:
        return _round(amount * PAYOUT_FEE_RATE, currency)

    def sign_event(self, webhook_id: str, event: dict[str, Any]) -> tuple[dict[str, str], bytes]:
        """The headers and body PayPal would send ``event`` with, to the webhook ``webhook_id``."""
        body = json.dumps(event).encode()
        transmission_id = str(uuid.uuid1())
        time = self.clock.now().strftime("%Y-%m-%dT%H:%M:%SZ")
        message = f"{transmission_id}|{time}|{webhook_id}|{zlib.crc32(body)}".encode()
        signature = base64.b64encode(hmac.new(self._signing_key, message, hashlib.sha256).digest()).decode()
        cert_url = f"{self.url}/v1/notifications/certs/CERT-360caa42-fca2a594-fake"
        self._transmissions[transmission_id] = _Transmission(webhook_id, time, signature, cert_url, "SHA256withRSA", event)
        headers = {
            "PAYPAL-TRANSMISSION-ID": transmission_id,
            "PAYPAL-TRANSMISSION-TIME": time,
            "PAYPAL-TRANSMISSION-SIG": signature,
            "PAYPAL-CERT-URL": cert_url,
            "PAYPAL-AUTH-ALGO": "SHA256withRSA",
            "Content-Type": "application/json",
        }
        return headers, body

    def event(self, event_type: str, resource_id: str | None = None, resource: dict[str, Any] | None = None) -> dict[str, Any]:
        """A webhook event of ``event_type`` about one of the fake's objects (or ``resource`` as given)."""
        resource_type = "unknown"
        for kind, store in (
            ("checkout-order", self.orders),
            ("capture", self.captures),
            ("refund", self.refunds),
            ("payouts_item", self.payout_items),
        ):
            if resource_id is not None and resource_id in store:
                resource, resource_type = store[resource_id], kind
        if resource_id is not None and resource_id in self.batches:
            resource, resource_type = {"batch_header": self._batch_header(self.batches[resource_id])}, "payouts"
        if resource is None:
            raise KeyError(f"no object {resource_id!r} for a webhook")
        return {
            "id": f"WH-{self._next_id('', 17)}",
            "event_version": "1.0",
            "create_time": self._now(),
            "resource_type": resource_type,
            "resource_version": "2.0",
            "event_type": event_type,
            "summary": f"{event_type} (fake)",
            "resource": json.loads(json.dumps(resource)),
            "links": [],
        }

    async def send_webhook(
        self, url: str, webhook_id: str, event_type: str, resource_id: str | None = None, resource: dict[str, Any] | None = None
    ) -> tuple[int, dict[str, Any], dict[str, str]]:
        """POST a signed event to ``url`` (a test's server): its answer's status, the event and the headers sent."""
        event = self.event(event_type, resource_id, resource)
        headers, body = self.sign_event(webhook_id, event)
        async with aiohttp.ClientSession() as session, session.post(url, data=body, headers=headers) as response:
            await response.read()
            status = response.status
        self.sent_webhooks.append(event)
        return status, event, headers

    # --- the middleware: tokens, faults, request ids ---------------------------------------

    @web.middleware
    async def _middleware(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        route = request.match_info.route.name
        if route is None or route.startswith("_test"):
            return await self._answer(request, handler)
        self.calls[route] += 1
        if route != "token":
            refused = self._check_bearer(request)
            if refused is not None:
                return refused
        request_id = request.headers.get("PayPal-Request-Id") if request.method == "POST" else None
        key = (request.path, request_id) if request_id else None
        if key is not None:
            kept = self._replays.get(key)
            if kept is not None and self.clock.now() - kept[0] <= RETENTION.get(route, timedelta(days=45)):
                _, _, status, text = kept
                return web.Response(status=status, text=text, content_type="application/json")
            if key in self._in_flight:
                return _problem(
                    422,
                    _unprocessable(
                        "PREVIOUS_REQUEST_IN_PROGRESS",
                        "A previous request on this resource is currently in progress. Please wait for some time and try again.",
                    ),
                )
            self._in_flight.add(key)
        fault = self._faults[route].popleft() if self._faults.get(route) else None
        try:
            if fault is not None and not fault.after:
                if fault.kind == "fail":
                    return _problem(fault.status, _internal_error())
                await self._hold(fault)
            response = await self._answer(request, handler)
            if (
                key is not None
                and 200 <= response.status < 300
                and isinstance(response, web.Response)
                and response.text is not None
            ):
                self._replays[key] = (self.clock.now(), route, response.status, response.text)
            if fault is not None and fault.after:
                if fault.kind == "fail":
                    return _problem(fault.status, _internal_error())
                await self._hold(fault)
            return response
        finally:
            if key is not None:
                self._in_flight.discard(key)
            if fault is not None and fault.hang is not None:
                fault.hang.done.set()

    async def _hold(self, fault: _Fault) -> None:
        assert fault.hang is not None
        fault.hang.arrived.set()
        await fault.hang.released.wait()

    async def _answer(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        try:
            return await handler(request)
        except PayPalProblem as problem:
            return _problem(problem.status, problem.body)

    def _check_bearer(self, request: web.Request) -> web.Response | None:
        header = request.headers.get("Authorization", "")
        token = header[len("Bearer ") :] if header.startswith("Bearer ") else ""
        expires = self.tokens.get(token)
        if expires is not None and self.clock.now() < expires:
            return None
        if request.path.startswith("/v2/"):
            return _problem(
                401,
                {
                    "name": "AUTHENTICATION_FAILURE",
                    "message": "Authentication failed due to invalid authentication credentials or a missing Authorization header.",
                    "links": [{"href": "https://developer.paypal.com/docs/api/overview/#error", "rel": "information_link"}],
                },
            )
        return _problem(401, {"error": "invalid_token", "error_description": "Access Token not found in cache"})

    # --- OAuth2 ----------------------------------------------------------------------------

    async def _token(self, request: web.Request) -> web.StreamResponse:
        expected = "Basic " + base64.b64encode(f"{self.client_id}:{self.secret}".encode()).decode()
        if not hmac.compare_digest(request.headers.get("Authorization", ""), expected):
            return _problem(401, {"error": "invalid_client", "error_description": "Client Authentication failed"})
        form = await request.post()
        if form.get("grant_type") != "client_credentials":
            return _problem(400, {"error": "unsupported_grant_type", "error_description": "Grant Type is NULL"})
        token = "A21AA" + secrets.token_urlsafe(24)
        self.tokens[token] = self.clock.now() + timedelta(seconds=self.token_lifetime)
        self.tokens_issued += 1
        return web.json_response(
            {
                "scope": "https://uri.paypal.com/services/payments/payment https://uri.paypal.com/payments/payouts",
                "access_token": token,
                "token_type": "Bearer",
                "app_id": "APP-80W284485P519543T",
                "expires_in": self.token_lifetime,
                "nonce": f"{self._now()}{secrets.token_hex(8)}",
            }
        )

    # --- Orders v2 -------------------------------------------------------------------------

    async def _create_order(self, request: web.Request) -> web.StreamResponse:
        body = await _json_body(request)
        if body.get("intent") != "CAPTURE":
            raise PayPalProblem(400, _invalid_request("/intent", body.get("intent"), "INVALID_PARAMETER_VALUE"))
        units = body.get("purchase_units")
        if not isinstance(units, list) or len(units) != 1 or not isinstance(units[0], dict):
            raise PayPalProblem(400, _invalid_request("/purchase_units", None, "INVALID_ARRAY_LENGTH"))
        unit = units[0]
        amount = unit.get("amount") if isinstance(unit.get("amount"), dict) else {}
        self._check_amount(
            amount.get("value"), amount.get("currency_code"), "/purchase_units/@reference_id=='default'/amount/value"
        )
        context = body.get("application_context") if isinstance(body.get("application_context"), dict) else {}
        order_id = self._next_id("O", 17)
        now = self._now()
        order: dict[str, Any] = {
            "id": order_id,
            "intent": "CAPTURE",
            "status": "CREATED",
            "purchase_units": [
                {
                    "reference_id": unit.get("reference_id", "default"),
                    "amount": {"currency_code": amount["currency_code"], "value": amount["value"]},
                    "payee": {"email_address": "merchant@example.com", "merchant_id": "FAKEMERCHANT1"},
                    **{key: unit[key] for key in ("custom_id", "description", "invoice_id") if key in unit},
                }
            ],
            "application_context": context,
            "create_time": now,
            "update_time": now,
        }
        self.orders[order_id] = order
        representation = self._order_json(order)
        if "return=representation" not in request.headers.get("Prefer", ""):
            representation = {key: representation[key] for key in ("id", "status", "links")}
        return web.json_response(representation, status=201)

    async def _get_order(self, request: web.Request) -> web.StreamResponse:
        return web.json_response(self._order_json(self._order(request)))

    async def _capture(self, request: web.Request) -> web.StreamResponse:
        order = self._order(request)
        if order["status"] == "COMPLETED":
            raise PayPalProblem(
                422,
                _unprocessable(
                    "ORDER_ALREADY_CAPTURED", "Order already captured.If 'intent=CAPTURE' only one capture per order is allowed."
                ),
            )
        if order["status"] != "APPROVED":
            raise PayPalProblem(
                422,
                _unprocessable(
                    "ORDER_NOT_APPROVED",
                    "Payer has not yet approved the Order for payment. Please redirect the payer to the 'rel':'approve' url "
                    "returned as part of the HATEOAS links within the Create Order call or provide a valid payment_source in the request.",
                ),
            )
        choice = self._buyer.get(order["id"], {})
        if choice.get("instrument_declined"):
            raise PayPalProblem(
                422,
                _unprocessable(
                    "INSTRUMENT_DECLINED",
                    "The instrument presented was either declined by the processor or bank, or it can't be used for this payment.",
                ),
            )
        unit = order["purchase_units"][0]
        value, currency = Decimal(unit["amount"]["value"]), unit["amount"]["currency_code"]
        status = choice.get("capture_status", "COMPLETED")
        capture_id = self._next_id("C", 17)
        now = self._now()
        capture: dict[str, Any] = {
            "id": capture_id,
            "status": status,
            "amount": {"currency_code": currency, "value": unit["amount"]["value"]},
            "final_capture": True,
            "seller_protection": {"status": "ELIGIBLE", "dispute_categories": ["ITEM_NOT_RECEIVED", "UNAUTHORIZED_TRANSACTION"]},
            "create_time": now,
            "update_time": now,
            "supplementary_data": {"related_ids": {"order_id": order["id"]}},
            "links": [
                {"href": f"{self.url}/v2/payments/captures/{capture_id}", "rel": "self", "method": "GET"},
                {"href": f"{self.url}/v2/payments/captures/{capture_id}/refund", "rel": "refund", "method": "POST"},
                {"href": f"{self.url}/v2/checkout/orders/{order['id']}", "rel": "up", "method": "GET"},
            ],
        }
        if "custom_id" in unit:
            capture["custom_id"] = unit["custom_id"]
        if status == "PENDING":
            capture["status_details"] = {"reason": "PENDING_REVIEW"}
        if status in ("COMPLETED", "PENDING"):
            fee = self.capture_fee(value, currency)
            capture["seller_receivable_breakdown"] = {
                "gross_amount": {"currency_code": currency, "value": unit["amount"]["value"]},
                "paypal_fee": {"currency_code": currency, "value": _amount_text(fee)},
                "net_amount": {"currency_code": currency, "value": _amount_text(value - fee)},
            }
        self.captures[capture_id] = capture
        unit["payments"] = {"captures": [capture]}
        order["status"] = "COMPLETED"
        order["update_time"] = now
        answer = self._order_json(order)
        if "return=representation" not in request.headers.get("Prefer", ""):
            answer = {
                "id": order["id"],
                "status": order["status"],
                "purchase_units": [{"reference_id": unit["reference_id"], "payments": {"captures": [capture]}}],
                "links": answer["links"],
            }
        return web.json_response(answer, status=201)

    def _order(self, request: web.Request) -> dict[str, Any]:
        order_id = request.match_info["id"]
        order = self.orders.get(order_id)
        if order is None:
            raise PayPalProblem(404, _not_found("order_id", order_id))
        return order

    def _order_json(self, order: dict[str, Any]) -> dict[str, Any]:
        answer = {key: value for key, value in order.items() if key != "application_context"}
        links = [{"href": f"{self.url}/v2/checkout/orders/{order['id']}", "rel": "self", "method": "GET"}]
        if order["status"] == "CREATED":
            links.append({"href": f"{self.url}/checkoutnow?token={order['id']}", "rel": "approve", "method": "GET"})
        if order["status"] in ("CREATED", "APPROVED"):
            links.append({"href": f"{self.url}/v2/checkout/orders/{order['id']}", "rel": "update", "method": "PATCH"})
            links.append({"href": f"{self.url}/v2/checkout/orders/{order['id']}/capture", "rel": "capture", "method": "POST"})
        answer["links"] = links
        return json.loads(json.dumps(answer))

    async def _checkoutnow(self, request: web.Request) -> web.StreamResponse:
        """The buyer followed the approve link and approved: back to the shop's return URL."""
        order_id = request.query.get("token", "")
        order = self.approve(order_id)
        return_url = order["application_context"].get("return_url") or f"{self.url}/"
        separator = "&" if "?" in return_url else "?"
        raise web.HTTPFound(return_url + separator + urlencode({"token": order_id, "PayerID": order["payer"]["payer_id"]}))

    async def _test_approve(self, request: web.Request) -> web.StreamResponse:
        body = await _json_body(request) if request.can_read_body else {}
        order = self.approve(
            request.match_info["id"],
            capture_status=str(body.get("capture_status", "COMPLETED")),
            instrument_declined=bool(body.get("instrument_declined", False)),
        )
        return web.json_response(self._order_json(order))

    # --- Payments v2 -----------------------------------------------------------------------

    async def _get_capture(self, request: web.Request) -> web.StreamResponse:
        return web.json_response(self._capture_of(request))

    def _capture_of(self, request: web.Request) -> dict[str, Any]:
        capture = self.captures.get(request.match_info["id"])
        if capture is None:
            raise PayPalProblem(404, _not_found("capture_id", request.match_info["id"]))
        return capture

    async def _refund(self, request: web.Request) -> web.StreamResponse:
        capture = self._capture_of(request)
        body = await _json_body(request) if request.can_read_body else {}
        gross, currency = Decimal(capture["amount"]["value"]), capture["amount"]["currency_code"]
        refunded = sum(
            (Decimal(refund["amount"]["value"]) for refund in self.refunds.values() if refund["_capture_id"] == capture["id"]),
            Decimal(0),
        )
        if capture["status"] == "REFUNDED":
            raise PayPalProblem(422, _unprocessable("CAPTURE_FULLY_REFUNDED", "The capture has already been fully refunded"))
        if capture["status"] not in ("COMPLETED", "PARTIALLY_REFUNDED"):
            raise PayPalProblem(422, _unprocessable("REFUND_NOT_ALLOWED", f"A {capture['status']} capture cannot be refunded."))
        asked = body.get("amount")
        if asked is None:
            value = gross - refunded
        else:
            if not isinstance(asked, dict):
                raise PayPalProblem(400, _invalid_request("/amount", None, "INVALID_PARAMETER_SYNTAX"))
            if asked.get("currency_code") != currency:
                raise PayPalProblem(
                    422, _unprocessable("REFUND_CAPTURE_CURRENCY_MISMATCH", "Refund must be in the same currency as the capture.")
                )
            value = self._check_amount(asked.get("value"), currency, "/amount/value")
            if value > gross - refunded:
                raise PayPalProblem(
                    422,
                    _unprocessable(
                        "REFUND_AMOUNT_EXCEEDED",
                        "The refund amount must be less than or equal to the capture amount that has not yet been refunded.",
                    ),
                )
        refund_id = self._next_id("R", 17)
        fee_back = _round(value * CAPTURE_FEE_RATE, currency)  # the percentage part comes back, not the fixed part
        now = self._now()
        refund = {
            "id": refund_id,
            "status": "COMPLETED",
            "amount": {"currency_code": currency, "value": _amount_text(_round(value, currency))},
            "seller_payable_breakdown": {
                "gross_amount": {"currency_code": currency, "value": _amount_text(_round(value, currency))},
                "paypal_fee": {"currency_code": currency, "value": _amount_text(fee_back)},
                "net_amount": {"currency_code": currency, "value": _amount_text(_round(value - fee_back, currency))},
                "total_refunded_amount": {"currency_code": currency, "value": _amount_text(_round(refunded + value, currency))},
            },
            "create_time": now,
            "update_time": now,
            "links": [
                {"href": f"{self.url}/v2/payments/refunds/{refund_id}", "rel": "self", "method": "GET"},
                {"href": f"{self.url}/v2/payments/captures/{capture['id']}", "rel": "up", "method": "GET"},
            ],
            "_capture_id": capture["id"],
        }
        self.refunds[refund_id] = refund
        capture["status"] = "REFUNDED" if refunded + value == gross else "PARTIALLY_REFUNDED"
        capture["update_time"] = now
        return web.json_response(_public(refund), status=201)

    async def _get_refund(self, request: web.Request) -> web.StreamResponse:
        refund = self.refunds.get(request.match_info["id"])
        if refund is None:
            raise PayPalProblem(404, _not_found("refund_id", request.match_info["id"]))
        return web.json_response(_public(refund))

    # --- Payouts v1 ------------------------------------------------------------------------

    async def _create_payout(self, request: web.Request) -> web.StreamResponse:
        body = await _json_body(request)
        header = body.get("sender_batch_header")
        items = body.get("items")
        if not isinstance(header, dict):
            raise PayPalProblem(400, _validation_error("sender_batch_header", "Required field missing"))
        if not isinstance(items, list) or not 1 <= len(items) <= 15000:
            raise PayPalProblem(400, _validation_error("items", "Items must hold 1 to 15000 payouts"))
        sender_batch_id = header.get("sender_batch_id")
        now = self.clock.now()
        for batch in self.batches.values():
            used = batch["sender_batch_header"].get("sender_batch_id")
            if sender_batch_id is not None and used == sender_batch_id and now - batch["_created"] <= SENDER_BATCH_ID_DAYS:
                raise PayPalProblem(
                    400,
                    {
                        "name": "USER_BUSINESS_ERROR",
                        "message": "User business error.",
                        "debug_id": _debug_id(),
                        "information_link": "https://developer.paypal.com/docs/api/payments.payouts-batch/#errors",
                        "details": [
                            {
                                "field": "SENDER_BATCH_ID",
                                "location": "body",
                                "issue": "Batch with given sender_batch_id already exists",
                                "link": [
                                    {
                                        "href": f"{self.url}/v1/payments/payouts/{batch['payout_batch_id']}",
                                        "rel": "self",
                                        "method": "GET",
                                        "encType": "application/json",
                                    }
                                ],
                            }
                        ],
                        "links": [],
                    },
                )
        checked = []
        for index, item in enumerate(items):
            if (
                not isinstance(item, dict)
                or not isinstance(item.get("receiver"), str)
                or not isinstance(item.get("amount"), dict)
            ):
                raise PayPalProblem(400, _validation_error(f"items[{index}]", "Each item needs a receiver and an amount"))
            try:
                value = self._check_amount(
                    item["amount"].get("value"), item["amount"].get("currency"), f"items[{index}].amount.value"
                )
            except PayPalProblem as problem:
                issue = problem.body.get("details", [{}])[0].get("issue", "INVALID_AMOUNT")
                raise PayPalProblem(400, _validation_error(f"items[{index}].amount.value", issue)) from None
            checked.append((item, value))
        batch_id = self._next_id("B", 13)
        stamp = self._now()
        batch = {
            "payout_batch_id": batch_id,
            "sender_batch_header": {key: value for key, value in header.items()},
            "time_created": stamp,
            "_created": now,
            "_items": [],
        }
        for item, value in checked:
            currency = item["amount"]["currency"]
            item_id = self._next_id("I", 13)
            record: dict[str, Any] = {
                "payout_item_id": item_id,
                "transaction_status": "PENDING",
                "payout_item_fee": {"currency": currency, "value": _amount_text(self.payout_fee(value, currency))},
                "payout_batch_id": batch_id,
                "sender_batch_id": sender_batch_id,
                "payout_item": {
                    "recipient_type": item.get("recipient_type", header.get("recipient_type", "EMAIL")),
                    "amount": {"currency": currency, "value": item["amount"]["value"]},
                    **({"note": item["note"]} if "note" in item else {}),
                    "receiver": item["receiver"],
                    "sender_item_id": item.get("sender_item_id"),
                    "recipient_wallet": "PAYPAL",
                },
                "links": [{"href": f"{self.url}/v1/payments/payouts-item/{item_id}", "rel": "item", "method": "GET"}],
            }
            self._settle_item(record, self._outcome(item["receiver"]))
            self.payout_items[item_id] = record
            batch["_items"].append(item_id)
        self.batches[batch_id] = batch
        answer = {
            "batch_header": {
                "payout_batch_id": batch_id,
                "batch_status": "PENDING",
                "sender_batch_header": batch["sender_batch_header"],
            },
            "links": [
                {
                    "href": f"{self.url}/v1/payments/payouts/{batch_id}",
                    "rel": "self",
                    "method": "GET",
                    "encType": "application/json",
                }
            ],
        }
        return web.json_response(answer, status=201)

    def _outcome(self, receiver: str) -> str:
        if receiver in self.payout_outcomes:
            return self.payout_outcomes[receiver]
        local = receiver.split("@", 1)[0].upper()
        return local if local in ITEM_STATUSES else "SUCCESS"

    def _settle_item(self, item: dict[str, Any], status: str) -> None:
        if status not in ITEM_STATUSES:
            raise ValueError(f"{status!r} is not a payout item status")
        item["transaction_status"] = status
        item["time_processed"] = self._now()
        if status == "SUCCESS":
            item["transaction_id"] = self._next_id("T", 17)
        if status in NO_FEE:
            item["payout_item_fee"] = {
                **item["payout_item_fee"],
                "value": _amount_text(_round(Decimal(0), item["payout_item_fee"]["currency"])),
            }
        if status in ITEM_ERRORS:
            name, message = ITEM_ERRORS[status]
            item["errors"] = {
                "name": name,
                "message": message,
                "information_link": "https://developer.paypal.com/docs/api/payments.payouts-batch/#errors",
            }
        else:
            item.pop("errors", None)

    def _batch_header(self, batch: dict[str, Any]) -> dict[str, Any]:
        items = [self.payout_items[item_id] for item_id in batch["_items"]]
        statuses = {item["transaction_status"] for item in items}
        if statuses <= {"DENIED"}:
            status = "DENIED"
        elif statuses & {"PENDING", "ONHOLD"}:
            status = "PROCESSING"
        else:
            status = "SUCCESS"
        header: dict[str, Any] = {
            "payout_batch_id": batch["payout_batch_id"],
            "batch_status": status,
            "time_created": batch["time_created"],
            "sender_batch_header": batch["sender_batch_header"],
        }
        currencies = {item["payout_item"]["amount"]["currency"] for item in items}
        if len(currencies) == 1:
            (currency,) = currencies
            total = sum((Decimal(item["payout_item"]["amount"]["value"]) for item in items), Decimal(0))
            fees = sum((Decimal(item["payout_item_fee"]["value"]) for item in items), Decimal(0))
            header["amount"] = {"currency": currency, "value": _amount_text(_round(total, currency))}
            header["fees"] = {"currency": currency, "value": _amount_text(_round(fees, currency))}
        if status == "SUCCESS":
            header["time_completed"] = self._now()
        return header

    async def _get_payout_batch(self, request: web.Request) -> web.StreamResponse:
        batch = self.batches.get(request.match_info["id"])
        if batch is None:
            raise PayPalProblem(404, _v1_not_found())
        try:
            page = int(request.query.get("page", "1"))
            page_size = int(request.query.get("page_size", "1000"))
        except ValueError:
            raise PayPalProblem(400, _validation_error("page", "Invalid page or page_size")) from None
        if page < 1 or not 1 <= page_size <= 1000:
            raise PayPalProblem(400, _validation_error("page_size", "page_size must be 1 to 1000"))
        item_ids = batch["_items"]
        chosen = item_ids[(page - 1) * page_size : page * page_size]
        answer: dict[str, Any] = {
            "batch_header": self._batch_header(batch),
            "items": [self._item_json(self.payout_items[item_id], in_batch=True) for item_id in chosen],
            "links": [{"href": f"{self.url}/v1/payments/payouts/{batch['payout_batch_id']}", "rel": "self", "method": "GET"}],
        }
        if request.query.get("total_required") == "true":
            answer["total_items"] = len(item_ids)
            answer["total_page"] = max(1, -(-len(item_ids) // page_size))
        return web.json_response(answer)

    async def _get_payout_item(self, request: web.Request) -> web.StreamResponse:
        item = self.payout_items.get(request.match_info["id"])
        if item is None:
            raise PayPalProblem(404, _v1_not_found())
        return web.json_response(self._item_json(item, in_batch=False))

    def _item_json(self, item: dict[str, Any], *, in_batch: bool) -> dict[str, Any]:
        answer = json.loads(json.dumps(item))
        if in_batch:
            answer.pop("sender_batch_id", None)
        return answer

    async def _test_item_status(self, request: web.Request) -> web.StreamResponse:
        body = await _json_body(request)
        item_id = request.match_info["id"]
        if item_id not in self.payout_items:
            raise PayPalProblem(404, _v1_not_found())
        try:
            item = self.set_item_status(item_id, str(body.get("transaction_status")))
        except ValueError as error:
            raise PayPalProblem(400, _validation_error("transaction_status", str(error))) from None
        return web.json_response(self._item_json(item, in_batch=False))

    # --- Webhooks --------------------------------------------------------------------------

    async def _verify_webhook(self, request: web.Request) -> web.StreamResponse:
        body = await _json_body(request)
        fields = ("auth_algo", "cert_url", "transmission_id", "transmission_sig", "transmission_time", "webhook_id")
        for name in (*fields, "webhook_event"):
            if name not in body or body[name] in (None, ""):
                raise PayPalProblem(400, _validation_error(name, "Required field is missing"))
        if not isinstance(body["webhook_event"], dict):
            raise PayPalProblem(400, _validation_error("webhook_event", "Must be an object"))
        sent = self._transmissions.get(str(body["transmission_id"]))
        ok = (
            sent is not None
            and sent.webhook_id == body["webhook_id"]
            and sent.time == body["transmission_time"]
            and sent.cert_url == body["cert_url"]
            and sent.auth_algo == body["auth_algo"]
            and hmac.compare_digest(sent.signature, str(body["transmission_sig"]))
            and sent.event == body["webhook_event"]
        )
        return web.json_response({"verification_status": "SUCCESS" if ok else "FAILURE"})

    async def _test_webhook(self, request: web.Request) -> web.StreamResponse:
        body = await _json_body(request)
        try:
            status, event, headers = await self.send_webhook(
                str(body["url"]), str(body["webhook_id"]), str(body["event_type"]), body.get("resource_id"), body.get("resource")
            )
        except KeyError as error:
            raise PayPalProblem(400, _validation_error(str(error), "Required field is missing or unknown")) from None
        return web.json_response({"delivery_status": status, "event": event, "headers": headers})

    # --- helpers ---------------------------------------------------------------------------

    def _check_amount(self, value: Any, currency: Any, where: str) -> Decimal:
        if currency not in DECIMALS:
            raise PayPalProblem(
                422, _unprocessable("CURRENCY_NOT_SUPPORTED", "Currency code is not currently supported.", field=where)
            )
        if not isinstance(value, str) or len(value) > 32 or not _VALUE.fullmatch(value):
            raise PayPalProblem(400, _invalid_request(where, value, "INVALID_PARAMETER_SYNTAX"))
        amount = Decimal(value)
        places = -int(amount.as_tuple().exponent)
        if places > DECIMALS[currency]:
            if DECIMALS[currency] == 0:
                raise PayPalProblem(
                    422, _unprocessable("DECIMALS_NOT_SUPPORTED", "Currency does not support decimals.", field=where)
                )
            raise PayPalProblem(
                422,
                _unprocessable(
                    "DECIMAL_PRECISION",
                    "If the currency supports decimals, only two decimal place precision is supported.",
                    field=where,
                ),
            )
        if amount <= 0:
            raise PayPalProblem(422, _unprocessable("CANNOT_BE_ZERO_OR_NEGATIVE", "Must be greater than zero.", field=where))
        return amount

    def _check_route(self, route: str) -> None:
        if route not in ROUTES:
            raise ValueError(f"no route {route!r}; the routes are {', '.join(ROUTES)}")

    def _next_id(self, prefix: str, length: int) -> str:
        self._serial += 1
        tail = secrets.token_hex(4).upper()
        return (prefix + f"{self._serial:06d}" + tail).ljust(length, "X")[:length]

    def _now(self) -> str:
        return self.clock.now().strftime("%Y-%m-%dT%H:%M:%SZ")


def _round(value: Decimal, currency: str) -> Decimal:
    return value.quantize(Decimal(1).scaleb(-DECIMALS[currency]), rounding=ROUND_HALF_UP)


def _public(record: Mapping[str, Any]) -> dict[str, Any]:
    """A record without the fake's own bookkeeping (keys starting with ``_``)."""
    return {key: value for key, value in record.items() if not key.startswith("_")}


def _debug_id() -> str:
    return secrets.token_hex(7)[:13]


def _problem(status: int, body: dict[str, Any]) -> web.Response:
    if "name" in body:
        body.setdefault("debug_id", _debug_id())
    headers = {"Paypal-Debug-Id": str(body["debug_id"])} if "debug_id" in body else {}
    return web.json_response(body, status=status, headers=headers)


def _internal_error() -> dict[str, Any]:
    return {
        "name": "INTERNAL_SERVER_ERROR",
        "message": "An internal server error occurred.",
        "debug_id": _debug_id(),
        "links": [
            {
                "href": "https://developer.paypal.com/api/rest/reference/orders/v2/errors/#INTERNAL_SERVER_ERROR",
                "rel": "information_link",
            }
        ],
    }


def _unprocessable(issue: str, description: str, *, field: str | None = None) -> dict[str, Any]:
    detail: dict[str, Any] = {"issue": issue, "description": description}
    if field is not None:
        detail.update({"field": field, "location": "body"})
    return {
        "name": "UNPROCESSABLE_ENTITY",
        "message": _V2_UNPROCESSABLE,
        "debug_id": _debug_id(),
        "details": [detail],
        "links": [
            {
                "href": f"https://developer.paypal.com/docs/api/orders/v2/#error-{issue}",
                "rel": "information_link",
                "method": "GET",
            }
        ],
    }


def _invalid_request(field: str, value: Any, issue: str) -> dict[str, Any]:
    return {
        "name": "INVALID_REQUEST",
        "message": "Request is not well-formed, syntactically incorrect, or violates schema.",
        "debug_id": _debug_id(),
        "details": [
            {"field": field, "value": str(value), "location": "body", "issue": issue, "description": f"{issue} at {field}."}
        ],
        "links": [
            {
                "href": f"https://developer.paypal.com/docs/api/orders/v2/#error-{issue}",
                "rel": "information_link",
                "method": "GET",
            }
        ],
    }


def _not_found(field: str, value: str) -> dict[str, Any]:
    return {
        "name": "RESOURCE_NOT_FOUND",
        "message": "The specified resource does not exist.",
        "debug_id": _debug_id(),
        "details": [
            {
                "field": field,
                "value": value,
                "location": "path",
                "issue": "INVALID_RESOURCE_ID",
                "description": "Specified resource ID does not exist. Please check the resource ID and try again.",
            }
        ],
        "links": [
            {"href": "https://developer.paypal.com/docs/api/orders/v2/#error-INVALID_RESOURCE_ID", "rel": "information_link"}
        ],
    }


def _v1_not_found() -> dict[str, Any]:
    return {
        "name": "INVALID_RESOURCE_ID",
        "message": "Requested resource ID was not found.",
        "debug_id": _debug_id(),
        "information_link": "https://developer.paypal.com/docs/api/payments.payouts-batch/#errors",
        "links": [],
    }


def _validation_error(field: str, issue: str) -> dict[str, Any]:
    return {
        "name": "VALIDATION_ERROR",
        "message": "Invalid request - see details",
        "debug_id": _debug_id(),
        "information_link": "https://developer.paypal.com/docs/api/payments.payouts-batch/#errors",
        "details": [{"field": field, "location": "body", "issue": issue}],
        "links": [],
    }


async def _json_body(request: web.Request) -> dict[str, Any]:
    try:
        body = await request.json()
    except ValueError:
        raise PayPalProblem(400, _invalid_request("/", "", "MALFORMED_REQUEST_JSON")) from None
    if not isinstance(body, dict):
        raise PayPalProblem(400, _invalid_request("/", "", "MALFORMED_REQUEST_JSON"))
    return body


@asynccontextmanager
async def running_fake(**options: Any) -> AsyncIterator[FakePayPal]:
    """A fake PayPal served on 127.0.0.1 at a free port for the block's length."""
    fake = FakePayPal(**options)
    await fake.start()
    try:
        yield fake
    finally:
        await fake.stop()


@pytest.fixture
async def paypal_fake() -> AsyncIterator[FakePayPal]:
    """A fresh fake PayPal for one test (``pytest_plugins = ["tests.fakes.paypal"]`` in the test module)."""
    async with running_fake() as fake:
        yield fake
