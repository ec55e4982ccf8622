"""Settlement on a real database: splits, receipts, subscriptions, policies, idempotence."""

from __future__ import annotations

import gc
import threading
from decimal import Decimal

import pytest
from moneyed import Money
from sqlalchemy import func, insert, select, update
from sqlalchemy.exc import OperationalError

from gateway.core.allocation import allocate_minor
from gateway.core.check import check_ledger
from gateway.core.periods import parse_period
from gateway.errors import Conflict, PeriodNotEnded
from gateway.storage.engine import make_engine, read_only, run_in_transaction
from gateway.storage.schema import postings, receipts, settlements, transactions
from gateway.usecases.budgets import set_budget
from gateway.usecases.flattr import flattr
from gateway.usecases.participants import register_participant
from gateway.usecases.reports import receipts_of
from gateway.usecases.settlement import settle
from gateway.usecases.settlement.prepare import prepare
from gateway.usecases.subscriptions import cancel, subscribe
from gateway.usecases.things import register_thing
from tests.support import DECEMBER, NOVEMBER, config, eur, top_up

OCTOBER = parse_period("2026-10", "month")


def people(deployment, *handles, currency="EUR"):
    return {h: register_participant(deployment, h, preferred_currency=currency) for h in handles}


def thing(deployment, owner, name):
    return register_thing(deployment, owner, f"https://example.org/{name}", name.title()).id


def fund(deployment, funder, amount="20.00", budget=None):
    top_up(deployment, funder, eur(amount), "sandbox", key=f"fund-{funder}-{amount}")
    if budget:
        set_budget(deployment, funder, eur(budget))


def settle_october(deployment):
    deployment.clock.set(NOVEMBER)
    return settle(deployment, OCTOBER)


def shares(deployment, funder, currency="EUR"):
    (receipt,) = [r for r in receipts_of(deployment, funder, OCTOBER.id) if r.currency == currency]
    return receipt


def assert_ledger_ok(deployment):
    with deployment.engine.connect() as connection:
        assert check_ledger(connection) == []


def test_ten_euros_among_four_things(deployment):
    ids = people(deployment, "fan", "a", "b", "c", "d")
    things = [thing(deployment, ids[h], h) for h in "abcd"]
    fund(deployment, ids["fan"], budget="10.00")
    for t in things:
        flattr(deployment, ids["fan"], t)
    report = settle_october(deployment)
    receipt = shares(deployment, ids["fan"])
    assert receipt.fee == eur("1.00")
    assert [line.share for line in receipt.lines] == [eur("2.25")] * 4
    assert report.currencies[0].budgets == eur("10.00")
    assert {c.handle: c.earned for c in report.creators} == {h: eur("2.25") for h in "abcd"}
    assert_ledger_ok(deployment)


def test_weighted_points(deployment_factory):
    deployment = deployment_factory(config(weighted_points=True))
    ids = people(deployment, "fan", "a", "b", "c")
    things = {h: thing(deployment, ids[h], h) for h in "abc"}
    fund(deployment, ids["fan"], budget="10.00")
    flattr(deployment, ids["fan"], things["a"])
    flattr(deployment, ids["fan"], things["b"])
    flattr(deployment, ids["fan"], things["c"])
    flattr(deployment, ids["fan"], things["c"])  # a second click adds a point
    settle_october(deployment)
    assert [line.share for line in shares(deployment, ids["fan"]).lines] == [eur("2.25"), eur("2.25"), eur("4.50")]


def test_settling_twice_changes_nothing(deployment):
    ids = people(deployment, "fan", "a")
    fund(deployment, ids["fan"], budget="3.00")
    flattr(deployment, ids["fan"], thing(deployment, ids["a"], "a"))
    first = settle_october(deployment)
    with deployment.engine.connect() as connection:
        count = connection.execute(select(func.count()).select_from(postings)).scalar()
    second = settle(deployment, OCTOBER)
    with deployment.engine.connect() as connection:
        assert connection.execute(select(func.count()).select_from(postings)).scalar() == count
    assert first == second


def test_a_period_cannot_settle_before_it_ends(deployment):
    with pytest.raises(PeriodNotEnded):
        settle(deployment, OCTOBER)


def test_budget_is_capped_by_the_wallet_and_no_means_skips(deployment):
    ids = people(deployment, "rich", "poor", "a")
    a = thing(deployment, ids["a"], "a")
    fund(deployment, ids["rich"], "5.00", budget="10.00")  # budget above the wallet: takes the wallet
    fund(deployment, ids["poor"], "2.00")
    flattr(deployment, ids["rich"], a)
    flattr(deployment, ids["poor"], a)
    settle_october(deployment)
    assert shares(deployment, ids["rich"]).budget == eur("5.00")
    assert shares(deployment, ids["poor"]).budget == eur("2.00")
    assert_ledger_ok(deployment)


