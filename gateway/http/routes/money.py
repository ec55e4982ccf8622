"""Money: balances, budgets, top-ups, receipts, withdrawals, earnings moves and payments between members."""

from __future__ import annotations

import datetime as dt
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, StrictStr

from adapters import PaymentState
from gateway.http.api import Api, Call
from gateway.http.schemas import (
    PERIOD_PATTERN,
    Model,
    MoneyJson,
    PageQuery,
    decode_id_cursor,
    encode_cursor,
    money_json,
)
from gateway.rules import CURRENCY, HANDLE, HANDLE_MAX, MEMO_MAX, TOTP_CODE, anchored
from gateway.usecases.budgets import budgets_of, clear_budget, set_budget
from gateway.usecases.calendar import period as parse_period
from gateway.usecases.destinations import DESTINATION_MAX, destinations_of, onboard, set_destination
from gateway.usecases.holds import held_earnings
from gateway.usecases.reports import receipts_of
from gateway.usecases.statements import (
    balances_of,
    top_up_of,
    withdrawal_of,
    withdrawals_of,
)
from gateway.usecases.top_up import TopUp, refresh_top_up, top_up
from gateway.usecases.transfers import move_earnings, pay
from gateway.usecases.withdraw import Withdrawal, withdraw

router = Api()
TAG = "money"
STATES = " | ".join(PaymentState) + " (created, requires_action, processing and unknown are in flight)"


class BalanceOut(BaseModel):
    purpose: str = Field(description="wallet: to give; earnings: to withdraw; payout: withdrawals in flight")
    balance: MoneyJson
    available: MoneyJson


class Balances(BaseModel):
    items: list[BalanceOut]


class BudgetIn(Model):
    amount: StrictStr = Field(pattern=r"^[0-9]+(\.[0-9]+)?$|^[0-9]+:[0-5][0-9]$", max_length=40, examples=["10.00"])


class BudgetList(BaseModel):
    items: list[MoneyJson]


class TopUpIn(Model):
    amount: MoneyJson
    rail: StrictStr = Field(default="sandbox", max_length=32)


class TopUpOut(BaseModel):
    id: int
    rail: str
    amount: MoneyJson
    status: str = Field(description=STATES)
    next_action: dict[str, Any] | None = Field(
        description="what the funder does next while the top-up is in flight: a redirect (an approval) or a client secret (3-D Secure)"
    )
    error: str | None


class WithdrawalIn(Model):
    amount: MoneyJson
    rail: StrictStr = Field(default="sandbox", max_length=32)
    payout_currency: StrictStr | None = Field(default=None, pattern=anchored(CURRENCY))
    totp_code: StrictStr | None = Field(
        default=None, pattern=TOTP_CODE, description="above the currency's totp_withdrawal_above, the one-time code"
    )


class DestinationIn(Model):
    destination: StrictStr = Field(min_length=1, max_length=DESTINATION_MAX, examples=["acct_1Nv0FGQ9RKHgCVdK", "me@example.org"])
    password: StrictStr = Field(min_length=1, max_length=1024, description="the account's password, again")
    totp_code: StrictStr | None = Field(default=None, pattern=TOTP_CODE, description="when two-factor sign-in is on")


class DestinationOut(BaseModel):
    rail: str
    destination: str
    updated_at: dt.datetime


class DestinationList(BaseModel):
    items: list[DestinationOut]


class RateOut(BaseModel):
    base: str
    quote: str
    value: str
    date: dt.date
    source: str


class WithdrawalOut(BaseModel):
    id: int
    rail: str
    amount: MoneyJson
    payout: MoneyJson
    rate: RateOut
    status: str = Field(description=STATES)
    error: str | None


class WithdrawalPage(BaseModel):
    items: list[WithdrawalOut]
    next_cursor: str | None


class ReceiptQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")
    period: str = Field(pattern=PERIOD_PATTERN, description="a settled period, like 2026-10")


