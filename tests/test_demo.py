"""The demo: its data, loaded through the use cases on both databases, and ``gateway demo`` serving it as a real process.

The loader's promises: people who sign in with the demo password, things in
French and in English, a settled period with receipts and a public report,
flattrs in the period in progress, an operator; loading again adds nothing;
a database that holds anything else is refused. The command's: it serves the
product on 127.0.0.1 with a banner on every page and says where to open it;
it refuses a configured deployment and a file that is not a demo's, in one
line, touching nothing.
"""

from __future__ import annotations

import signal
import subprocess
import sys
import urllib.request
from pathlib import Path

import pytest

from gateway.config import DEFAULT_CONFIG
from gateway.errors import NotDemoData
from gateway.http.app import create_app
from gateway.http.ratelimit import MemoryLimiter
from gateway.usecases.calendar import current_period
from gateway.usecases.demo import ACCOUNTS, PASSWORD, is_demo_database, load_demo
from gateway.usecases.demo.mark import mark_demo
from gateway.usecases.discovery import Filters, list_things
from gateway.usecases.flattr import flattrs_of
from gateway.usecases.identity import profile
from gateway.usecases.identity.sessions import log_in
from gateway.usecases.operator import verify_ledger
from gateway.usecases.participants import register_participant
from gateway.usecases.reports import period_report, public_report, receipts_of
from gateway.usecases.statements import balances_of, withdrawals_of
from gateway.usecases.subscriptions import subscriptions_of
from tests.processes import ROOT, child_env, free_port, wait_until
from tests.support import config, eur, run_to_end
from tests.web_support import page, post_form

BANNER = '<p class="demo-note" role="note">'
LOADING = 300  # seconds at most for a first start: nine argon2 hashes (the sign-ups) on a busy machine


def _ids(deployment) -> dict[str, int]:
    """Every demo account's id, by signing in as each with the demo password."""
    handles = ["amelie", "dan", "sofia", "lucas", "camille", "jeanne", "bob", "nadia", "operator"]
    return {handle: log_in(deployment, handle, PASSWORD).participant_id for handle in handles}


async def test_the_demo_data_shows_every_part_of_the_product(deployment_factory, aiohttp_client):
    deployment = deployment_factory(config(weighted_points=True))  # as the embedded default: points up to 5
    loaded = await load_demo(deployment)
    assert loaded.loaded and (loaded.settled_period, loaded.current_period) == ("2026-09", "2026-10")
    assert is_demo_database(deployment)
    ids = _ids(deployment)  # everyone signs in: the accounts are verified

    french, _ = list_things(deployment, Filters(language="fr"))
    english, _ = list_things(deployment, Filters(language="en"))
    assert len(french) >= 3 and len(english) >= 2
    assert {thing.category for thing in french + english} >= {"text", "comic", "software", "music", "podcast"}
    assert all(thing.tags and thing.description for thing in french + english)

    report = period_report(deployment, "2026-09")
    assert report.status == "closed" and {t.currency for t in report.currencies} == {"EUR", "USD"}
    assert {c.handle for c in report.creators} == {"camille", "jeanne", "bob", "nadia"}
    assert [c.handle for c in public_report(deployment, "2026-09").creators] == ["camille", "camille"]  # EUR and USD
    receipt = receipts_of(deployment, ids["amelie"], "2026-09")[0]
    assert receipt.budget == eur("10.00") and sorted(line.points for line in receipt.lines) == [1, 2, 3]
    assert subscriptions_of(deployment, ids["lucas"])[0].status == "active"
    assert any(b.balance.currency.code == "USD" for b in balances_of(deployment, ids["sofia"]))
    assert len(withdrawals_of(deployment, ids["camille"])) == 1

    now = current_period(deployment)
    assert {f.points for f in flattrs_of(deployment, ids["amelie"], now)} == {2, 1}
    assert profile.profile(deployment, ids["operator"]).role == "operator"
    assert profile.profile(deployment, ids["camille"]).language == "fr"
    assert verify_ledger(deployment) == []

    # Loading again changes nothing.
    counts = (len(list_things(deployment, Filters())[0]), len(flattrs_of(deployment, ids["amelie"], now)))
    again = await load_demo(deployment)
    assert not again.loaded
    assert (len(list_things(deployment, Filters())[0]), len(flattrs_of(deployment, ids["amelie"], now))) == counts
    assert len(withdrawals_of(deployment, ids["camille"])) == 1

    # The pages: a banner on every one, and amelie signs in with the password it names.
    client = await aiohttp_client(create_app(deployment, limiter=MemoryLimiter(clock=lambda: 1_000_000.0)))
    response, html = await post_form(client, "/signin", {"login": "amelie", "password": PASSWORD})
    assert response.status == 303, html
    _, html = await page(client, "/account")
    assert BANNER in html and "amelie" in html and PASSWORD in html


def test_the_demo_data_goes_into_no_database_that_holds_anything(deployment):
    register_participant(deployment, "somebody")
    with pytest.raises(NotDemoData):
        run_to_end(load_demo(deployment))
    assert not is_demo_database(deployment)
    assert list_things(deployment, Filters())[0] == []


