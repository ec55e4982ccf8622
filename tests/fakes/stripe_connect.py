"""A small stateful fake of Stripe's API for what localstripe lacks, in front of localstripe.

One aiohttp server on 127.0.0.1 (a free port) that the SDK is pointed at
(``base_addresses={"api": url}``). It answers itself, as Stripe's API
reference documents them (form-encoded requests, JSON objects with
``object`` and prefixed ids, Stripe's error JSON):

- Connect: ``POST /v1/accounts`` (Express), ``GET /v1/accounts/{id}``,
  ``POST /v1/account_links`` (its ``url`` is a page of this server that
  completes the onboarding and redirects to ``return_url``; used again,
  it redirects to ``refresh_url``);
- ``POST /v1/transfers`` (the destination must be an onboarded account;
  the transfer is the platform's: under a ``Stripe-Account`` header it does
  not exist), ``GET /v1/transfers/{id}``, reversals under it;
- ``GET /v1/disputes/{id}``; ``GET /v1/events/{id}`` for its own events.

Everything else under ``/v1/`` (PaymentIntents, payment methods, refunds,
charges…) is forwarded to ``upstream``, localstripe. Every request under
``/v1/`` goes through the same front first, forwarded ones too:

- **idempotency** as Stripe's (docs.stripe.com/idempotency): a POST's
  ``Idempotency-Key`` (per API key and ``Stripe-Account``) stores the first
  answer once the endpoint ran, errors included, and replays it
  (``Idempotent-Replayed: true``); the key with other parameters, or on
  another endpoint, is a 400 ``idempotency_error``; while the first request
  still runs, a 409. Parameter validation errors are not stored.
- **faults**: ``fake.faults.fail("POST /v1/transfers", times=2)`` answers 500
  to the next two such calls before anything runs (nothing is stored, a retry
  with the same key runs it once); ``release = fake.faults.hang(route)``
  holds the next call until ``release.set()``, after doing the work
  (``executed=True``: the answer is lost, the retry replays it) or before.

The test drives what Stripe would do on its own through ``/_fake/…`` (or the
same methods in Python): ``onboard``, ``reverse_transfer`` (emits
``transfer.reversed``), ``open_dispute`` (emits ``charge.dispute.created``,
reading the PaymentIntent from localstripe). Events, localstripe's included,
wait in an outbox until ``await fake.deliver_webhooks()`` posts each to the
endpoints registered with ``add_webhook``, signed as Stripe signs
(``Stripe-Signature: t=…,v1=HMAC-SHA256(secret, f"{t}.{payload}")``), so
that no test depends on timing; a delivery that is not answered 2xx stays
in the outbox for the next call, as Stripe tries again.

Not modelled: balances (a transfer never lacks funds), payouts of connected
accounts, application fees, destination charges, dispute evidence and
closing, events' ``previous_attributes`` beyond the reversed amounts, list
endpoints other than reversals, and pruning idempotency keys after 24 h.
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import hashlib
import hmac
import json
import re
import secrets
import string
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl

import aiohttp
import pytest
from aiohttp import web

from tests.fakes.localstripe import API_KEY, LocalStripe, running_localstripe

API_VERSION = "2026-10-28.endive"
SERVED = ("/v1/accounts", "/v1/account_links", "/v1/transfers", "/v1/disputes")  # the rest goes upstream
CURRENCY_OF_COUNTRY = {"US": "usd", "GB": "gbp", "JP": "jpy", "HU": "huf", "TW": "twd", "CH": "chf", "SE": "sek"}
EURO_COUNTRIES = frozenset("AT BE CY DE EE ES FI FR GR HR IE IT LT LU LV MT NL PT SI SK".split())
REQUIREMENTS = ["business_type", "external_account", "individual.email", "tos_acceptance.date", "tos_acceptance.ip"]


def new_id(prefix: str) -> str:
    return prefix + "".join(secrets.choice(string.ascii_letters + string.digits) for _ in range(24))


def sign(payload: bytes, secret: str, timestamp: int | None = None) -> str:
    """The ``Stripe-Signature`` header Stripe would send with ``payload`` for an endpoint of ``secret``."""
    moment = int(time.time()) if timestamp is None else timestamp
    digest = hmac.new(secret.encode(), f"{moment}.".encode() + payload, hashlib.sha256).hexdigest()
    return f"t={moment},v1={digest}"


def parse_form(pairs: Iterable[tuple[str, str]]) -> dict[str, Any]:
    """Stripe's form encoding (``a[b][c]=v``, ``a[0]=v``) back into nested dicts and lists."""
    root: dict[str, Any] = {}
    for key, value in pairs:
        match = re.fullmatch(r"([^\[\]]+)((?:\[[^\[\]]*\])*)", key)
        if match is None:
            raise ApiError(400, "invalid_request_error", f"Invalid parameter name: {key}", param=key, saved=False)
        names = [match[1], *re.findall(r"\[([^\[\]]*)\]", match[2])]
        node = root
        for depth, name in enumerate(names):
            name = name or str(len(node))  # a[]=x appends
            if depth == len(names) - 1:
                node[name] = value
                break
            child = node.setdefault(name, {})
            if not isinstance(child, dict):
                raise ApiError(400, "invalid_request_error", f"Invalid parameter: {key}", param=key, saved=False)
            node = child

    def lists(node: Any) -> Any:
        if not isinstance(node, dict):
            return node
        if node and all(k.isdigit() for k in node):
            return [lists(node[k]) for k in sorted(node, key=int)]
        return {k: lists(v) for k, v in node.items()}

    return lists(root)


