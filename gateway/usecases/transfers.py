"""Money that moves inside the platform, through no rail: earnings into one's wallet, and payments between members.

Flattr (2010) let a creator fund others with what they received: a creator
moves earnings into their own wallet, in any currency. Where a currency has
no outside world (mutual credit, time: ``CurrencyUnit.outside_world``),
members also pay each other directly, as in any LETS; money that a rail
brings in from outside is given by flattring, and cannot be topped up
where there is no outside world (``require_outside_world``).

Each movement is one balanced ledger transaction under a key made from the
request's (``keys.earnings_move``, ``keys.payment``): the same key and
request give back the first transaction, another request under it is
refused (L5). A replay is answered before anything is checked again, so it
answers as the first request did even once the money has moved on. The
wallets are locked before any other account (``accounts.locked_balances``),
what may move is checked under the locks, and the floors' CHECK constraint
refuses an overdraft whoever writes.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from moneyed import Money
from sqlalchemy import Connection, Row, select

from currencies import CurrencyUnit
from gateway.core import keys
from gateway.core.accounts import Purpose, account, accounts_of, locked_balances
from gateway.core.ledger import Entry, Kind, Leg, find_by_key, post
from gateway.core.means import available
from gateway.deployment import Deployment
from gateway.errors import HasOutsideWorld, InsufficientFunds, NoOutsideWorld, NotFound, ValidationError
from gateway.rules import check_handle, check_idempotency_key, check_memo
from gateway.storage.engine import run_in_transaction
from gateway.storage.schema import participants
from gateway.usecases.amounts import positive_amount
from gateway.usecases.holds import refuse_held
from gateway.usecases.participants import check_person, person


@dataclass(frozen=True)
class EarningsMove:
    transaction_id: int
    creator_id: int
    amount: Money


@dataclass(frozen=True)
class Payment:
    transaction_id: int
    payer_id: int
    payee: str  # the payee's handle
    amount: Money
    memo: str | None


def require_outside_world(unit: CurrencyUnit) -> None:
    """Refuse to bring in from a rail (a top-up) a currency that has no outside world: its members make it by giving."""
    if not unit.outside_world:
        raise NoOutsideWorld(
            f"{unit.code} has no outside world, so nothing tops it up: members give it from their credit, "
            "and what they receive lands in their wallet",
            currency=unit.code,
        )


def move_earnings(deployment: Deployment, creator_id: int, amount: Money, key: str) -> EarningsMove:
    """Move ``amount`` of a creator's earnings into their own wallet, once under ``key``, to give it to others."""
    unit, minor = positive_amount(deployment, amount)
    ledger_key = keys.earnings_move(creator_id, check_idempotency_key(key))

    def work(connection: Connection) -> int:
        person(connection, creator_id)
        wallet = account(connection, creator_id, Purpose.WALLET, unit)
        earnings = account(connection, creator_id, Purpose.EARNINGS, unit)
        entry = Entry(Kind.EARNINGS_MOVE, (Leg(earnings, -minor), Leg(wallet, minor)), idempotency_key=ledger_key)

        def refuse_too_much() -> None:
            locked_balances(connection, [wallet])  # the wallet first, as every writer does
            movable = refuse_held(connection, deployment, earnings, unit, minor)
            if minor > movable:
                raise InsufficientFunds(
                    f"you can move at most {unit.format(max(movable, 0))} of your earnings",
                    available=unit.format_amount(max(movable, 0)),
                )

        return _post_once(connection, entry, deployment.clock.now(), refuse_too_much)

    transaction_id = run_in_transaction(deployment.engine, work)
    return EarningsMove(transaction_id, creator_id, unit.from_minor(minor))


def pay(deployment: Deployment, payer_id: int, payee: str, amount: Money, key: str, memo: str | None = None) -> Payment:
    """Pay ``amount`` from the payer's wallet into the wallet of the member ``payee`` (a handle), once under ``key``.

    Only in a currency without an outside world; the payer's wallet may go
    down to its floor (the currency's credit limit), not below.
    """
    unit, minor = positive_amount(deployment, amount)
    if unit.outside_world:
        raise HasOutsideWorld(
            f"{unit.code} comes in from outside through a rail: give it by flattring; members pay each other directly "
            "only in money without an outside world (mutual credit, time)",
            currency=unit.code,
        )
    _check_payee_handle(payee)
    memo = check_memo(memo)
    ledger_key = keys.payment(payer_id, check_idempotency_key(key))

    def work(connection: Connection) -> int:
        person(connection, payer_id)
        payee_id = _payee(connection, payer_id, payee).id
        wallets = accounts_of(connection, [payer_id, payee_id], Purpose.WALLET, unit)
        source, target = wallets[payer_id], wallets[payee_id]
        meta = {"memo": memo} if memo else {}
        entry = Entry(Kind.PAYMENT, (Leg(source, -minor), Leg(target, minor)), idempotency_key=ledger_key, meta=meta)

        def refuse_past_the_floor() -> None:
            balances = locked_balances(connection, sorted((source, target), key=lambda wallet: wallet.id))
            room = available(deployment.settings, unit.code, balances[source.id], source.floor)
            if minor > room:
                raise InsufficientFunds(
                    f"you can pay at most {unit.format(max(room, 0))}: your wallet may go down to "
                    f"{unit.format(source.floor or 0)}, no further",
                    available=unit.format_amount(max(room, 0)),
                )

        return _post_once(connection, entry, deployment.clock.now(), refuse_past_the_floor)

    transaction_id = run_in_transaction(deployment.engine, work)
    return Payment(transaction_id, payer_id, payee, unit.from_minor(minor), memo)


def _post_once(connection: Connection, entry: Entry, now: datetime, refuse: Callable[[], None]) -> int:
    """Post ``entry`` under its key; ``refuse`` checks what may move on the first request only (a replay answers as it did)."""
    assert entry.idempotency_key is not None
    if find_by_key(connection, entry.idempotency_key) is None:
        refuse()
    return post(connection, entry, now).transaction_id  # a replay: the first transaction, or IdempotencyKeyReused


def _check_payee_handle(handle: str) -> None:
    try:
        check_handle(handle)
    except ValidationError as error:
        raise ValidationError(error.message, field="payee") from None


def _payee(connection: Connection, payer_id: int, handle: str) -> Row[Any]:
    """The member to pay: a person who may act (not frozen), and not the payer."""
    row = connection.execute(select(participants).where(participants.c.handle == handle)).first()
    if row is None:
        raise NotFound(f"no member {handle!r}", field="payee")
    check_person(row.id, row)
    if row.id == payer_id:
        raise ValidationError("you cannot pay yourself", field="payee")
    return row
