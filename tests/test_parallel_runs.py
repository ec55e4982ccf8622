"""Two test runs on one machine at once: each has a PostgreSQL database and Redis keys of its own.

They used to share the database ``test``, and one run's TRUNCATE met the
other's missing tables. Here two ``pytest`` processes run a few database
tests side by side, and meet in the middle (``parallel_probe.py``), so that
they are sure to overlap however the machine schedules them.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import redis
from sqlalchemy import create_engine, text

from tests.support import POSTGRES_SERVER_URL

ROOT = Path(__file__).resolve().parent.parent
# Database tests that truncate, migrate, lock and use Redis; the probe first, so that the rest overlap too.
SUBSET = [
    "tests/parallel_probe.py",
    "tests/test_flattr.py",
    "tests/test_settle_background.py",
    "tests/test_http_ratelimit.py::test_two_app_instances_share_the_count_in_redis",
]


def _databases() -> set[str]:
    engine = create_engine(POSTGRES_SERVER_URL)
    try:
        with engine.connect() as connection:
            return set(connection.execute(text("SELECT datname FROM pg_database")).scalars())
    finally:
        engine.dispose()


@pytest.mark.slow
def test_two_runs_at_once_both_pass(tmp_path: Path, postgres_ready: str, redis_url: str) -> None:
    meeting = tmp_path / "meeting"
    meeting.mkdir()
    runs = {}
    for name in ("a", "b"):
        env = {**os.environ, "GATEWAY_TEST_MEET": str(meeting), "GATEWAY_TEST_MEET_AS": name}
        command = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "--basetemp", str(tmp_path / name)]
        runs[name] = subprocess.Popen(
            [*command, *SUBSET], cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
        )
    outputs = {name: run.communicate(timeout=240)[0] for name, run in runs.items()}
    for name, run in runs.items():
        assert run.returncode == 0, f"run {name}:\n{outputs[name][-6000:]}"
        assert "skipped" not in outputs[name] and "passed" in outputs[name], outputs[name][-2000:]

    met = {name: json.loads((meeting / f"{name}.json").read_text()) for name in runs}
    assert met["a"]["database"] != met["b"]["database"]
    assert met["a"]["redis_prefix"] != met["b"]["redis_prefix"]
    # Each run cleaned up after itself: its database dropped, its keys deleted.
    assert not {met[name]["database"] for name in runs} & _databases()
    with redis.Redis.from_url(redis_url) as connection:
        for name in runs:
            assert not list(connection.scan_iter(match=met[name]["redis_prefix"] + "*"))
