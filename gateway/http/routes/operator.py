"""The operator's routes, and the public period report."""

from __future__ import annotations

import datetime as dt
from typing import Literal

from pydantic import BaseModel, Field, StrictBool, StrictStr
from sqlalchemy import select

from ...audit import check_ledger
from ...errors import GatewayError, NotFound
from ...periods import parse_period
from ...reports import PeriodReport, period_report
from ...settlement import period_to_settle
from ...settlement.status import SettlementProgress, settlement_progress
from ...storage.engine import reading
from ...storage.schema import participants
from ...usecases.accounts import freeze
from ..api import Api, Call
from ..keys import SETTLER
from ..schemas import Model, MoneyJson, PERIOD_PATTERN, PageQuery, decode_id_cursor, encode_cursor, money_json

router = Api()
TAG = "operator"


class RateOut(BaseModel):
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
    rate_from_default: RateOut | None


class CurrencyList(BaseModel):
    default_currency: str
    items: list[CurrencyOut]


class SettleIn(Model):
    period: StrictStr | None = Field(default=None, pattern=PERIOD_PATTERN, description="by default the one left settling, else the next in order that has ended")


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


def report_out(call: Call, report: PeriodReport, listed_only: set[str] | None = None) -> ReportOut:
    currencies = call.deployment.currencies
    return ReportOut(
        period=report.period,
        status=report.status,
        currencies=[
            CurrencyTotalsOut(currency=t.currency, funders=t.funders, budgets=money_json(currencies, t.budgets),
                              fees=money_json(currencies, t.fees), distributed=money_json(currencies, t.distributed),
                              unspent=money_json(currencies, t.unspent), demurrage=money_json(currencies, t.demurrage))
            for t in report.currencies
        ],
        creators=[
            CreatorTotalOut(handle=c.handle, earned=money_json(currencies, c.earned), funders=c.funders)
            for c in report.creators
            if listed_only is None or c.handle in listed_only
        ],
    )


@router.route("GET", "/operator/currencies", "Currencies, rules and rates in force", TAG, access="operator", scope="operator",
              response=CurrencyList)
async def currencies(call: Call) -> CurrencyList:
    deployment = call.deployment
    settings = deployment.settings
    today = deployment.clock.now().date()

    def rate(code: str) -> RateOut | None:
        try:
            found = deployment.rates.rate(settings.default_currency, code, today)
        except GatewayError:
            return None
        return RateOut(quote=code, value=str(found.value), date=found.on, source=found.source)

    items = []
    for unit in settings.currencies:
        policy = settings.policies[unit.code]
        items.append(CurrencyOut(
            code=unit.code, kind=unit.kind, minor_per_major=unit.minor_per_major,
            minimum_budget=money_json(settings.currencies, unit.from_minor(policy.minimum_budget)),
            minimum_withdrawal=money_json(settings.currencies, unit.from_minor(policy.minimum_withdrawal)),
            fee=str(policy.fee), rate_from_default=await call.run(rate, unit.code),
        ))
    return CurrencyList(default_currency=settings.default_currency, items=items)


@router.route("POST", "/operator/settle", "Start settling a period, or finishing it; poll its status", TAG,
              access="operator", scope="operator", body=SettleIn, response=SettlementOut, status=202, idempotent=True)
async def settle_period(call: Call) -> SettlementOut:
    """The settlement runs in this process's settlement thread; the answer comes at once, whatever the period's state.

    A period the thread settles already is not started twice; another period
    while it runs is a 409. A settlement that failed or stopped is resumed by
    asking again (with a new Idempotency-Key: the same one replays the first answer).
    """
    deployment = call.deployment
    named = parse_period(call.body.period, deployment.settings.period) if call.body.period else None
    period = await call.run(period_to_settle, deployment, named)
    progress = await call.run(_progress, deployment, period.id)
    if progress.status != "closed":
        call.request.app[SETTLER].start(period)
    return await settlement_out(call, period.id)


