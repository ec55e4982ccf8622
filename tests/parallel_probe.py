"""Run by tests/test_parallel_runs.py in two pytest processes at once, never on its own.

Its name does not match ``test_*.py``, so a run collects it only when it is
named on the command line. Each of the two runs writes into its PostgreSQL
database and under its Redis prefix, tells the other, waits until the other
has done the same, and then finds only its own: on a database or prefix that
the runs shared, one would find the other's (or lose its own to the other's
TRUNCATE) whichever ran first.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import redis
from sqlalchemy import select

from gateway.storage.engine import make_engine
from gateway.storage.schema import participants
from gateway.usecases.participants import register_participant
from tests.support import config, make, truncate_postgres

RUNS = ("a", "b")


def _wait_for(path: Path, timeout: float = 60.0) -> None:
    """Wait until the other run has written ``path``: an event, not a length of time."""
    deadline = time.monotonic() + timeout
    while not path.exists():
        assert time.monotonic() < deadline, f"the other run never wrote {path.name}"
        time.sleep(0.01)


def test_a_run_finds_only_what_it_wrote(postgres_ready: str, redis_url: str, redis_run_prefix: str, tmp_path: Path) -> None:
    meeting, me = Path(os.environ["GATEWAY_TEST_MEET"]), os.environ["GATEWAY_TEST_MEET_AS"]
    [other] = [run for run in RUNS if run != me]
    engine = make_engine(postgres_ready)
    deployment = make(postgres_ready, {**config(), "mail": {"outbox": str(tmp_path / "outbox")}}, engine=engine)
    try:
        truncate_postgres(engine)  # what every database test's fixture does first
        register_participant(deployment, f"run-{me}")
        with redis.Redis.from_url(redis_url) as connection:
            connection.set(f"{redis_run_prefix}probe", me)
        ready = {"database": engine.url.database, "redis_prefix": redis_run_prefix}
        (meeting / f"{me}.tmp").write_text(json.dumps(ready))
        (meeting / f"{me}.tmp").rename(meeting / f"{me}.json")  # whole, or not at all
        _wait_for(meeting / f"{other}.json")
        with engine.connect() as connection:
            handles = set(connection.execute(select(participants.c.handle)).scalars())
        assert {handle for handle in handles if handle.startswith("run-")} == {f"run-{me}"}
        with redis.Redis.from_url(redis_url) as connection:
            assert connection.get(f"{redis_run_prefix}probe") == me.encode()
    finally:
        deployment.close()
