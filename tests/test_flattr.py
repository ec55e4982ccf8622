"""The rules of a click: once a period, points, own things, means, closed periods."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest
from moneyed import Money
from sqlalchemy import delete, select
from sqlalchemy.exc import OperationalError

from gateway.clock import FixedClock
from gateway.core.periods import parse_period
from gateway.deployment import Deployment, open_deployment
from gateway.errors import (
    AlreadyFlattred,
    NoMeans,
    NotFound,
    OwnThing,
    PeriodClosed,
    ValidationError,
)
from gateway.storage.engine import reading
from gateway.storage.schema import flattrs, receipts
from gateway.usecases.flattr import (
    Click,
    _add_points,
    ensure_open,
    flattr,
    flattr_many,
    flattrs_of,
    unflattr,
)
from gateway.usecases.participants import register_participant
from gateway.usecases.settlement import settle
from gateway.usecases.things import register_thing
from tests.support import (
    NOVEMBER,
    OCTOBER,
    config,
    eur,
    impatient_engine,
    is_lock_refusal,
    top_up,
    wait_for_a_lock_wait,
)


@pytest.fixture
def scene(deployment_factory):
    def build(**platform):
        deployment = deployment_factory(config(**platform))
        fan = register_participant(deployment, "fan")
        artist = register_participant(deployment, "artist")
        thing = register_thing(deployment, artist, "https://example.org/a", "A").id
        top_up(deployment, fan, eur("5.00"), "sandbox", key="t")
        return deployment, fan, artist, thing

    return build


def test_once_a_period(scene):
    deployment, fan, _, thing = scene()
    assert flattr(deployment, fan, thing).points == 1
    with pytest.raises(AlreadyFlattred):
        flattr(deployment, fan, thing)


def test_weighted_clicks_add_points_up_to_the_maximum(scene):
    deployment, fan, _, thing = scene(weighted_points=True, max_points=3)
    assert flattr(deployment, fan, thing).points == 1
    assert flattr(deployment, fan, thing, points=1).points == 2
    assert flattr(deployment, fan, thing, points=3).points == 3  # capped at the maximum
    with pytest.raises(AlreadyFlattred):
        flattr(deployment, fan, thing)
    with pytest.raises(ValidationError):
        flattr(deployment, fan, thing, points=4)


def test_points_need_weighting_switched_on(scene):
    deployment, fan, _, thing = scene()
    with pytest.raises(ValidationError, match="weighted points are off"):
        flattr(deployment, fan, thing, points=2)


def test_no_flattring_ones_own_thing(scene):
    deployment, _, artist, thing = scene()
    top_up(deployment, artist, eur("5.00"), "sandbox", key="artist")
    with pytest.raises(OwnThing):
        flattr(deployment, artist, thing)


def test_no_flattring_without_means(scene):
    deployment, _, _, thing = scene()
    broke = register_participant(deployment, "broke")
    with pytest.raises(NoMeans):
        flattr(deployment, broke, thing)


def test_a_mutual_credit_member_has_means_up_to_the_credit_limit(scene):
    deployment, _, _, thing = scene()
    member = register_participant(deployment, "member", preferred_currency="LETS")
    assert flattr(deployment, member, thing).points == 1


def test_unknown_thing(scene):
    deployment, fan, _, _ = scene()
    with pytest.raises(NotFound):
        flattr(deployment, fan, 999_999)


def test_take_a_flattr_back_before_the_period_closes(scene):
    deployment, fan, _, thing = scene()
    flattr(deployment, fan, thing)
    unflattr(deployment, fan, thing)
    assert flattrs_of(deployment, fan, parse_period("2026-10", "month")) == []
    with pytest.raises(NotFound):
        unflattr(deployment, fan, thing)


def test_a_settling_period_takes_no_more_flattrs(scene):
    deployment, fan, _, thing = scene()
    deployment.clock.set(NOVEMBER)
    settle(deployment, parse_period("2026-10", "month"))
    deployment.clock.set(OCTOBER)  # a late request, stamped in October
    with pytest.raises(PeriodClosed):
        flattr(deployment, fan, thing)


def test_budget_minimum(scene):
    from gateway.errors import BelowMinimum
    from gateway.usecases.budgets import set_budget

    deployment, fan, _, _ = scene()
    with pytest.raises(BelowMinimum):
        set_budget(deployment, fan, eur("1.99"))
    assert set_budget(deployment, fan, Money("300", "JPY")) == Money("300", "JPY")


def test_a_batch_of_clicks_gives_each_its_own_outcome(scene):
    """``flattr_many`` (the API's group commit) refuses a click without refusing the others of its batch."""
    deployment, fan, artist, thing = scene(weighted_points=True, max_points=3)
    other = register_thing(deployment, register_participant(deployment, "painter"), "https://example.org/b", "B").id
    broke = register_participant(deployment, "broke")
    top_up(deployment, artist, eur("5.00"), "sandbox", key="artist")
    flattr(deployment, fan, other, points=3)
    outcomes = flattr_many(
        deployment,
        [
            Click(fan, thing, 2),
            Click(fan, thing, 2),  # the same pair again in one batch: adds up, to the maximum
            Click(artist, thing),  # their own
            Click(broke, thing),  # no means
            Click(fan, 999_999),  # no such thing
            Click(999_999, thing),  # no such funder
            Click(fan, other),  # already at the maximum
            Click(fan, thing, 4),  # above the maximum
            Click(artist, other, 1),
        ],
    )
    assert [type(o).__name__ for o in outcomes] == [
        "Flattr",
        "Flattr",
        "OwnThing",
        "NoMeans",
        "NotFound",
        "NotFound",
        "AlreadyFlattred",
        "ValidationError",
        "Flattr",
    ]
    assert (outcomes[0].points, outcomes[1].points, outcomes[8].points) == (2, 3, 1)
    october = parse_period("2026-10", "month")
    assert [(f.thing_id, f.points) for f in flattrs_of(deployment, fan, october)] == [(thing, 3), (other, 3)]
    assert [(f.thing_id, f.points) for f in flattrs_of(deployment, artist, october)] == [(other, 1)]
    assert flattrs_of(deployment, broke, october) == []


def test_a_batch_in_a_settling_period_is_refused_whole(scene):
    deployment, fan, artist, thing = scene()
    deployment.clock.set(NOVEMBER)
    settle(deployment, parse_period("2026-10", "month"))
    deployment.clock.set(OCTOBER)
    top_up(deployment, artist, eur("5.00"), "sandbox", key="artist")
    outcomes = flattr_many(deployment, [Click(fan, thing), Click(artist, thing)])
    assert [type(o) for o in outcomes] == [PeriodClosed, OwnThing]


def impatient(deployment: Deployment, engine) -> Deployment:
    """The deployment on ``engine`` (an ``impatient_engine``): what it does fails at once where it would wait for a lock."""
    return open_deployment(deployment.settings, clock=FixedClock(deployment.clock.now()), engine=engine)


def test_settling_waits_for_a_flattr_being_written(scene):
    """A flattr whose transaction began before the period's settlement is counted in it, not lost.

    Its period row does not exist yet, so there is no row to lock: prepare must
    wait on the period's flattr lock (PostgreSQL) or the write lock (SQLite).
    A settlement that never waits shows it, however fast the machine is: while
    the flattr is being written, it is refused, and once that has committed,
    a settlement counts it.
    """
    deployment, fan, _, thing = scene()
    october = parse_period("2026-10", "month")
    with deployment.engine.connect() as writing:
        with writing.begin():
            # The write half of a flattr batch, checked and open, not yet committed.
            flattred = _add_points(writing, 1, october, [Click(fan, thing)], OCTOBER)
            deployment.clock.set(NOVEMBER)
            with impatient_engine(deployment.settings.database_url) as engine:
                with pytest.raises(OperationalError) as refused:
                    settle(impatient(deployment, engine), october)
            assert is_lock_refusal(refused.value), "the settlement did not wait for the flattr being written"
    settle(deployment, october)
    assert flattred[0].points == 1
    with reading(deployment.engine) as connection:
        shares = connection.execute(select(receipts.c.share).where(receipts.c.thing_id == thing)).scalars().all()
    assert len(shares) == 1 and shares[0] > 0


@pytest.mark.parametrize("held", ["more points", "take back"])
def test_clicks_written_side_by_side_add_up(scene, held):
    """Another writer's uncommitted change to the same flattr is waited for, never overwritten (PostgreSQL writes side by side).

    On PostgreSQL the second writer is seen waiting for a lock before the first
    commits, so it cannot have read the points before the first changed them;
    SQLite has one writer at a time, and a writer that never waits is refused.
    """
    deployment, fan, _, thing = scene(weighted_points=True, max_points=5)
    october = parse_period("2026-10", "month")
    flattr(deployment, fan, thing)
    with ThreadPoolExecutor(1) as pool, deployment.engine.connect() as writing:
        with writing.begin():
            if held == "more points":
                [mine] = _add_points(writing, 5, october, [Click(fan, thing, 1)], OCTOBER)
                assert mine.points == 2
            else:
                ensure_open(writing, october)
                writing.execute(delete(flattrs).where(flattrs.c.funder_id == fan, flattrs.c.thing_id == thing))
            if deployment.engine.dialect.name == "postgresql":
                theirs = pool.submit(flattr, deployment, fan, thing, 1)
                wait_for_a_lock_wait(deployment.engine)  # the second writer is blocked on the first
            else:
                with impatient_engine(deployment.settings.database_url) as engine:
                    with pytest.raises(OperationalError) as refused:
                        flattr(impatient(deployment, engine), fan, thing, 1)
                assert is_lock_refusal(refused.value), "a second writer did not wait for the first"
                theirs = pool.submit(flattr, deployment, fan, thing, 1)
            assert not theirs.done(), "a second writer did not wait for the first"
        answered = theirs.result(timeout=30).points
    [stored] = flattrs_of(deployment, fan, october)
    assert answered == stored.points == (3 if held == "more points" else 1)