class ApiError(Exception):
    """An error answer in Stripe's shape. ``saved``: stored for the idempotency key (not for a validation error)."""

    def __init__(
        self, status: int, type: str, message: str, *, code: str | None = None, param: str | None = None, saved: bool = True
    ) -> None:
        super().__init__(message)
        self.status, self.type, self.message, self.code, self.param, self.saved = status, type, message, code, param, saved

    def body(self) -> dict[str, Any]:
        return {"error": {"type": self.type, "code": self.code, "message": self.message, "param": self.param}}


def missing(param: str) -> ApiError:
    return ApiError(
        400, "invalid_request_error", f"Missing required param: {param}.", code="parameter_missing", param=param, saved=False
    )


@dataclass
class Call:
    method: str
    path: str
    params: dict[str, Any]
    account: str | None  # the Stripe-Account header: acting as that connected account
    key: str | None  # Idempotency-Key
    request_id: str
    match: dict[str, str]


@dataclass
class Answer:
    status: int
    body: bytes
    content_type: str = "application/json"
    saved: bool = True

    @classmethod
    def of(cls, data: dict[str, Any], status: int = 200) -> Answer:
        return cls(status, json.dumps(data, indent=2, sort_keys=True).encode())

    @classmethod
    def error(cls, error: ApiError) -> Answer:
        return cls(error.status, json.dumps(error.body()).encode(), saved=error.saved)


@dataclass
class Stored:
    method: str
    path: str
    params: list[tuple[str, str]]
    request_id: str
    answer: Answer | None = None  # None while the first request runs


@dataclass
class Fault:
    kind: str  # "fail" or "hang"
    method: str
    pattern: re.Pattern[str]
    times: int = 1
    status: int = 500
    executed: bool = True
    release: asyncio.Event = field(default_factory=asyncio.Event)


class Faults:
    """What the next calls of a route do instead of answering: fail, or hang until released."""

    def __init__(self) -> None:
        self._faults: list[Fault] = []

    def fail(self, route: str, *, times: int = 1, status: int = 500) -> None:
        """The next ``times`` calls of ``route`` ("POST /v1/transfers") answer ``status`` before anything runs."""
        self._faults.append(Fault("fail", *self._parse(route), times=times, status=status))

    def hang(self, route: str, *, executed: bool = True) -> asyncio.Event:
        """The next call of ``route`` waits for the returned event: after doing its work (``executed``), or before."""
        fault = Fault("hang", *self._parse(route), executed=executed)
        self._faults.append(fault)
        return fault.release

    def take(self, kind: str, method: str, path: str) -> Fault | None:
        for fault in self._faults:
            if fault.kind == kind and fault.method == method and fault.pattern.fullmatch(path):
                fault.times -= 1
                if fault.times <= 0:
                    self._faults.remove(fault)
                return fault
        return None

    def release_all(self) -> None:
        for fault in self._faults:
            fault.release.set()

    @staticmethod
    def _parse(route: str) -> tuple[str, re.Pattern[str]]:
        method, template = route.split(" ", 1)
        return method.upper(), re.compile(re.sub(r"\\\{\w+\\\}", "[^/]+", re.escape(template)))