@router.route("GET", "/operator/periods/{period}", "How far a period's settlement got", TAG, access="operator",
              scope="operator", response=SettlementOut)
async def settlement_status(call: Call) -> SettlementOut:
    return await settlement_out(call, parse_period(call.path["period"], call.deployment.settings.period).id)


async def settlement_out(call: Call, period_id: str) -> SettlementOut:
    running, error = call.request.app[SETTLER].state(period_id)  # first: see BackgroundSettlement.state
    progress = await call.run(_progress, call.deployment, period_id)
    return SettlementOut(
        period=period_id, status=progress.status or ("settling" if running else "open"), settled=progress.settled,
        budgets=progress.budgets, running=running, error=error, report=f"{router.prefix}/operator/periods/{period_id}/report",
    )


def _progress(deployment, period_id: str) -> SettlementProgress:
    with reading(deployment.engine) as connection:
        return settlement_progress(connection, period_id)


def _report(deployment, period_id: str) -> PeriodReport:
    with reading(deployment.engine) as connection:
        return period_report(connection, deployment.settings, period_id)


@router.route("GET", "/operator/periods/{period}/report", "A settled period's full report", TAG, access="operator",
              scope="operator", response=ReportOut)
async def full_report(call: Call) -> ReportOut:
    period = parse_period(call.path["period"], call.deployment.settings.period)
    return report_out(call, await call.run(_report, call.deployment, period.id))


@router.route("GET", "/operator/ledger-check", "Verify every ledger invariant", TAG, access="operator", scope="operator",
              response=CheckOut)
async def ledger_check(call: Call) -> CheckOut:
    def run() -> list[str]:
        with reading(call.deployment.engine) as connection:
            return [str(breach) for breach in check_ledger(connection)]

    breaches = await call.run(run)
    return CheckOut(ok=not breaches, breaches=breaches)


@router.route("GET", "/operator/accounts", "List accounts", TAG, access="operator", scope="operator", query=PageQuery,
              response=AccountPage)
async def accounts(call: Call) -> AccountPage:
    after = decode_id_cursor(call.query.cursor) or 0

    def load():
        with reading(call.deployment.engine) as connection:
            return connection.execute(
                select(participants.c.id, participants.c.handle, participants.c.role, participants.c.frozen)
                .where(participants.c.kind == "person", participants.c.id > after)
                .order_by(participants.c.id).limit(call.query.limit + 1)
            ).all()

    rows = await call.run(load)
    page = rows[: call.query.limit]
    return AccountPage(
        items=[AccountOut(id=r.id, handle=r.handle, role=r.role, frozen=r.frozen) for r in page],
        next_cursor=encode_cursor(page[-1].id) if len(rows) > call.query.limit else None,
    )


@router.route("POST", "/operator/accounts/{participant_id}/freeze", "Freeze or unfreeze an account", TAG,
              access="operator", scope="operator", body=FreezeIn, response=AccountOut)
async def freeze_account(call: Call) -> AccountOut:
    participant = call.path["participant_id"]
    await call.run(freeze, call.deployment, participant, call.body.frozen)

    def load():
        with reading(call.deployment.engine) as connection:
            return connection.execute(select(participants).where(participants.c.id == participant)).first()

    row = await call.run(load)
    if row is None:
        raise NotFound(f"no account #{participant}")
    return AccountOut(id=row.id, handle=row.handle, role=row.role, frozen=row.frozen)


@router.route("GET", "/periods/{period}/report", "A closed period's public report (creators who opted in)", "public",
              access="public", response=ReportOut)
async def public_report(call: Call) -> ReportOut:
    period = parse_period(call.path["period"], call.deployment.settings.period)
    report = await call.run(_report, call.deployment, period.id)
    if report.status != "closed":
        raise NotFound(f"the period {period.id} is not closed yet")

    def listed() -> set[str]:
        with reading(call.deployment.engine) as connection:
            return set(connection.execute(select(participants.c.handle).where(participants.c.listed.is_(True))).scalars())

    return report_out(call, report, await call.run(listed))