def test_subscription_flattrs_every_period_until_its_end(deployment):
    ids = people(deployment, "fan", "a")
    a = thing(deployment, ids["a"], "a")
    fund(deployment, ids["fan"], "20.00")
    subscribe(deployment, ids["fan"], a, periods=2)
    settle_october(deployment)
    assert [line.share for line in shares(deployment, ids["fan"]).lines] == [eur("1.80")]
    for month, expected in (("2026-11", 1), ("2026-12", 0)):
        period = parse_period(month, "month")
        deployment.clock.set(period.ends_at)
        settle(deployment, period)
        with deployment.engine.connect() as connection:
            count = connection.execute(
                select(func.count()).select_from(settlements).where(settlements.c.period == month, settlements.c.status == "done")
            ).scalar()
        assert count == expected


def test_cancelled_subscription_stops(deployment):
    ids = people(deployment, "fan", "a")
    a = thing(deployment, ids["a"], "a")
    fund(deployment, ids["fan"], "20.00")
    subscribe(deployment, ids["fan"], a)
    cancel(deployment, ids["fan"], a)
    settle_october(deployment)
    with deployment.engine.connect() as connection:
        assert connection.execute(select(func.count()).select_from(settlements)).scalar() == 0


def test_unspent_budget_goes_to_the_named_account(deployment_factory):
    deployment = deployment_factory(config(unspent="account:charity"))
    ids = people(deployment, "idle")
    fund(deployment, ids["idle"], "10.00", budget="4.00")
    report = settle_october(deployment)
    assert report.currencies[0].unspent == eur("4.00")
    assert shares(deployment, ids["idle"]).unspent == eur("4.00")
    assert_ledger_ok(deployment)


def test_unspent_budget_returns_by_default(deployment):
    ids = people(deployment, "idle")
    fund(deployment, ids["idle"], "10.00", budget="4.00")
    report = settle_october(deployment)
    assert report.currencies == []


def test_give_to_receive(deployment_factory):
    deployment = deployment_factory(config(give_to_receive=True))
    ids = people(deployment, "fan", "giver", "taker")
    giver_thing = thing(deployment, ids["giver"], "giver")
    taker_thing = thing(deployment, ids["taker"], "taker")
    other = thing(deployment, ids["fan"], "fan")
    fund(deployment, ids["fan"], budget="10.00")
    fund(deployment, ids["giver"], budget="2.00")
    flattr(deployment, ids["fan"], giver_thing)
    flattr(deployment, ids["fan"], taker_thing)  # taker never funds: gets nothing
    flattr(deployment, ids["giver"], other)
    report = settle_october(deployment)
    earned = {c.handle: c.earned for c in report.creators}
    assert earned == {"giver": eur("9.00"), "fan": eur("1.80")}
    assert_ledger_ok(deployment)


def test_every_settlement_transaction_is_keyed(deployment):
    ids = people(deployment, "fan", "a", "b")
    fund(deployment, ids["fan"], budget="3.00")
    flattr(deployment, ids["fan"], thing(deployment, ids["a"], "a"))
    flattr(deployment, ids["fan"], thing(deployment, ids["b"], "b"))
    settle_october(deployment)
    with deployment.engine.connect() as connection:
        keys = (
            connection.execute(select(transactions.c.idempotency_key).where(transactions.c.kind == "settlement")).scalars().all()
        )
    assert keys == [f"settle:2026-10:{ids['fan']}:EUR"]


def test_rotation_of_the_spare_cent_is_deterministic(deployment_factory):
    """Three funders give 0.05 EUR each to the same three things (fee 0): the spare cents spread."""
    deployment = deployment_factory(config(fee=Decimal(0)))
    ids = people(deployment, "a", "b", "c", "f1", "f2", "f3")
    things = [thing(deployment, ids[h], h) for h in "abc"]
    for funder in ("f1", "f2", "f3"):
        fund(deployment, ids[funder], "2.05")
        set_budget(deployment, ids[funder], Money("2.05", "EUR"))
        for t in things:
            flattr(deployment, ids[funder], t)
    report = settle_october(deployment)
    # 3 x 2.05 = 6.15 over three things: each gets 2.05 exactly, the spare cents rotating by funder.
    assert sorted(c.earned for c in report.creators) == [eur("2.05")] * 3