@pytest.mark.parametrize("language, words", [("en", "Demo data."), ("fr", "Données de démonstration.")])
async def test_every_page_of_a_demo_says_so_in_its_language(deployment, aiohttp_client, language, words):
    plain = await aiohttp_client(create_app(deployment, limiter=MemoryLimiter(clock=lambda: 1_000_000.0)))
    _, html = await page(plain, "/", **{"Accept-Language": language})
    assert BANNER not in html  # a deployment's own database: no banner
    mark_demo(deployment)
    demo = await aiohttp_client(create_app(deployment, limiter=MemoryLimiter(clock=lambda: 1_000_000.0)))
    for path in ("/", "/signin", "/no-such-page"):
        _, html = await page(demo, path, **{"Accept-Language": language, "Accept": "text/html"})
        assert BANNER in html and words in html, path


# ``gateway demo`` as a real process


def _environment() -> dict[str, str]:
    """A child's environment without a deployment named in it: the demo refuses one."""
    return {key: value for key, value in child_env().items() if not key.startswith("GATEWAY_")}


def _demo(*args: str, cwd: Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "gateway.cli.main", *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        timeout=120,
        env=env or _environment(),
    )


class _Demo:
    """``gateway demo`` running on a free port of 127.0.0.1, its output in files."""

    def __init__(self, folder: Path, name: str) -> None:
        self.port = free_port()
        self.out, self.err = folder / f"{name}.out", folder / f"{name}.err"
        with self.out.open("w") as out, self.err.open("w") as err:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "gateway.cli.main", "demo", "--port", str(self.port)],
                cwd=folder,
                stdout=out,
                stderr=err,
                env=_environment(),
            )
        wait_until(self.invited, f"{name} prints the address to open", LOADING)

    def invited(self) -> bool:
        assert self.process.poll() is None, f"gateway demo stopped: {self.err.read_text()}"
        return "Open http://" in self.out.read_text()

    def get(self, path: str, language: str = "en") -> str:
        request = urllib.request.Request(
            f"http://127.0.0.1:{self.port}{path}", headers={"Accept-Language": language, "Accept": "text/html"}
        )
        with urllib.request.urlopen(request, timeout=30) as answer:
            return answer.read().decode()

    def stop(self) -> int:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        return self.process.wait(timeout=60)


@pytest.mark.slow
@pytest.mark.timeout(2 * LOADING)
def test_gateway_demo_serves_the_product_with_its_data_and_says_where(tmp_path):
    first = _Demo(tmp_path, "first")
    try:
        out = first.out.read_text()
        assert "loading the demo data into gateway-demo.sqlite3" in out
        people = ", ".join(f'"{handle}" ({what})' for handle, what in ACCOUNTS)
        assert f'Open http://127.0.0.1:{first.port}/ — demo data: sign in as {people}, password "{PASSWORD}"' in out
        assert BANNER in first.get("/") and "Données de démonstration." in first.get("/signin", "fr")
    finally:
        assert first.stop() == 0, first.err.read_text()
    assert sorted(path.name for path in tmp_path.iterdir() if "sqlite3" in path.name) == ["gateway-demo.sqlite3"]

    second = _Demo(tmp_path, "second")  # the same file, served again as it is
    try:
        assert "loading" not in second.out.read_text()
        assert BANNER in second.get("/")
    finally:
        assert second.stop() == 0, second.err.read_text()
    check = _demo("--database-url", "sqlite:///gateway-demo.sqlite3", "ledger", "check", cwd=tmp_path)
    assert check.returncode == 0, check.stderr


@pytest.mark.parametrize(
    "args, env, said",
    [
        (["--config", str(DEFAULT_CONFIG), "demo"], {}, "gateway: config_error: the demo runs on the embedded default only"),
        (["demo"], {"GATEWAY_CONFIG": str(DEFAULT_CONFIG)}, "drop $GATEWAY_CONFIG"),
        (["--database-url", "sqlite:///elsewhere.sqlite3", "demo"], {}, "drop --database-url"),
        (["demo"], {"GATEWAY_DATABASE_URL": "sqlite:///elsewhere.sqlite3"}, "drop $GATEWAY_DATABASE_URL"),
    ],
)
def test_gateway_demo_refuses_a_configured_deployment(tmp_path, args, env, said):
    result = _demo(*args, "--port", str(free_port()), cwd=tmp_path, env={**_environment(), **env})
    assert result.returncode == 1 and said in result.stderr and result.stderr.count("\n") == 1, result.stderr
    assert list(tmp_path.iterdir()) == []  # no file made, nothing loaded


@pytest.mark.parametrize("kind", ["a deployment's database", "no database at all"])
def test_gateway_demo_refuses_a_file_that_is_not_a_demos(tmp_path, kind):
    path = tmp_path / "mine.sqlite3"
    if kind == "no database at all":
        path.write_text("my notes\n")
    else:
        assert _demo("--database-url", f"sqlite:///{path}", "db", "upgrade", cwd=tmp_path).returncode == 0
    before = path.read_bytes()
    result = _demo("demo", "--database", str(path), "--port", str(free_port()), cwd=tmp_path)
    assert result.returncode == 1 and result.stderr.count("\n") == 1, result.stderr
    assert result.stderr.startswith(f"gateway: not_demo_data: {path} is not a demo's database"), result.stderr
    assert path.read_bytes() == before


def test_the_demo_source_holds_no_sql():
    """The loader goes through the use cases only (the mark aside, which is the one thing it writes itself)."""
    for path in sorted((ROOT / "gateway" / "usecases" / "demo").glob("*.py")):
        if path.name != "mark.py":
            text = path.read_text()
            assert "sqlalchemy" not in text and "gateway.storage" not in text, path
