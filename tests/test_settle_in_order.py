"""A period is never skipped: settling one while an earlier one has something to settle is refused (issue 9, defect 14).

With flattrs in September and October, settling October first closed it and
left September for ever unsettled (a later period begun refuses an earlier
one). Now the use case, ``gateway settle`` and ``POST /operator/settle``
refuse it with ``earlier_period_unsettled``, naming September; on SQLite and
PostgreSQL.
"""

from __future__ import annotations

import re
import subprocess
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient
from moneyed import Money
from sqlalchemy import func, insert, select

from gateway.core.periods import parse_period
from gateway.deployment import Deployment
from gateway.errors import Conflict, EarlierPeriodUnsettled
from gateway.http.app import create_app
from gateway.http.ratelimit import MemoryLimiter
from gateway.storage.engine import run_in_transaction
from gateway.storage.schema import periods, settlements
from gateway.usecases.flattr import flattr
from gateway.usecases.reports import receipts_of
from gateway.usecases.settlement import settle
from gateway.usecases.settlement.prepare import prepare
from gateway.usecases.subscriptions import subscribe
from tests.http_support import member, settle_and_wait
from tests.support import BASE_CONFIG, DECEMBER, NOVEMBER, config, eur, write_toml
from tests.test_cli import gateway
from tests.test_http_journeys import post
from tests.test_settlement import assert_ledger_ok, fund, people, thing

SEPTEMBER_DAY = datetime(2026, 9, 15, 12, 0, tzinfo=UTC)
OCTOBER_DAY = datetime(2026, 10, 15, 12, 0, tzinfo=UTC)
JANUARY = datetime(2027, 1, 2, 0, 5, tzinfo=UTC)
SEPTEMBER, OCTOBER, NOVEMBER_PERIOD, DECEMBER_PERIOD = (
    parse_period(p, "month") for p in ("2026-09", "2026-10", "2026-11", "2026-12")
)
REFUSAL = "the period 2026-09 has unsettled flattrs: settle 2026-09 first (gateway settle --period 2026-09)"


def flattrs_in_september_and_october(deployment: Deployment) -> dict[str, int]:
    """A funder who flattrs a creator's thing in September and again in October; the clock then in December."""
    deployment.clock.set(SEPTEMBER_DAY)
    ids = people(deployment, "fan", "a")
    fund(deployment, ids["fan"], budget="3.00")
    a = thing(deployment, ids["a"], "a")
    flattr(deployment, ids["fan"], a)
    deployment.clock.set(OCTOBER_DAY)
    flattr(deployment, ids["fan"], a)
    deployment.clock.set(DECEMBER)
    return ids


def begun(deployment: Deployment) -> tuple[list[str], int]:
    """The periods with a row, and the budgets fixed: what a refused settlement must not have written."""
    with deployment.engine.connect() as connection:
        rows = connection.execute(select(periods.c.id).order_by(periods.c.id)).scalars().all()
        fixed = connection.execute(select(func.count()).select_from(settlements)).scalar()
    return list(rows), fixed


def settled_amounts(deployment: Deployment, funder: int, period_id: str) -> list[tuple[Money, list[Money]]]:
    return [(r.budget, [line.share for line in r.lines]) for r in receipts_of(deployment, funder, period_id)]


def test_october_is_refused_while_september_holds_flattrs_then_both_settle_in_order(deployment: Deployment) -> None:
    ids = flattrs_in_september_and_october(deployment)
    with pytest.raises(EarlierPeriodUnsettled, match=re.escape(REFUSAL)) as refused:
        settle(deployment, OCTOBER)
    assert refused.value.code == "earlier_period_unsettled" and isinstance(refused.value, Conflict)
    assert refused.value.details == {"period": "2026-09"}
    assert begun(deployment) == ([], 0)  # nothing written: no period row, no budget fixed

    assert settle(deployment, SEPTEMBER).status == "closed"
    assert settle(deployment, OCTOBER).status == "closed"
    for month in ("2026-09", "2026-10"):
        assert settled_amounts(deployment, ids["fan"], month) == [(eur("3.00"), [eur("2.70")])]
    assert_ledger_ok(deployment)


