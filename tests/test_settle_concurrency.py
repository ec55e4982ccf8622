"""Two settlements of one period at once (two API processes, or the API and ``gateway settle``): each budget settles once.

Each runner has its own engine, as another process would: on SQLite they
meet at the database's write lock, not at this process's writer lock. The
outcome must be what one run gives, row for row (``canonical_dump``), and
the ledger check must pass.
"""

from __future__ import annotations

import threading
from datetime import UTC, datetime

from gateway.core.check import check_ledger
from gateway.core.periods import parse_period
from gateway.storage.engine import reading
from gateway.usecases.settlement import settle
from tests.crash.dump import canonical_dump, differences
from tests.crash.population import PERIOD, config_data, seed
from tests.crash.snapshot import Snapshot
from tests.support import make

FUNDERS = 120
BATCH = 4  # funders per database transaction: about 30 batches for the two runners to meet in
RACES = 3
AFTER = datetime(2026, 11, 2, tzinfo=UTC)


def runner(url: str, outbox: str):
    return make(url, config_data(BATCH, outbox), AFTER)


def settle_alone(url: str, outbox: str) -> None:
    deployment = runner(url, outbox)
    try:
        settle(deployment, parse_period(PERIOD, "month"))
    finally:
        deployment.close()


def settle_twice_at_once(url: str, outbox: str) -> list[BaseException]:
    """Two runners started together, each on its own engine; the errors they raised."""
    deployments = [runner(url, outbox), runner(url, outbox)]
    start = threading.Barrier(len(deployments))
    errors: list[BaseException] = []

    def run(deployment) -> None:
        start.wait()
        try:
            settle(deployment, parse_period(PERIOD, "month"))
        except BaseException as error:  # reported by the test
            errors.append(error)

    threads = [threading.Thread(target=run, args=(deployment,)) for deployment in deployments]
    try:
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(120)
        assert not any(thread.is_alive() for thread in threads), "a settlement did not finish"
    finally:
        for deployment in deployments:
            deployment.close()
    return errors


def test_two_settlements_at_once_settle_each_budget_once(database_url, tmp_path):
    outbox = str(tmp_path / "outbox")
    seed(database_url, FUNDERS, outbox)
    snapshot = Snapshot(database_url, tmp_path)
    settle_alone(database_url, outbox)
    reference = canonical_dump(database_url)
    for race in range(RACES):
        snapshot.restore()
        errors = settle_twice_at_once(database_url, outbox)
        assert errors == [], f"race {race}: {errors!r}"
        lines = differences(reference, canonical_dump(database_url))
        assert lines == [], f"race {race}:\n" + "\n".join(lines)
        engine = runner(database_url, outbox).engine
        try:
            with reading(engine) as connection:
                assert check_ledger(connection) == []
        finally:
            engine.dispose()