class ReceiptLineOut(BaseModel):
    thing_id: int
    title: str
    creator: str
    points: int
    share: MoneyJson


class ReceiptOut(BaseModel):
    period: str
    currency: str
    status: str = Field(description="done | returned | no_means")
    budget: MoneyJson
    fee: MoneyJson
    unspent: MoneyJson
    lines: list[ReceiptLineOut]


class Receipts(BaseModel):
    items: list[ReceiptOut]


class EarningsMoveIn(Model):
    amount: MoneyJson


class EarningsMoveOut(BaseModel):
    id: int = Field(description="the ledger transaction that moved it")
    amount: MoneyJson


class PaymentIn(Model):
    payee: StrictStr = Field(pattern=anchored(HANDLE), max_length=HANDLE_MAX, description="the member's handle")
    amount: MoneyJson = Field(description="in a currency without an outside world (mutual credit, time)")
    memo: StrictStr | None = Field(default=None, max_length=MEMO_MAX, description="what it is for")


class PaymentOut(BaseModel):
    id: int = Field(description="the ledger transaction that paid it")
    payee: str
    amount: MoneyJson
    memo: str | None


def top_up_out(call: Call, result: TopUp) -> TopUpOut:
    return TopUpOut(
        id=result.id,
        rail=result.rail,
        amount=money_json(call.deployment.currencies, result.amount),
        status=result.status,
        next_action=result.next_action,
        error=result.error,
    )


def withdrawal_out(call: Call, result: Withdrawal) -> WithdrawalOut:
    currencies = call.deployment.currencies
    rate = RateOut(
        base=result.rate.base,
        quote=result.rate.quote,
        value=str(result.rate.value),
        date=result.rate.on,
        source=result.rate.source,
    )
    return WithdrawalOut(
        id=result.id,
        rail=result.rail,
        amount=money_json(currencies, result.amount),
        payout=money_json(currencies, result.payout),
        rate=rate,
        status=result.status,
        error=result.error,
    )


@router.route(
    "GET", "/me/balances", "My wallets, earnings and payouts in flight, per currency", TAG, scope="read", response=Balances
)
async def my_balances(call: Call) -> Balances:
    currencies = call.deployment.currencies
    rows = await call.run(balances_of, call.deployment, call.me)
    return Balances(
        items=[
            BalanceOut(
                purpose=b.purpose, balance=money_json(currencies, b.balance), available=money_json(currencies, b.available)
            )
            for b in rows
        ]
    )


@router.route("GET", "/me/budgets", "My budgets per period", TAG, scope="read", response=BudgetList)
async def my_budgets(call: Call) -> BudgetList:
    items = await call.run(budgets_of, call.deployment, call.me)
    return BudgetList(items=[money_json(call.deployment.currencies, m) for m in items])


@router.route(
    "PUT",
    "/me/budgets/{currency}",
    "Set my budget per period in a currency",
    TAG,
    scope="money",
    body=BudgetIn,
    response=MoneyJson,
    errors=("below_minimum",),
)
async def put_budget(call: Call) -> MoneyJson:
    currencies = call.deployment.currencies
    amount = currencies.money(currencies.get(call.path["currency"]).parse(call.body.amount), call.path["currency"])
    return money_json(currencies, await call.run(set_budget, call.deployment, call.me, amount))


@router.route("DELETE", "/me/budgets/{currency}", "Remove my budget in a currency", TAG, scope="money")
async def delete_budget(call: Call) -> None:
    await call.run(clear_budget, call.deployment, call.me, call.path["currency"])


@router.route(
    "POST",
    "/me/top-ups",
    "Top up my wallet through a rail",
    TAG,
    scope="money",
    body=TopUpIn,
    response=TopUpOut,
    status=201,
    idempotent=True,
    rate="top_up",
    errors=("currency_not_enabled",),
)
async def post_top_up(call: Call) -> TopUpOut:
    body: TopUpIn = call.body
    amount = body.amount.money(call.deployment.currencies)
    return top_up_out(call, await top_up(call.deployment, call.me, amount, body.rail, call.key))


