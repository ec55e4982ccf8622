"""The operator's routes, and the public period report."""

from __future__ import annotations

import datetime as dt
from typing import Literal

from pydantic import BaseModel, Field, StrictBool, StrictStr

from gateway.http.api import Api, Call
from gateway.http.keys import SETTLER
from gateway.http.schemas import PERIOD_PATTERN, Model, MoneyJson, PageQuery, decode_id_cursor, encode_cursor, money_json
from gateway.usecases import reports
from gateway.usecases.calendar import period as parse_period
from gateway.usecases.identity.roles import RoleChange, freeze, role_history, set_role_as_operator
from gateway.usecases.operator import AccountSummary, account_summary, list_accounts, verify_ledger
from gateway.usecases.refund import refund_top_up
from gateway.usecases.reports import PeriodReport, period_report
from gateway.usecases.rules_in_force import currency_rules
from gateway.usecases.settlement import period_to_settle
from gateway.usecases.settlement.status import settlement_progress

router = Api()
TAG = "operator"


class RateFromDefault(BaseModel):
    quote: str
    value: str
    date: dt.date
    source: str


class CurrencyOut(BaseModel):
    code: str
    kind: str
    minor_per_major: int
    minimum_budget: MoneyJson
    minimum_withdrawal: MoneyJson
    fee: str
    rate_from_default: RateFromDefault | None


class CurrencyList(BaseModel):
    default_currency: str
    items: list[CurrencyOut]


class SettleIn(Model):
    period: StrictStr | None = Field(
        default=None,
        pattern=PERIOD_PATTERN,
        description="by default the one left settling, else the next in order that has ended",
    )


class SettlementOut(BaseModel):
    period: str
    status: Literal["open", "settling", "closed"] = Field(
        description="open: not started; settling: started (running here or elsewhere, or stopped: ask again to resume)"
    )
    settled: int = Field(description="budgets (one per funder and currency) settled so far")
    budgets: int = Field(description="the period's budgets in all; 0 until the settlement has fixed them")
    running: bool = Field(description="this server process is settling it now")
    error: str | None = Field(description="why this process's last run of it failed, if it did; ask again to resume it")
    report: str = Field(description="where the period's report is, once it is closed")


class CurrencyTotalsOut(BaseModel):
    currency: str
    funders: int
    budgets: MoneyJson
    fees: MoneyJson
    distributed: MoneyJson
    unspent: MoneyJson
    demurrage: MoneyJson


class CreatorTotalOut(BaseModel):
    handle: str
    earned: MoneyJson
    funders: int


class ReportOut(BaseModel):
    period: str
    status: str
    currencies: list[CurrencyTotalsOut]
    creators: list[CreatorTotalOut]


class CheckOut(BaseModel):
    ok: bool
    breaches: list[str]


class AccountOut(BaseModel):
    id: int
    handle: str
    role: str
    frozen: bool


class AccountPage(BaseModel):
    items: list[AccountOut]
    next_cursor: str | None


class FreezeIn(Model):
    frozen: StrictBool = True


class RoleIn(Model):
    role: Literal["member", "operator"] = Field(description="operator grants the role, member revokes it")


class RoleChangeOut(BaseModel):
    id: int
    role: str = Field(description="the role given")
    actor_id: int | None = Field(description="the operator who gave it; null when no participant did (the command line)")
    via: str = Field(description="cli, api, or internal (the use case called from Python)")
    detail: str | None = Field(description="where from: the OS user at the command line, the credential over the API")
    created_at: dt.datetime


class RoleChangePage(BaseModel):
    items: list[RoleChangeOut]
    next_cursor: str | None


def report_out(call: Call, report: PeriodReport) -> ReportOut:
    currencies = call.deployment.currencies
    return ReportOut(
        period=report.period,
        status=report.status,
        currencies=[
            CurrencyTotalsOut(
                currency=t.currency,
                funders=t.funders,
                budgets=money_json(currencies, t.budgets),
                fees=money_json(currencies, t.fees),
                distributed=money_json(currencies, t.distributed),
                unspent=money_json(currencies, t.unspent),
                demurrage=money_json(currencies, t.demurrage),
            )
            for t in report.currencies
        ],
        creators=[
            CreatorTotalOut(handle=c.handle, earned=money_json(currencies, c.earned), funders=c.funders) for c in report.creators
        ],
    )


