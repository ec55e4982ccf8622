"""localstripe (Stripe's API for PaymentIntents, refunds, charges…, GPL-3.0, a test tool only), in-process on 127.0.0.1.

Its command listens on every interface at a fixed port, so the tests run its
aiohttp application themselves, on loopback and a free port, in the test's
own event loop. Four things of localstripe are changed, in the test process
only and undone after each test (``monkeypatch``):

- its store pickles itself to the fixed file ``/tmp/localstripe.pickle`` on
  every write and reloads it at start: here it stays in memory, so two runs
  on one machine never meet; it is wiped (``DELETE /_config/data``) before
  and after each test;
- it sends each event as a webhook one second later, from a task nobody
  awaits: here events are recorded instead (``LocalStripe.events``), and
  handed to ``on_event`` (the Stripe fake delivers them with its own, when
  the test asks, so no test waits on a clock);
- it declines on a PaymentIntent only the cards 4000000000000341 and a few
  3-D Secure ones, and 4000000000000002 only when attached to a customer:
  here the decline cards of Stripe's testing page decline a PaymentIntent
  too, with Stripe's code and decline_code (``DECLINED_CARDS``);
- its application is a module-level ``web.Application``, which aiohttp binds
  to the first event loop that runs it: each test runs a copy of it (the same
  routes, middlewares and handlers), since pytest-aiohttp gives each test a loop.
"""

from __future__ import annotations

import contextlib
import warnings
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any

import aiohttp
import localstripe.resources
import localstripe.webhooks
import pytest
from aiohttp import web

API_KEY = "sk_test_localstripe_tests"

# Stripe's decline test cards (docs.stripe.com/testing): number -> (code, decline_code, message)
DECLINED_CARDS = {
    "4000000000000002": ("card_declined", "generic_decline", "Your card was declined."),
    "4000000000009995": ("card_declined", "insufficient_funds", "Your card has insufficient funds."),
    "4000000000009987": ("card_declined", "lost_card", "Your card was declined."),
    "4000000000009979": ("card_declined", "stolen_card", "Your card was declined."),
    "4000000000000069": ("expired_card", "expired_card", "Your card has expired."),
    "4000000000000127": ("incorrect_cvc", "incorrect_cvc", "Your card's security code is incorrect."),
    "4000000000000119": ("processing_error", "processing_error", "An error occurred while processing your card."),
}


@dataclass
class LocalStripe:
    """A running localstripe: its address, and the events it emitted (never sent by itself)."""

    url: str
    session: aiohttp.ClientSession
    events: list[dict[str, Any]] = field(default_factory=list)
    on_event: Callable[[dict[str, Any]], None] | None = None

    async def wipe(self) -> None:
        async with self.session.delete(f"{self.url}/_config/data") as response:
            assert response.status == 200, await response.text()

    async def authenticate(self, intent_id: str, client_secret: str, success: bool) -> dict[str, Any]:
        """Finish (or fail) the 3-D Secure step of a PaymentIntent, as the funder's browser would."""
        async with self.session.post(
            f"{self.url}/v1/payment_intents/{intent_id}/_authenticate",
            data={"client_secret": client_secret, "success": "true" if success else "false"},
            headers={"Authorization": f"Bearer {API_KEY}"},
        ) as response:
            assert response.status == 200, await response.text()
            answer: dict[str, Any] = await response.json()
            return answer

    def _record(self, event: Any) -> None:
        exported = event._export()
        self.events.append(exported)
        if self.on_event is not None:
            self.on_event(exported)


def fresh_app() -> web.Application:
    """A new application with localstripe's routes, middlewares and response hooks (its own is bound to one loop)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # its handlers are plain functions, which aiohttp deprecates
        import localstripe.server

        original = localstripe.server.app
        app = web.Application(middlewares=list(original.middlewares))
        for hook in original.on_response_prepare:
            app.on_response_prepare.append(hook)
        for route in original.router.routes():
            if route.method == "HEAD" or route.resource is None:
                continue  # a HEAD is added again with its GET
            if route.method == "GET":
                app.router.add_get(route.resource.canonical, route.handler)
            else:
                app.router.add_route(route.method, route.resource.canonical, route.handler)
    return app


def patch_localstripe(monkeypatch: pytest.MonkeyPatch, record: Callable[[Any], None]) -> None:
    """Keep the store in memory, record events instead of sending them, and decline Stripe's decline cards."""
    resources = localstripe.resources
    monkeypatch.setattr(resources.Store, "dump_to_disk", lambda self: None)
    monkeypatch.setattr(resources.Store, "try_load_from_disk", lambda self: None)
    monkeypatch.setattr(resources, "schedule_webhook", record)
    monkeypatch.setattr(localstripe.webhooks, "_webhooks", {})

    declined = resources.PaymentMethod._charging_is_declined

    def charging_is_declined(self: Any) -> bool:
        return bool(declined(self)) or getattr(self, "_card_number", None) in DECLINED_CARDS

    def set_auth_failure(self: Any) -> None:
        number = getattr(resources.PaymentMethod._api_retrieve(self.payment_method), "_card_number", None)
        code, decline_code, message = DECLINED_CARDS.get(number, ("card_declined", "generic_decline", "Your card was declined."))
        self.status = "failed"
        self.failure_code = code
        self.failure_message = message
        self._decline_code = decline_code

    last_payment_error = resources.PaymentIntent.last_payment_error

    def last_payment_error_with_decline_code(self: Any) -> dict[str, Any] | None:
        error = last_payment_error.fget(self)
        charge = self.latest_charge
        if error is not None and charge is not None and getattr(charge, "_decline_code", None):
            error = {**error, "decline_code": charge._decline_code, "type": "card_error"}
        return error

    monkeypatch.setattr(resources.PaymentMethod, "_charging_is_declined", charging_is_declined)
    monkeypatch.setattr(resources.Charge, "_set_auth_failure", set_auth_failure)
    monkeypatch.setattr(resources.PaymentIntent, "last_payment_error", property(last_payment_error_with_decline_code))


@contextlib.asynccontextmanager
async def running_localstripe(monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[LocalStripe]:
    """localstripe on 127.0.0.1 at a free port, empty, for the time of the block."""
    recorder: list[LocalStripe] = []
    patch_localstripe(monkeypatch, lambda event: recorder[0]._record(event))
    runner = web.AppRunner(fresh_app(), access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    host, port = runner.addresses[0][:2]
    async with aiohttp.ClientSession() as session:
        server = LocalStripe(url=f"http://{host}:{port}", session=session)
        recorder.append(server)
        try:
            await server.wipe()
            yield server
        finally:
            await server.wipe()
            await runner.cleanup()


@pytest.fixture
async def localstripe_server(monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[LocalStripe]:
    async with running_localstripe(monkeypatch) as server:
        yield server