@router.route(
    "POST",
    "/me/top-ups/{top_up_id}/refresh",
    "Ask the provider again where my top-up stands (after a 3-D Secure check or an approval at PayPal)",
    TAG,
    scope="money",
    response=TopUpOut,
    rate="top_up",
    errors=("rail_unavailable",),
)
async def refresh_my_top_up(call: Call) -> TopUpOut:
    top_up_of_mine = await call.run(top_up_of, call.deployment, call.me, call.path["top_up_id"])  # 404 for another's
    return top_up_out(call, await refresh_top_up(call.deployment, top_up_of_mine.id))


class HeldOut(BaseModel):
    period: str
    amount: MoneyJson
    free_on: dt.datetime = Field(description="from this moment the part may be withdrawn or moved to the wallet")


class HeldList(BaseModel):
    items: list[HeldOut]


@router.route(
    "GET",
    "/me/earnings/held",
    "My earnings held against a chargeback, and when each part becomes free",
    TAG,
    scope="read",
    response=HeldList,
)
async def my_held_earnings(call: Call) -> HeldList:
    currencies = call.deployment.currencies
    parts = await call.run(held_earnings, call.deployment, call.me)
    return HeldList(
        items=[
            HeldOut(period=p.period, amount=money_json(currencies, currencies.money(p.amount, p.currency)), free_on=p.free_on)
            for p in parts
        ]
    )


@router.route("GET", "/me/top-ups/{top_up_id}", "One of my top-ups", TAG, scope="read", response=TopUpOut)
async def get_top_up(call: Call) -> TopUpOut:
    return top_up_out(call, await call.run(top_up_of, call.deployment, call.me, call.path["top_up_id"]))


@router.route(
    "GET", "/me/receipts", "Where my budget went in a settled period", TAG, scope="read", query=ReceiptQuery, response=Receipts
)
async def my_receipts(call: Call) -> Receipts:
    deployment = call.deployment
    period = parse_period(deployment, call.query.period)

    currencies = deployment.currencies
    items = [
        ReceiptOut(
            period=r.period,
            currency=r.currency,
            status=r.status,
            budget=money_json(currencies, r.budget),
            fee=money_json(currencies, r.fee),
            unspent=money_json(currencies, r.unspent),
            lines=[
                ReceiptLineOut(
                    thing_id=line.thing_id,
                    title=line.title,
                    creator=line.creator,
                    points=line.points,
                    share=money_json(currencies, line.share),
                )
                for line in r.lines
            ],
        )
        for r in await call.run(receipts_of, deployment, call.me, period.id)
    ]
    return Receipts(items=items)


@router.route(
    "POST",
    "/me/withdrawals",
    "Withdraw earnings through a rail, in my preferred currency",
    TAG,
    scope="money",
    body=WithdrawalIn,
    response=WithdrawalOut,
    status=201,
    idempotent=True,
    rate="withdraw",
    errors=("insufficient_funds", "below_minimum", "earnings_held", "email_not_verified", "totp_required", "totp_not_enabled"),
)
async def post_withdrawal(call: Call) -> WithdrawalOut:
    body: WithdrawalIn = call.body
    amount = body.amount.money(call.deployment.currencies)
    result = await withdraw(call.deployment, call.me, amount, body.rail, call.key, body.payout_currency, body.totp_code)
    return withdrawal_out(call, result)


@router.route("GET", "/me/payout-destinations", "Where each rail pays me", TAG, scope="read", response=DestinationList)
async def my_destinations(call: Call) -> DestinationList:
    found = await call.run(destinations_of, call.deployment, call.me)
    return DestinationList(items=[DestinationOut(rail=d.rail, destination=d.destination, updated_at=d.updated_at) for d in found])