def test_prepare_refuses_it_in_its_own_transaction(deployment: Deployment) -> None:
    """What ``period_to_settle`` checked before may have changed by then: ``prepare`` checks again, and writes nothing."""
    flattrs_in_september_and_october(deployment)
    with pytest.raises(EarlierPeriodUnsettled, match=re.escape(REFUSAL)):
        run_in_transaction(deployment.engine, lambda c: prepare(c, deployment.settings, OCTOBER, DECEMBER))
    assert begun(deployment) == ([], 0)


def test_no_period_named_takes_september(deployment: Deployment) -> None:
    flattrs_in_september_and_october(deployment)
    assert settle(deployment).period == "2026-09"
    assert settle(deployment).period == "2026-10"


def test_a_month_with_only_a_subscription_is_not_skipped(deployment: Deployment) -> None:
    """A subscription flattrs every month at settlement: skipping one would take that month's flattr from its creator."""
    deployment.clock.set(SEPTEMBER_DAY)
    ids = people(deployment, "fan", "a", "b")
    fund(deployment, ids["fan"], budget="3.00")
    subscribe(deployment, ids["fan"], thing(deployment, ids["a"], "a"))
    deployment.clock.set(OCTOBER_DAY)
    flattr(deployment, ids["fan"], thing(deployment, ids["b"], "b"))
    deployment.clock.set(DECEMBER)
    with pytest.raises(EarlierPeriodUnsettled, match="the period 2026-09 has subscriptions to apply: settle 2026-09 first"):
        settle(deployment, OCTOBER)  # on a deployment that settled none: the month the subscription was made in
    assert settle(deployment).period == "2026-09"  # and that is the one taken with no period named
    with pytest.raises(EarlierPeriodUnsettled, match="the period 2026-10 has unsettled flattrs: settle 2026-10 first"):
        settle(deployment, NOVEMBER_PERIOD)
    settle(deployment, OCTOBER)
    deployment.clock.set(JANUARY)
    with pytest.raises(EarlierPeriodUnsettled, match="the period 2026-11 has subscriptions to apply: settle 2026-11 first"):
        settle(deployment, DECEMBER_PERIOD)  # November: only the subscription
    settle(deployment, NOVEMBER_PERIOD)
    assert settled_amounts(deployment, ids["fan"], "2026-11") == [(eur("3.00"), [eur("2.70")])]


@pytest.mark.parametrize("unspent", ["return", "account:charity"])
def test_budgets_alone_hold_a_month_back_only_when_unspent_goes_to_an_account(
    deployment_factory: Callable[..., Deployment], unspent: str
) -> None:
    """With ``account:…`` every standing budget settles to it each month; with ``return`` a month of budgets only moves nothing."""
    deployment = deployment_factory(config(unspent=unspent))
    ids = people(deployment, "fan", "a")
    fund(deployment, ids["fan"], budget="3.00")
    flattr(deployment, ids["fan"], thing(deployment, ids["a"], "a"))
    deployment.clock.set(NOVEMBER)
    settle(deployment, OCTOBER)
    deployment.clock.set(JANUARY)  # November had the budget and nothing else
    if unspent == "return":
        assert settle(deployment, DECEMBER_PERIOD).status == "closed"
        return
    with pytest.raises(
        EarlierPeriodUnsettled, match="the period 2026-11 has budgets to settle to the account charity: settle 2026-11 first"
    ):
        settle(deployment, DECEMBER_PERIOD)
    settle(deployment, NOVEMBER_PERIOD)
    assert [r.unspent for r in receipts_of(deployment, ids["fan"], "2026-11")] == [eur("3.00")]
    assert settle(deployment, DECEMBER_PERIOD).status == "closed"
    assert_ledger_ok(deployment)