@pytest.mark.parametrize("batch", [1, 4])
def test_small_batches_on_several_workers_settle_each_funder_once(deployment_factory, batch):
    """Small batches, 3 workers (PostgreSQL runs them side by side): every split as the pure function gives it."""
    deployment = deployment_factory(config(weighted_points=True, max_points=3, settle_batch=batch, settle_workers=3))
    creators = people(deployment, *(f"creator{i}" for i in range(6)))
    things = [thing(deployment, owner, handle) for handle, owner in creators.items()]
    funders = people(deployment, *(f"funder{i}" for i in range(30)))
    clicks = {}
    for n, funder in enumerate(funders.values()):
        fund(deployment, funder, "9.00", budget=f"{2 + n % 7}.{n:02d}")
        for k in range(3):
            chosen = things[(n + 2 * k) % len(things)]
            for _ in range(1 + (n + k) % 3):
                flattr(deployment, funder, chosen)
                clicks[funder, chosen] = clicks.get((funder, chosen), 0) + 1
    settle_october(deployment)
    with deployment.engine.connect() as connection:
        assert connection.execute(select(func.count()).where(settlements.c.status == "pending")).scalar() == 0
        settled = dict(connection.execute(select(settlements.c.funder_id, settlements.c.amount)).all())
        got = connection.execute(select(receipts.c.funder_id, receipts.c.thing_id, receipts.c.share)).all()
    assert sorted(settled) == sorted(funders.values())
    by_funder = {}
    for funder, thing_id, share in got:
        by_funder.setdefault(funder, {})[thing_id] = share
    for funder, budget in settled.items():
        points = sorted((t, p) for (f, t), p in clicks.items() if f == funder)
        expected = allocate_minor(budget, Decimal("0.10"), points, OCTOBER.ordinal + funder)
        assert by_funder[funder] == expected.shares
    assert_ledger_ok(deployment)


def test_a_period_left_settling_is_finished_before_the_next(deployment):
    """A crash after ``prepare``: the next ``gateway settle`` finishes that period, and no later one starts first."""
    ids = people(deployment, "fan", "a")
    fund(deployment, ids["fan"], budget="3.00")
    flattr(deployment, ids["fan"], thing(deployment, ids["a"], "a"))
    deployment.clock.set(DECEMBER)
    run_in_transaction(deployment.engine, lambda c: prepare(c, deployment.settings, OCTOBER, DECEMBER))  # then the crash
    with pytest.raises(Conflict, match="2026-10 is still settling"):
        settle(deployment, parse_period("2026-11", "month"))
    report = settle(deployment)  # no period named: the one left settling
    assert report.period == OCTOBER.id
    assert {c.handle: c.earned for c in report.creators} == {"a": eur("2.70")}


def test_the_ledger_check_ties_receipts_to_creators_earnings(deployment):
    """S4: a receipt moved to another creator breaks no funder's sum (S1 to S3), only the creators' side."""
    ids = people(deployment, "fan", "a", "b")
    fund(deployment, ids["fan"], budget="10.00")
    flattr(deployment, ids["fan"], thing(deployment, ids["a"], "a"))
    flattr(deployment, ids["fan"], thing(deployment, ids["b"], "b"))
    settle_october(deployment)
    assert_ledger_ok(deployment)
    with deployment.engine.begin() as connection:
        connection.execute(update(receipts).where(receipts.c.creator_id == ids["a"]).values(creator_id=ids["b"]))
        breaches = check_ledger(connection)
        assert {b.invariant for b in breaches} == {"S4 earnings"}
        assert sorted(b.detail for b in breaches) == [
            f"2026-10 creator #{ids['a']} EUR: receipts add up to 0, the ledger paid 450 into their earnings",
            f"2026-10 creator #{ids['b']} EUR: receipts add up to 900, the ledger paid 450 into their earnings",
        ]
        connection.rollback()
    with deployment.engine.begin() as connection:
        row = connection.execute(select(receipts).where(receipts.c.creator_id == ids["a"])).one()._asdict()
        del row["id"]
        connection.execute(insert(receipts).values({**row, "share": 1}))  # one cent more, from nowhere
        assert {b.invariant for b in check_ledger(connection)} == {"S2 receipts", "S4 earnings"}
        connection.rollback()
    with deployment.engine.begin() as connection:
        # A settled budget marked otherwise afterwards: S1 to S3 no longer look at it, S5 sees its money moved.
        connection.execute(update(settlements).where(settlements.c.funder_id == ids["fan"]).values(status="no_means"))
        assert [str(b) for b in check_ledger(connection) if b.invariant == "S5 owned"] == [
            f"S5 owned: 2026-10: settlement transaction #{transaction_of(connection, ids['fan'])} is no settled budget's"
        ]
        connection.rollback()