@router.route(
    "PUT",
    "/me/payout-destinations/{rail}",
    "Set where a rail pays me (the password again, the one-time code if two-factor sign-in is on; a notice is mailed)",
    TAG,
    scope="money",
    body=DestinationIn,
    response=DestinationOut,
    rate="totp",
    errors=("invalid_credentials", "totp_required", "email_not_verified", "rail_not_enabled"),
)
async def put_destination(call: Call) -> DestinationOut:
    body: DestinationIn = call.body
    done = await call.run(
        set_destination, call.deployment, call.me, call.path["rail"], body.destination, body.password, body.totp_code
    )
    return DestinationOut(rail=done.rail, destination=done.destination, updated_at=done.updated_at)


class ProofIn(Model):
    password: StrictStr = Field(min_length=1, max_length=1024, description="the account's password, again")
    totp_code: StrictStr | None = Field(default=None, pattern=TOTP_CODE, description="when two-factor sign-in is on")


class OnboardingOut(BaseModel):
    url: str = Field(description="the provider's page where the creator finishes their account; single use, short-lived")


@router.route(
    "POST",
    "/me/payout-destinations/{rail}/onboarding",
    "Open (or resume) my account at a rail that makes one (Stripe Connect): its page, the account kept as my destination",
    TAG,
    scope="money",
    body=ProofIn,
    response=OnboardingOut,
    rate="totp",
    errors=("invalid_credentials", "totp_required", "email_not_verified", "rail_not_enabled", "rail_unavailable"),
)
async def post_onboarding(call: Call) -> OnboardingOut:
    body: ProofIn = call.body
    return OnboardingOut(url=await onboard(call.deployment, call.me, call.path["rail"], body.password, body.totp_code))


@router.route(
    "GET", "/me/withdrawals", "My withdrawals, newest first", TAG, scope="read", query=PageQuery, response=WithdrawalPage
)
async def my_withdrawals(call: Call) -> WithdrawalPage:
    before = decode_id_cursor(call.query.cursor)
    rows = await call.run(withdrawals_of, call.deployment, call.me, before, call.query.limit + 1)
    page = rows[: call.query.limit]
    following = encode_cursor(page[-1].id) if len(rows) > call.query.limit else None
    return WithdrawalPage(items=[withdrawal_out(call, w) for w in page], next_cursor=following)


@router.route("GET", "/me/withdrawals/{withdrawal_id}", "One of my withdrawals", TAG, scope="read", response=WithdrawalOut)
async def get_withdrawal(call: Call) -> WithdrawalOut:
    return withdrawal_out(call, await call.run(withdrawal_of, call.deployment, call.me, call.path["withdrawal_id"]))


@router.route(
    "POST",
    "/me/earnings-moves",
    "Move some of my earnings into my wallet, to fund others with them",
    TAG,
    scope="money",
    body=EarningsMoveIn,
    response=EarningsMoveOut,
    status=201,
    idempotent=True,
    rate="move_earnings",
    errors=("insufficient_funds",),
)
async def post_earnings_move(call: Call) -> EarningsMoveOut:
    currencies = call.deployment.currencies
    amount = call.body.amount.money(currencies)
    result = await call.run(move_earnings, call.deployment, call.me, amount, call.idempotency_key)
    return EarningsMoveOut(id=result.transaction_id, amount=money_json(currencies, result.amount))


@router.route(
    "POST",
    "/me/payments",
    "Pay another member from my wallet, in community money (mutual credit, time)",
    TAG,
    scope="money",
    body=PaymentIn,
    response=PaymentOut,
    status=201,
    idempotent=True,
    rate="pay",
    errors=("insufficient_funds", "has_outside_world"),
)
async def post_payment(call: Call) -> PaymentOut:
    body: PaymentIn = call.body
    currencies = call.deployment.currencies
    amount = body.amount.money(currencies)
    result = await call.run(pay, call.deployment, call.me, body.payee, amount, call.idempotency_key, body.memo)
    return PaymentOut(
        id=result.transaction_id, payee=result.payee, amount=money_json(currencies, result.amount), memo=result.memo
    )
