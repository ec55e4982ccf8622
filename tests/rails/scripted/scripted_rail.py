"""A third party's rail, for the tests: its "provider" is a folder of JSON files.

The folder (the ``store`` option) outlives the process that calls the rail,
as a real provider does, so a test can kill the gateway mid-call and then ask
the provider with ``gateway rails sync``. A test scripts the next answers by
writing ``script.json``: a list of directives, taken one per call:

- ``"succeeded"``, ``"failed"``, ``"requires_action"``, ``"processing"``: the provider does that;
- ``"lost"``: the provider does the operation (it succeeds), but its answer never arrives (a timeout);
- ``"down"``: the provider is not reached at all;
- ``"hang"``: the provider does it, and the call never returns (the test kills the process).

With no directive left, an operation succeeds. An operation's state is kept
under its operation id, so asking twice never does it twice. Webhooks are
JSON signed with HMAC-SHA256 of the ``secret`` option, in ``X-Scripted-Signature``.
It uses only what any rail package may: ``adapters`` and ``gateway.errors``.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
from collections.abc import Mapping
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

from adapters import Outcome, PaymentState, PayoutRequest, RefundRequest, TopUpRequest, WebhookEvent
from adapters.options import reject_unknown
from gateway.errors import ConfigError, RailUnavailable, WebhookRefused

FEE = Decimal("0.30")  # what this provider keeps of each top-up


class ScriptedRail:
    def __init__(self, name: str = "scripted", options: Mapping[str, Any] | None = None) -> None:
        options = options or {}
        reject_unknown(name, options, {"store", "secret"})
        if not isinstance(options.get("store"), str) or not isinstance(options.get("secret"), str):
            raise ConfigError(f"rails.{name}.store and rails.{name}.secret: required strings")
        self.name = name
        self.store = Path(options["store"])
        self.secret = options["secret"].encode()
        self.currencies = set(options.get("currencies", []))

    def __repr__(self) -> str:
        return f"ScriptedRail({self.name!r}, store={str(self.store)!r})"  # the secret never shows

    def takes(self, currency: str) -> bool:
        return currency in self.currencies

    def pays(self, currency: str) -> bool:
        return currency in self.currencies

    async def start_top_up(self, request: TopUpRequest) -> Outcome:
        return await self._start(request.operation, {"kind": "top_up", "amount": str(request.amount), "fee": str(FEE)})

    async def top_up_state(self, request: TopUpRequest, reference: str | None) -> Outcome:
        return self._outcome(request.operation)

    async def start_payout(self, request: PayoutRequest) -> Outcome:
        return await self._start(request.operation, {"kind": "payout", "amount": str(request.amount)})

    async def payout_state(self, request: PayoutRequest, reference: str | None) -> Outcome:
        return self._outcome(request.operation)

    async def refund(self, request: RefundRequest) -> Outcome:
        return await self._start(request.operation, {"kind": "refund", "payment": request.payment})

    async def parse_webhook(self, body: bytes, headers: Mapping[str, str]) -> WebhookEvent | None:
        expected = hmac.new(self.secret, body, hashlib.sha256).hexdigest()
        if not hmac.compare_digest(expected, headers.get("X-Scripted-Signature", "")):
            raise WebhookRefused("the signature does not hold")
        data = json.loads(body)
        return WebhookEvent(data["id"], data["type"], data["subject"], data.get("operation"), data.get("reference"))

    def rate(self, base: str, quote: str, on: date) -> None:
        return None

    async def close(self) -> None:
        return None

    async def _start(self, operation: str, record: dict[str, str]) -> Outcome:
        if self._path(operation).exists():  # the provider's idempotency: the first result, whatever is asked now
            return self._outcome(operation)
        directive = self._next_directive()
        if directive == "down":
            raise RailUnavailable(f"{self.name}: connection refused")
        state = directive if directive in ("failed", "requires_action", "processing") else "succeeded"
        self._path(operation).write_text(json.dumps({**record, "state": state, "reference": f"sc_{operation}"}))
        if directive == "lost":
            raise RailUnavailable(f"{self.name}: timed out")
        if directive == "hang":
            await asyncio.Event().wait()  # never set: the test kills the process here
        return self._outcome(operation)

    def _outcome(self, operation: str) -> Outcome:
        path = self._path(operation)
        if not path.exists():
            return Outcome(PaymentState.CREATED)
        kept = json.loads(path.read_text())
        state = PaymentState(kept["state"])
        next_action = {"type": "redirect", "url": f"https://scripted.invalid/approve/{operation}"}
        return Outcome(
            state,
            kept["reference"],
            next_action=next_action if state == PaymentState.REQUIRES_ACTION else None,
            error="declined by the scripted provider" if state == PaymentState.FAILED else None,
            fee=Decimal(kept["fee"]) if "fee" in kept and state == PaymentState.SUCCEEDED else None,
        )

    def _next_directive(self) -> str | None:
        script = self.store / "script.json"
        if not script.exists():
            return None
        directives = json.loads(script.read_text())
        if not directives:
            return None
        script.write_text(json.dumps(directives[1:]))
        return str(directives[0])

    def _path(self, operation: str) -> Path:
        return self.store / (operation.replace(":", "_") + ".json")