@dataclass
class Endpoint:
    url: str
    secret: str
    events: frozenset[str] | None  # None: every event
    connect: bool  # events of connected accounts (with "account"), else the platform's own

    def wants(self, event: dict[str, Any]) -> bool:
        return (self.events is None or event["type"] in self.events) and (("account" in event) == self.connect)


@dataclass(frozen=True)
class Delivery:
    event_id: str
    type: str
    url: str
    status: int | None  # None: the endpoint could not be reached


@dataclass(frozen=True)
class Logged:
    method: str
    path: str
    idempotency_key: str | None
    status: int
    replayed: bool


Handler = Callable[[Call], Awaitable[dict[str, Any]]]


class StripeFake:
    def __init__(self, upstream: str | None = None, upstream_key: str = API_KEY) -> None:
        self.upstream = upstream
        self.upstream_key = upstream_key  # to read PaymentIntents upstream for a dispute
        self.url = ""
        self.accounts: dict[str, dict[str, Any]] = {}
        self.transfers: dict[str, dict[str, Any]] = {}
        self.disputes: dict[str, dict[str, Any]] = {}
        self.events: dict[str, dict[str, Any]] = {}
        self.requests: list[Logged] = []
        self.faults = Faults()
        self._links: dict[str, dict[str, Any]] = {}
        self._endpoints: list[Endpoint] = []
        self._outbox: list[tuple[dict[str, Any], Endpoint]] = []
        self._idempotency: dict[tuple[str, str, str], Stored] = {}
        self._session: aiohttp.ClientSession | None = None
        self._runner: web.AppRunner | None = None
        routes: list[tuple[str, str, Handler]] = [
            ("POST", "/v1/accounts", self._create_account),
            ("GET", "/v1/accounts/{id}", self._retrieve_account),
            ("POST", "/v1/account_links", self._create_account_link),
            ("POST", "/v1/transfers", self._create_transfer),
            ("GET", "/v1/transfers/{id}", self._retrieve_transfer),
            ("POST", "/v1/transfers/{id}/reversals", self._create_reversal),
            ("GET", "/v1/transfers/{id}/reversals", self._list_reversals),
            ("GET", "/v1/disputes/{id}", self._retrieve_dispute),
        ]
        self._routes = [
            (method, re.compile(re.sub(r"\{(\w+)\}", r"(?P<\1>[^/]+)", template)), handler)
            for method, template, handler in routes
        ]

    # running

    async def start(self) -> None:
        self._session = aiohttp.ClientSession()
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", self._handle)
        self._runner = web.AppRunner(app, access_log=None, handler_cancellation=False)  # a held request outlives its client
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        host, port = self._runner.addresses[0][:2]
        self.url = f"http://{host}:{port}"

    async def stop(self) -> None:
        self.faults.release_all()  # no request stays held, so the server can stop
        if self._runner is not None:
            await self._runner.cleanup()
        if self._session is not None:
            await self._session.close()

    # what the test drives (also under /_fake/)

    def onboard(self, account_id: str) -> dict[str, Any]:
        """The creator finished onboarding: details submitted, capabilities active (emits ``account.updated``)."""
        account = self._account(account_id)
        previous = {"charges_enabled": account["charges_enabled"], "payouts_enabled": account["payouts_enabled"]}
        account.update(charges_enabled=True, payouts_enabled=True, details_submitted=True)
        account["capabilities"] = {name: "active" for name in account["capabilities"]}
        account["requirements"].update(currently_due=[], eventually_due=[], disabled_reason=None)
        self.emit("account.updated", account, account=account_id, previous=previous)
        return account

    def reverse_transfer(
        self, transfer_id: str, amount: int | None = None, metadata: dict[str, str] | None = None
    ) -> dict[str, Any]:
        """Reverse (part of) a transfer, as the platform's dashboard would; emits ``transfer.reversed``."""
        transfer = self.transfers.get(transfer_id)
        if transfer is None:
            raise ApiError(
                404, "invalid_request_error", f"No such transfer: '{transfer_id}'", code="resource_missing", param="id"
            )
        remaining = transfer["amount"] - transfer["amount_reversed"]
        amount = remaining if amount is None else amount
        if remaining <= 0:
            raise ApiError(400, "invalid_request_error", f"Transfer {transfer_id} is already fully reversed.")
        if not 0 < amount <= remaining:
            raise ApiError(
                400,
                "invalid_request_error",
                f"Amount must be at most the {remaining} not yet reversed.",
                param="amount",
                saved=False,
            )
        reversal = {
            "id": new_id("trr_"),
            "object": "transfer_reversal",
            "amount": amount,
            "balance_transaction": new_id("txn_"),
            "created": int(time.time()),
            "currency": transfer["currency"],
            "destination_payment_refund": new_id("pyr_"),
            "metadata": metadata or {},
            "source_refund": None,
            "transfer": transfer_id,
        }
        previous = {"amount_reversed": transfer["amount_reversed"], "reversed": transfer["reversed"]}
        transfer["reversals"]["data"].insert(0, reversal)
        transfer["reversals"]["total_count"] += 1
        transfer["amount_reversed"] += amount
        transfer["reversed"] = transfer["amount_reversed"] == transfer["amount"]
        self.emit("transfer.reversed", transfer, previous=previous)
        return reversal

    async def open_dispute(
        self,
        *,
        payment_intent: str | None = None,
        charge: str | None = None,
        amount: int | None = None,
        currency: str | None = None,
        reason: str = "fraudulent",
    ) -> dict[str, Any]:
        """The funder's bank disputes a payment (emits ``charge.dispute.created``); what is not given is read upstream."""
        if payment_intent is None and charge is None:
            raise missing("payment_intent")
        if payment_intent is not None and (charge is None or amount is None or currency is None):
            intent = await self._upstream_intent(payment_intent)
            latest = intent.get("latest_charge")
            charge = charge or (latest["id"] if isinstance(latest, dict) else latest)
            amount = intent["amount"] if amount is None else amount
            currency = currency or intent["currency"]
        if charge is None or amount is None or currency is None:
            raise ApiError(400, "invalid_request_error", "A dispute needs a charge, an amount and a currency.", saved=False)
        now = int(time.time())
        dispute = {
            "id": new_id("du_"),
            "object": "dispute",
            "amount": int(amount),
            "balance_transactions": [],
            "charge": charge,
            "created": now,
            "currency": currency.lower(),
            "evidence": {},
            "evidence_details": {"due_by": now + 7 * 86400, "has_evidence": False, "past_due": False, "submission_count": 0},
            "is_charge_refundable": False,
            "livemode": False,
            "metadata": {},
            "payment_intent": payment_intent,
            "reason": reason,
            "status": "needs_response",
        }
        self.disputes[dispute["id"]] = dispute
        self.emit("charge.dispute.created", dispute)
        return dispute

    # webhooks

    def add_webhook(
        self, url: str, secret: str | None = None, *, events: Iterable[str] | None = None, connect: bool = False
    ) -> str:
        """Send the events from now on to ``url``, signed with the returned secret (``whsec_…``)."""
        secret = secret or new_id("whsec_")
        self._endpoints.append(Endpoint(url, secret, frozenset(events) if events is not None else None, connect))
        return secret

    def emit(
        self,
        type: str,
        obj: dict[str, Any],
        *,
        account: str | None = None,
        previous: dict[str, Any] | None = None,
        call: Call | None = None,
    ) -> dict[str, Any]:
        data: dict[str, Any] = {"object": copy.deepcopy(obj)}
        if previous:
            data["previous_attributes"] = previous
        event: dict[str, Any] = {
            "id": new_id("evt_"),
            "object": "event",
            "api_version": API_VERSION,
            "created": int(time.time()),
            "data": data,
            "livemode": False,
            "pending_webhooks": 0,
            "request": {"id": call.request_id if call else None, "idempotency_key": call.key if call else None},
            "type": type,
        }
        if account is not None:
            event["account"] = account
        self.events[event["id"]] = event
        self.enqueue(event)
        return event

    def enqueue(self, event: dict[str, Any]) -> None:
        """Queue ``event`` (also localstripe's) for every endpoint that wants it."""
        for endpoint in self._endpoints:
            if endpoint.wants(event):
                event["pending_webhooks"] = event.get("pending_webhooks", 0) + 1
                self._outbox.append((event, endpoint))

    async def deliver_webhooks(self) -> list[Delivery]:
        """Post every queued event to its endpoints, in order, and wait for the answers."""
        assert self._session is not None
        pending, self._outbox = self._outbox, []
        deliveries = []
        for event, endpoint in pending:
            payload = json.dumps(event, indent=2, sort_keys=True).encode()
            headers = {
                "Content-Type": "application/json; charset=utf-8",
                "Stripe-Signature": sign(payload, endpoint.secret),
                "User-Agent": "Stripe/1.0 (+https://stripe.com/docs/webhooks)",
            }
            status: int | None
            try:
                async with self._session.post(endpoint.url, data=payload, headers=headers) as response:
                    status = response.status
            except aiohttp.ClientError:
                status = None
            deliveries.append(Delivery(event["id"], event["type"], endpoint.url, status))
            if status is None or not 200 <= status < 300:
                self._outbox.append((event, endpoint))  # Stripe tries again later
        return deliveries

    # the front: auth, faults, idempotency, then our routes or upstream

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        if request.path.startswith("/_fake/"):
            return await self._test_api(request)
        body = await request.read()
        if not request.path.startswith("/v1/"):
            return self._respond(await self._forward(request, body), new_id("req_"))
        method, path = request.method, request.path
        request_id = new_id("req_")
        key = request.headers.get("Idempotency-Key") if method == "POST" else None
        answer, replayed = await self._front(request, body, request_id, key)
        self.requests.append(Logged(method, path, key, answer.status, replayed))
        response = self._respond(answer, request_id)
        if replayed:
            response.headers["Idempotent-Replayed"] = "true"
        return response

    async def _front(self, request: web.Request, body: bytes, request_id: str, key: str | None) -> tuple[Answer, bool]:
        method, path = request.method, request.path
        api_key = self._api_key(request)
        if api_key is None:
            return Answer.error(ApiError(401, "invalid_request_error", "You did not provide an API key.")), False
        fault = self.faults.take("fail", method, path)
        if fault is not None:
            kind = "invalid_request_error" if fault.status == 429 else "api_error"
            code = "rate_limit" if fault.status == 429 else None
            return Answer.error(ApiError(fault.status, kind, "An injected fault of the fake.", code=code)), False
        try:
            pairs = self._pairs(request, body)
            call = Call(method, path, parse_form(pairs), request.headers.get("Stripe-Account"), key, request_id, {})
        except ApiError as error:
            return Answer.error(error), False
        scope = (api_key, call.account or "", key or "")
        stored: Stored | None = None
        if key is not None:
            earlier = self._idempotency.get(scope)
            if earlier is not None:
                return self._replay(earlier, method, path, sorted(pairs), key)
            stored = self._idempotency[scope] = Stored(method, path, sorted(pairs), request_id)
        hang = self.faults.take("hang", method, path)
        try:
            if hang is not None and not hang.executed:
                await hang.release.wait()
            answer = await self._execute(request, body, call)
            if stored is not None and answer.saved:
                stored.answer = answer
            if hang is not None and hang.executed:
                await hang.release.wait()
            return answer, False
        finally:
            if stored is not None and stored.answer is None:
                self._idempotency.pop(scope, None)  # nothing ran, or nothing to keep: the key is free again

    def _replay(self, earlier: Stored, method: str, path: str, pairs: list[tuple[str, str]], key: str) -> tuple[Answer, bool]:
        """The stored answer for a key seen before (replayed), or Stripe's idempotency_error."""
        if earlier.answer is None:
            message = (
                "There is currently another in-progress request using this Idempotent Key (that probably means you "
                f"submitted twice, and the other request is still going through): {key}. Please try again later."
            )
            return Answer.error(ApiError(409, "idempotency_error", message, saved=False)), False
        if (earlier.method, earlier.path) != (method, path):
            message = (
                "Keys for idempotent requests can only be used for the same endpoint they were first used for "
                f"('{earlier.method} {earlier.path}' vs '{method} {path}'). Try using a key other than '{key}' if you "
                "meant to execute a different request."
            )
            return Answer.error(ApiError(400, "idempotency_error", message, saved=False)), False
        if earlier.params != pairs:
            message = (
                "Keys for idempotent requests can only be used with the same parameters they were first used with. "
                f"Try using a key other than '{key}' if you meant to execute a different request."
            )
            return Answer.error(ApiError(400, "idempotency_error", message, saved=False)), False
        return earlier.answer, True

    async def _execute(self, request: web.Request, body: bytes, call: Call) -> Answer:
        for method, pattern, handler in self._routes:
            match = pattern.fullmatch(call.path)
            if match is not None and method == call.method:
                call.match = match.groupdict()
                try:
                    if call.account is not None:
                        self._account(call.account, header=True)
                    return Answer.of(await handler(call))
                except ApiError as error:
                    return Answer.error(error)
        if call.path.startswith("/v1/events/") and call.path.rsplit("/", 1)[-1] in self.events:
            return Answer.of(self.events[call.path.rsplit("/", 1)[-1]])
        if call.path.startswith(SERVED) or self.upstream is None:
            message = f"Unrecognized request URL ({call.method}: {call.path})."
            return Answer.error(ApiError(404, "invalid_request_error", message))
        if call.account is not None:
            message = "The fake cannot act as a connected account (Stripe-Account) on what localstripe serves."
            return Answer.error(ApiError(400, "invalid_request_error", message, saved=False))
        return await self._forward(request, body)

    async def _forward(self, request: web.Request, body: bytes) -> Answer:
        if self.upstream is None:
            return Answer.error(
                ApiError(404, "invalid_request_error", f"Unrecognized request URL ({request.method}: {request.path}).")
            )
        assert self._session is not None
        headers = {
            name: request.headers[name] for name in ("Authorization", "Content-Type", "Stripe-Version") if name in request.headers
        }
        async with self._session.request(request.method, self.upstream + request.path_qs, data=body, headers=headers) as response:
            return Answer(response.status, await response.read(), response.content_type)

    @staticmethod
    def _respond(answer: Answer, request_id: str) -> web.Response:
        response = web.Response(status=answer.status, body=answer.body, content_type=answer.content_type)
        response.headers["Request-Id"] = request_id
        return response

    @staticmethod
    def _api_key(request: web.Request) -> str | None:
        scheme, _, credentials = request.headers.get("Authorization", "").partition(" ")
        if scheme == "Bearer" and credentials.startswith(("sk_", "rk_")):
            return credentials
        return None

    @staticmethod
    def _pairs(request: web.Request, body: bytes) -> list[tuple[str, str]]:
        if request.method != "POST":
            return list(request.query.items())
        if request.content_type == "application/json":
            data = json.loads(body or b"{}")
            return [(name, value if isinstance(value, str) else json.dumps(value)) for name, value in data.items()]
        return parse_qsl(body.decode(), keep_blank_values=True)

    # Stripe's routes

    async def _create_account(self, call: Call) -> dict[str, Any]:
        self._platform_only(call)
        params = call.params
        dashboard = params.get("controller", {}).get("stripe_dashboard", {}).get("type")
        if params.get("type", "express" if dashboard == "express" else None) != "express":
            raise ApiError(
                400, "invalid_request_error", "The fake makes Express accounts only (type=express).", param="type", saved=False
            )
        country = params.get("country", "US")
        if not re.fullmatch(r"[A-Z]{2}", country):
            raise ApiError(400, "invalid_request_error", f"Country '{country}' is unknown.", param="country", saved=False)
        requested = [name for name, ask in params.get("capabilities", {}).items() if str(ask.get("requested")) == "true"]
        account = {
            "id": new_id("acct_"),
            "object": "account",
            "type": "express",
            "business_type": params.get("business_type"),
            "capabilities": {name: "inactive" for name in requested},
            "charges_enabled": False,
            "payouts_enabled": False,
            "details_submitted": False,
            "country": country,
            "default_currency": "eur" if country in EURO_COUNTRIES else CURRENCY_OF_COUNTRY.get(country, "usd"),
            "email": params.get("email"),
            "created": int(time.time()),
            "livemode": False,
            "metadata": params.get("metadata", {}),
            "requirements": {
                "currently_due": list(REQUIREMENTS),
                "eventually_due": list(REQUIREMENTS),
                "past_due": [],
                "pending_verification": [],
                "disabled_reason": "requirements.past_due",
                "errors": [],
            },
        }
        self.accounts[account["id"]] = account
        return account

    async def _retrieve_account(self, call: Call) -> dict[str, Any]:
        account_id = call.match["id"]
        if call.account is not None and call.account != account_id:
            raise ApiError(
                404, "invalid_request_error", f"No such account: '{account_id}'", code="resource_missing", param="account"
            )
        return self._account(account_id)

    async def _create_account_link(self, call: Call) -> dict[str, Any]:
        self._platform_only(call)
        params = call.params
        for name in ("account", "type", "refresh_url", "return_url"):
            if not params.get(name):
                raise missing(name)
        if params["type"] not in ("account_onboarding", "account_update"):
            raise ApiError(400, "invalid_request_error", f"Invalid type: {params['type']}", param="type", saved=False)
        for name in ("refresh_url", "return_url"):
            if not params[name].startswith(("http://", "https://")):
                raise ApiError(
                    400, "invalid_request_error", f"Not a valid URL: {params[name]}", code="url_invalid", param=name, saved=False
                )
        self._account(params["account"], param="account")
        token = secrets.token_urlsafe(16)
        self._links[token] = {
            "account": params["account"],
            "refresh_url": params["refresh_url"],
            "return_url": params["return_url"],
        }
        now = int(time.time())
        return {"object": "account_link", "created": now, "expires_at": now + 300, "url": f"{self.url}/_fake/onboarding/{token}"}

    async def _create_transfer(self, call: Call) -> dict[str, Any]:
        self._platform_only(call)
        params = call.params
        amount = self._positive(params, "amount")
        currency = params.get("currency")
        if currency is None:
            raise missing("currency")
        if not re.fullmatch(r"[a-z]{3}", currency):
            raise ApiError(400, "invalid_request_error", f"Invalid currency: {currency}.", param="currency", saved=False)
        destination = params.get("destination")
        if destination is None:
            raise missing("destination")
        account = self.accounts.get(destination)
        if account is None:
            raise ApiError(
                400,
                "invalid_request_error",
                f"No such destination: '{destination}'",
                code="resource_missing",
                param="destination",
            )
        if account["capabilities"].get("transfers") != "active":
            raise ApiError(
                400,
                "invalid_request_error",
                "Your destination account needs to have at least one of the following capabilities enabled: "
                "transfers, crypto_transfers, legacy_payments",
                code="insufficient_capabilities_for_transfer",
                param="destination",
            )
        transfer_id = new_id("tr_")
        transfer = {
            "id": transfer_id,
            "object": "transfer",
            "amount": amount,
            "amount_reversed": 0,
            "balance_transaction": new_id("txn_"),
            "created": int(time.time()),
            "currency": currency,
            "description": params.get("description"),
            "destination": destination,
            "destination_payment": new_id("py_"),
            "livemode": False,
            "metadata": params.get("metadata", {}),
            "reversals": {
                "object": "list",
                "data": [],
                "has_more": False,
                "total_count": 0,
                "url": f"/v1/transfers/{transfer_id}/reversals",
            },
            "reversed": False,
            "source_transaction": params.get("source_transaction"),
            "source_type": "card",
            "transfer_group": params.get("transfer_group"),
        }
        self.transfers[transfer_id] = transfer
        self.emit("transfer.created", transfer, call=call)
        return transfer

    async def _retrieve_transfer(self, call: Call) -> dict[str, Any]:
        return self._transfer(call)

    async def _create_reversal(self, call: Call) -> dict[str, Any]:
        self._platform_only(call)
        transfer = self._transfer(call)
        amount = self._positive(call.params, "amount") if "amount" in call.params else None
        return self.reverse_transfer(transfer["id"], amount, call.params.get("metadata"))

    async def _list_reversals(self, call: Call) -> dict[str, Any]:
        transfer = self._transfer(call)
        return transfer["reversals"]

    async def _retrieve_dispute(self, call: Call) -> dict[str, Any]:
        dispute = self.disputes.get(call.match["id"])
        if dispute is None or call.account is not None:
            raise ApiError(
                404, "invalid_request_error", f"No such dispute: '{call.match['id']}'", code="resource_missing", param="id"
            )
        return dispute

    def _transfer(self, call: Call) -> dict[str, Any]:
        """A transfer is the platform's: under a Stripe-Account header it does not exist."""
        transfer = self.transfers.get(call.match["id"])
        if transfer is None or call.account is not None:
            raise ApiError(
                404, "invalid_request_error", f"No such transfer: '{call.match['id']}'", code="resource_missing", param="id"
            )
        return transfer

    def _account(self, account_id: str, *, param: str = "account", header: bool = False) -> dict[str, Any]:
        account = self.accounts.get(account_id)
        if account is None and header:
            message = f"The provided key does not have access to account '{account_id}' (or that account does not exist)."
            raise ApiError(403, "invalid_request_error", message, code="account_invalid")
        if account is None:
            raise ApiError(404, "invalid_request_error", f"No such account: '{account_id}'", code="resource_missing", param=param)
        return account

    @staticmethod
    def _platform_only(call: Call) -> None:
        if call.account is not None:
            message = f"Only the platform can make this request, not a connected account ({call.account})."
            raise ApiError(400, "invalid_request_error", message, saved=False)

    @staticmethod
    def _positive(params: dict[str, Any], name: str) -> int:
        raw = params.get(name)
        if raw is None:
            raise missing(name)
        if not re.fullmatch(r"[0-9]+", str(raw)) or int(raw) <= 0:
            raise ApiError(
                400,
                "invalid_request_error",
                f"Invalid positive integer: {raw}",
                code="parameter_invalid_integer",
                param=name,
                saved=False,
            )
        return int(raw)

    async def _upstream_intent(self, intent_id: str) -> dict[str, Any]:
        if self.upstream is None or self._session is None:
            raise ApiError(
                400, "invalid_request_error", "No upstream to read the PaymentIntent from: give charge, amount, currency."
            )
        headers = {"Authorization": f"Bearer {self.upstream_key}"}
        async with self._session.get(f"{self.upstream}/v1/payment_intents/{intent_id}", headers=headers) as response:
            if response.status != 200:
                raise ApiError(404, "invalid_request_error", f"No such payment_intent: '{intent_id}'", code="resource_missing")
            intent: dict[str, Any] = await response.json()
            return intent

    # the test API

    async def _test_api(self, request: web.Request) -> web.StreamResponse:
        path = request.path
        try:
            params = parse_form(self._pairs(request, await request.read()))
            if request.method == "GET" and (match := re.fullmatch(r"/_fake/onboarding/([\w-]+)", path)):
                link = self._links.get(match[1])
                if link is None:
                    raise web.HTTPNotFound(text="No such onboarding link.")
                if link.get("used"):
                    raise web.HTTPFound(link["refresh_url"])  # single use: the platform makes a new link
                link["used"] = True
                self.onboard(link["account"])
                raise web.HTTPFound(link["return_url"])
            if request.method == "POST" and (match := re.fullmatch(r"/_fake/accounts/(\w+)/onboard", path)):
                return self._respond(Answer.of(self.onboard(match[1])), new_id("req_"))
            if request.method == "POST" and (match := re.fullmatch(r"/_fake/transfers/(\w+)/reverse", path)):
                amount = self._positive(params, "amount") if "amount" in params else None
                return self._respond(Answer.of(self.reverse_transfer(match[1], amount)), new_id("req_"))
            if request.method == "POST" and path == "/_fake/disputes":
                amount = self._positive(params, "amount") if "amount" in params else None
                dispute = await self.open_dispute(
                    payment_intent=params.get("payment_intent"),
                    charge=params.get("charge"),
                    amount=amount,
                    currency=params.get("currency"),
                    reason=params.get("reason", "fraudulent"),
                )
                return self._respond(Answer.of(dispute), new_id("req_"))
        except ApiError as error:
            return self._respond(Answer.error(error), new_id("req_"))
        raise web.HTTPNotFound(text=f"no such test route: {request.method} {path}")