@router.route(
    "GET",
    "/operator/currencies",
    "Currencies, rules and rates in force",
    TAG,
    access="operator",
    scope="operator",
    response=CurrencyList,
)
async def currencies(call: Call) -> CurrencyList:
    settings = call.deployment.settings
    units = settings.currencies
    items = [
        CurrencyOut(
            code=rules.code,
            kind=rules.kind,
            minor_per_major=rules.minor_per_major,
            minimum_budget=money_json(units, units.money(rules.minimum_budget, rules.code)),
            minimum_withdrawal=money_json(units, units.money(rules.minimum_withdrawal, rules.code)),
            fee=str(rules.fee),
            rate_from_default=(
                RateFromDefault(quote=rules.code, value=str(rate.value), date=rate.on, source=rate.source)
                if (rate := rules.rate_from_default) is not None
                else None
            ),
        )
        for rules in await call.run(currency_rules, call.deployment)
    ]
    return CurrencyList(default_currency=settings.default_currency, items=items)


@router.route(
    "POST",
    "/operator/settle",
    "Start settling a period, or finishing it; poll its status",
    TAG,
    access="operator",
    scope="operator",
    body=SettleIn,
    response=SettlementOut,
    status=202,
    idempotent=True,
)
async def settle_period(call: Call) -> SettlementOut:
    """The settlement runs in this process's settlement thread; the answer comes at once, whatever the period's state.

    A period the thread settles already is not started twice; another period
    while it runs is a 409. A settlement that failed or stopped is resumed by
    asking again (with a new Idempotency-Key: the same one replays the first answer).
    """
    deployment = call.deployment
    named = parse_period(deployment, call.body.period) if call.body.period else None
    period = await call.run(period_to_settle, deployment, named)
    progress = await call.run(settlement_progress, deployment, period.id)
    if progress.status != "closed":
        call.request.app[SETTLER].start(period)
    return await settlement_out(call, period.id)


@router.route(
    "GET",
    "/operator/periods/{period}",
    "How far a period's settlement got",
    TAG,
    access="operator",
    scope="operator",
    response=SettlementOut,
)
async def settlement_status(call: Call) -> SettlementOut:
    return await settlement_out(call, parse_period(call.deployment, call.path["period"]).id)


async def settlement_out(call: Call, period_id: str) -> SettlementOut:
    running, error = call.request.app[SETTLER].state(period_id)  # first: see BackgroundSettlement.state
    progress = await call.run(settlement_progress, call.deployment, period_id)
    return SettlementOut(
        period=period_id,
        status=progress.status.value if progress.status else ("settling" if running else "open"),
        settled=progress.settled,
        budgets=progress.budgets,
        running=running,
        error=error,
        report=f"{router.prefix}/operator/periods/{period_id}/report",
    )


@router.route(
    "GET",
    "/operator/periods/{period}/report",
    "A settled period's full report",
    TAG,
    access="operator",
    scope="operator",
    response=ReportOut,
)
async def full_report(call: Call) -> ReportOut:
    period = parse_period(call.deployment, call.path["period"])
    return report_out(call, await call.run(period_report, call.deployment, period.id))


@router.route(
    "GET", "/operator/ledger-check", "Verify every ledger invariant", TAG, access="operator", scope="operator", response=CheckOut
)
async def ledger_check(call: Call) -> CheckOut:
    breaches = [str(breach) for breach in await call.run(verify_ledger, call.deployment)]
    return CheckOut(ok=not breaches, breaches=breaches)