def test_a_period_lost_before_this_check_blocks_nothing(deployment: Deployment) -> None:
    """September left unsettled behind a closed October (as before the fix) can never settle: it must not block November."""
    ids = flattrs_in_september_and_october(deployment)
    with deployment.engine.begin() as connection:  # the state the defect left: October closed, September never begun
        connection.execute(
            insert(periods).values(
                id="2026-10",
                starts_on=OCTOBER.start,
                ends_on=OCTOBER.end,
                status="closed",
                give_to_receive=False,
                started_at=NOVEMBER,
                closed_at=NOVEMBER,
            )
        )
    deployment.clock.set(datetime(2026, 11, 15, 12, 0, tzinfo=UTC))
    flattr(deployment, ids["fan"], thing(deployment, ids["a"], "a2"))
    deployment.clock.set(DECEMBER)
    assert settle(deployment, NOVEMBER_PERIOD).status == "closed"
    with pytest.raises(Conflict, match="2026-10 has begun settling: periods settle in order, so 2026-09 no longer can"):
        settle(deployment, SEPTEMBER)


# The command line, as a process.

CLI_CONFIG: dict[str, Any] = {
    "platform": {**BASE_CONFIG["platform"]},
    "currencies": {"EUR": BASE_CONFIG["currencies"]["EUR"]},
    "rails": {"sandbox": {"currencies": ["EUR"]}},
    "rates": {"providers": ["static"]},
}


def test_gateway_settle_refuses_october_in_one_line_then_settles_both_in_order(
    deployment_factory: Callable[..., Deployment], database_url: str, outbox: Path, tmp_path: Path
) -> None:
    data = {**CLI_CONFIG, "mail": {"outbox": str(outbox)}}
    deployment = deployment_factory(data)
    ids = flattrs_in_september_and_october(deployment)
    path = write_toml(tmp_path / "deployment.toml", {"database": {"url": database_url}, **data})

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return gateway("--config", str(path), "settle", *args, cwd=tmp_path)

    refused = run("--period", "2026-10")
    assert refused.returncode == 1
    assert refused.stderr.startswith(f"gateway: earlier_period_unsettled: {REFUSAL}") and refused.stderr.count("\n") == 1, (
        refused.stderr
    )
    assert begun(deployment) == ([], 0)
    for month in ("2026-09", "2026-10"):
        settled = run("--period", month)
        assert settled.returncode == 0 and f"period {month}: closed" in settled.stdout, settled.stderr
        assert settled_amounts(deployment, ids["fan"], month) == [(eur("3.00"), [eur("2.70")])]


# The API.

SETTLE = "/api/v1/operator/settle"


@pytest.fixture
async def client(deployment: Deployment, aiohttp_client: Any) -> TestClient:
    return await aiohttp_client(create_app(deployment, limiter=MemoryLimiter()))


async def test_post_settle_answers_409_and_starts_no_thread(client: TestClient, deployment: Deployment) -> None:
    ids = flattrs_in_september_and_october(deployment)
    boss = member(deployment, "boss", role="operator")
    refused = await post(client, SETTLE, boss, {"period": "2026-10"}, key="k1")
    assert refused.status == 409 and refused.content_type == "application/problem+json"
    problem = await refused.json()
    assert problem["type"] == "earlier_period_unsettled" and problem["period"] == "2026-09"
    assert problem["detail"].startswith(REFUSAL)
    for month in ("2026-10", "2026-09"):  # a thread started would be running, or have failed and said why
        status = await (await client.get(f"/api/v1/operator/periods/{month}", headers=boss.auth)).json()
        assert (status["status"], status["running"], status["error"]) == ("open", False, None)
    assert begun(deployment) == ([], 0)

    for month in ("2026-09", "2026-10"):
        report = await settle_and_wait(client, boss, month)
        assert report["creators"] == [{"handle": "a", "earned": {"amount": "2.70", "currency": "EUR"}, "funders": 1}]
    assert settled_amounts(deployment, ids["fan"], "2026-10") == [(eur("3.00"), [eur("2.70")])]