@contextlib.asynccontextmanager
async def running_fake(upstream: str | None = None) -> AsyncIterator[StripeFake]:
    fake = StripeFake(upstream)
    await fake.start()
    try:
        yield fake
    finally:
        await fake.stop()


@dataclass
class StripeStack:
    """localstripe behind the fake: point the SDK at ``url``."""

    url: str
    fake: StripeFake
    localstripe: LocalStripe


@pytest.fixture
async def stripe_fake() -> AsyncIterator[StripeFake]:
    """The fake alone (no upstream: what it does not serve is a 404)."""
    async with running_fake() as fake:
        yield fake


@pytest.fixture
async def stripe_stack(monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[StripeStack]:
    """localstripe and the fake in front of it, both on 127.0.0.1; localstripe's events go to the fake's outbox."""
    async with running_localstripe(monkeypatch) as localstripe, running_fake(localstripe.url) as fake:
        localstripe.on_event = fake.enqueue
        yield StripeStack(fake.url, fake, localstripe)


async def card(stack: StripeStack, number: str) -> str:
    """A card PaymentMethod, made as Stripe.js makes it in the funder's browser (localstripe takes any sk_ key)."""
    async with stack.localstripe.session.post(
        f"{stack.localstripe.url}/v1/payment_methods",
        data={"type": "card", "card[number]": number, "card[exp_month]": "12", "card[exp_year]": "2030", "card[cvc]": "123"},
        headers={"Authorization": f"Bearer {API_KEY}"},
    ) as response:
        assert response.status == 200, await response.text()
        return str((await response.json())["id"])