@router.route(
    "GET", "/operator/accounts", "List accounts", TAG, access="operator", scope="operator", query=PageQuery, response=AccountPage
)
async def accounts(call: Call) -> AccountPage:
    after = decode_id_cursor(call.query.cursor) or 0
    rows = await call.run(list_accounts, call.deployment, after, call.query.limit + 1)
    page = rows[: call.query.limit]
    return AccountPage(
        items=[account_out(row) for row in page],
        next_cursor=encode_cursor(page[-1].id) if len(rows) > call.query.limit else None,
    )


class RefundIn(Model):
    amount: MoneyJson | None = Field(
        default=None, description="by default all of the top-up that is still in the funder's wallet"
    )


class RefundOut(BaseModel):
    id: int
    top_up_id: int
    amount: MoneyJson
    status: str = Field(description="a payment's state: succeeded once the provider gave it back; failed voids it")
    error: str | None


@router.route(
    "POST",
    "/operator/top-ups/{top_up_id}/refund",
    "Refund a top-up, up to the part still in the funder's wallet",
    TAG,
    access="operator",
    scope="operator",
    body=RefundIn,
    response=RefundOut,
    status=201,
    idempotent=True,
    errors=("not_found", "conflict", "rail_unavailable"),
)
async def refund(call: Call) -> RefundOut:
    body: RefundIn = call.body
    amount = body.amount.money(call.deployment.currencies) if body.amount is not None else None
    done = await refund_top_up(call.deployment, call.me, call.path["top_up_id"], amount, call.key)
    return RefundOut(
        id=done.id,
        top_up_id=done.top_up_id,
        amount=money_json(call.deployment.currencies, done.amount),
        status=done.status,
        error=done.error,
    )


@router.route(
    "POST",
    "/operator/accounts/{participant_id}/freeze",
    "Freeze or unfreeze an account",
    TAG,
    access="operator",
    scope="operator",
    body=FreezeIn,
    response=AccountOut,
)
async def freeze_account(call: Call) -> AccountOut:
    participant = call.path["participant_id"]
    await call.run(freeze, call.deployment, participant, call.body.frozen)
    return account_out(await call.run(account_summary, call.deployment, participant))


@router.route(
    "PUT",
    "/operator/accounts/{participant_id}/role",
    "Grant or revoke the operator role",
    TAG,
    access="operator",
    scope="operator",
    body=RoleIn,
    response=AccountOut,
)
async def set_account_role(call: Call) -> AccountOut:
    """Recorded with the operator and the credential they acted from; the role they have already changes nothing.

    A revoke that would leave no operator who can sign in is a 409: the CLI
    (``gateway operator grant``) is the only way back from that.
    """
    participant = call.path["participant_id"]
    await call.run(set_role_as_operator, call.deployment, call.caller, participant, call.body.role)
    return account_out(await call.run(account_summary, call.deployment, participant))


@router.route(
    "GET",
    "/operator/accounts/{participant_id}/role-changes",
    "An account's changes of role, newest first",
    TAG,
    access="operator",
    scope="operator",
    query=PageQuery,
    response=RoleChangePage,
)
async def account_role_changes(call: Call) -> RoleChangePage:
    before = decode_id_cursor(call.query.cursor)
    rows = await call.run(role_history, call.deployment, call.path["participant_id"], before, call.query.limit + 1)
    page = rows[: call.query.limit]
    return RoleChangePage(
        items=[role_change_out(row) for row in page],
        next_cursor=encode_cursor(page[-1].id) if len(rows) > call.query.limit else None,
    )


def role_change_out(change: RoleChange) -> RoleChangeOut:
    return RoleChangeOut(
        id=change.id,
        role=change.role,
        actor_id=change.actor_id,
        via=change.via,
        detail=change.detail,
        created_at=change.created_at,
    )


def account_out(summary: AccountSummary) -> AccountOut:
    return AccountOut(id=summary.id, handle=summary.handle, role=summary.role, frozen=summary.frozen)


@router.route(
    "GET",
    "/periods/{period}/report",
    "A closed period's public report (creators who opted in)",
    "public",
    access="public",
    response=ReportOut,
)
async def public_report(call: Call) -> ReportOut:
    period = parse_period(call.deployment, call.path["period"])
    return report_out(call, await call.run(reports.public_report, call.deployment, period.id))