def transaction_of(connection, funder_id: int) -> int:
    return connection.execute(select(settlements.c.transaction_id).where(settlements.c.funder_id == funder_id)).scalar()


@pytest.mark.parametrize("pause_gc", [False, True])
def test_only_a_settlement_that_asks_pauses_garbage_collection(deployment, pause_gc):
    """The API settles in a process that serves requests meanwhile: the pause is for ``gateway settle`` alone."""
    ids = people(deployment, "fan", "a")
    fund(deployment, ids["fan"], budget="3.00")
    flattr(deployment, ids["fan"], thing(deployment, ids["a"], "a"))
    during = []
    deployment.clock.set(NOVEMBER)
    settle(deployment, OCTOBER, progress=lambda done, total: during.append(gc.isenabled()), pause_gc=pause_gc)
    assert during == [not pause_gc] and gc.isenabled()


def test_a_stopped_settlement_leaves_the_period_settling_and_the_next_run_finishes_it(deployment):
    ids = people(deployment, "fan", "a")
    fund(deployment, ids["fan"], budget="3.00")
    flattr(deployment, ids["fan"], thing(deployment, ids["a"], "a"))
    stop = threading.Event()
    stop.set()
    deployment.clock.set(NOVEMBER)
    assert settle(deployment, OCTOBER, stop=stop).status == "settling"
    with deployment.engine.connect() as connection:
        assert connection.execute(select(func.count()).where(settlements.c.status == "pending")).scalar() == 1
    assert settle(deployment, OCTOBER).status == "closed"
    assert_ledger_ok(deployment)


def test_reads_in_a_read_only_transaction_take_no_write_lock(deployment):
    """On SQLite a writing transaction takes the database's one write lock at BEGIN; a read-only one does not."""
    if deployment.engine.dialect.name != "sqlite":
        pytest.skip("PostgreSQL readers never take a write lock")
    other = make_engine(deployment.settings.database_url)
    try:
        with other.begin() as writer:  # holds the write lock
            writer.execute(select(func.count()).select_from(settlements))
            with deployment.engine.connect() as connection:
                connection.connection.driver_connection.execute("PRAGMA busy_timeout = 50")
                with read_only(connection):
                    assert connection.execute(select(func.count()).select_from(settlements)).scalar() == 0
                with pytest.raises(OperationalError, match="locked"):  # the connection writes again after
                    with connection.begin():
                        pass
    finally:
        other.dispose()


def test_periods_settle_in_order(deployment):
    """A period before one begun would settle from wallets the later one has drained; one before the deployment has nothing."""
    ids = people(deployment, "fan", "a")
    fund(deployment, ids["fan"], budget="3.00")
    flattr(deployment, ids["fan"], thing(deployment, ids["a"], "a"))
    deployment.clock.set(DECEMBER)
    with pytest.raises(Conflict, match="ended before this deployment's first account"):
        settle(deployment, parse_period("1999-01", "month"))
    assert settle(deployment).period == OCTOBER.id  # no period named: the oldest with flattrs, not the last that ended
    assert settle(deployment).period == "2026-11"  # then the next
    assert settle(deployment).period == "2026-11"  # and again: the last that ended, settled already, unchanged
    with pytest.raises(Conflict, match="2026-10 has begun settling: periods settle in order, so 2026-09 no longer can"):
        settle(deployment, parse_period("2026-09", "month"))
    assert_ledger_ok(deployment)


def test_progress_counts_only_budgets_of_something(deployment):
    """A budget fixed at nothing (no means) is none to settle: the API's progress and the CLI's agree."""
    from gateway.usecases.settlement.status import settlement_progress

    ids = people(deployment, "fan", "broke", "a")
    fund(deployment, ids["fan"], budget="3.00")
    flattr(deployment, ids["fan"], thing(deployment, ids["a"], "a"))
    deployment.clock.set(NOVEMBER)
    with deployment.engine.connect() as connection:
        run_in_transaction(connection, lambda c: prepare(c, deployment.settings, OCTOBER, NOVEMBER))
    seen = []
    settle(deployment, OCTOBER, progress=lambda done, total: seen.append((done, total)))
    progress = settlement_progress(deployment, OCTOBER.id)
    assert seen[-1] == (progress.settled, progress.budgets) == (1, 1)
