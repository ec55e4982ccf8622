"""``/metrics``: refused to all but an operator's token, counting real requests; on ``http.metrics_port`` to anyone.

The metrics are the process's own, shared by every application a test makes
in it, so each test reads what its requests changed: a scrape before, one
after. The last test runs ``gateway serve --processes 2`` as a real process.
"""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator

import pytest
from prometheus_client.parser import text_string_to_metric_families

from gateway.config import DEFAULT_CONFIG, settings_from_dict
from gateway.errors import ConfigError
from gateway.http.app import create_app
from gateway.http.ratelimit import MemoryLimiter
from gateway.http.serve import with_metrics_port
from gateway.usecases.flattr import flattr
from gateway.usecases.identity.tokens import create_access_token
from gateway.usecases.participants import register_participant
from gateway.usecases.things import register_thing
from tests.http_support import User, member, settle_and_wait, top_up
from tests.support import DECEMBER, config, make
from tests.test_cli import gateway
from tests.test_settlement import fund, people, thing

FLATTR_ROUTE = "/api/v1/things/{thing_id}/flattr"
Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


def parse(text: str) -> Samples:
    """Every sample of an exposition, by its name and labels."""
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def value(samples: Samples, name: str, **labels: str) -> float:
    """One sample's value; 0 for one not yet there (a series appears with its first count)."""
    return samples.get((name, frozenset(labels.items())), 0.0)


def families(text: str) -> set[str]:
    return {family.name for family in text_string_to_metric_families(text)}


@pytest.fixture
async def client(deployment, aiohttp_client):
    return await aiohttp_client(create_app(deployment, limiter=MemoryLimiter()))


@pytest.fixture
def boss(deployment) -> User:
    return member(deployment, "boss", role="operator")


async def scrape(client, boss: User) -> Samples:
    response = await client.get("/metrics", headers=boss.auth)
    assert response.status == 200, await response.text()
    assert response.content_type == "text/plain"
    return parse(await response.text())


async def test_metrics_answer_only_an_operators_token_with_the_operator_scope(client, deployment, boss):
    stranger = await client.get("/metrics")
    assert stranger.status == 401 and stranger.content_type == "application/problem+json"
    assert (await stranger.json())["type"] == "unauthorized"
    fan = member(deployment, "fan")  # every scope a member may have
    refused = await client.get("/metrics", headers=fan.auth)
    assert refused.status == 403 and refused.content_type == "application/problem+json"
    assert (await refused.json())["type"] == "forbidden"
    _, narrow = create_access_token(deployment, boss.id, "reading", ["read"])  # an operator's, without the scope
    narrow_answer = await client.get("/metrics", headers={"Authorization": f"Bearer {narrow}"})
    assert narrow_answer.status == 403 and (await narrow_answer.json())["scope"] == "operator"
    answered = await client.get("/metrics", headers=boss.auth)
    assert answered.status == 200, await answered.text()
    text = await answered.text()
    assert "# TYPE gateway_http_requests_total counter" in text
    assert "# TYPE gateway_http_request_duration_seconds histogram" in text
    assert "Bearer" not in text and fan.token not in text


async def test_requests_and_flattrs_are_counted_by_route_template_status_and_reason(client, deployment, boss):
    artist = register_participant(deployment, "artist")
    first = register_thing(deployment, artist, "https://example.org/one", "One").id
    second = register_thing(deployment, artist, "https://example.org/two", "Two").id
    fan = member(deployment, "fan")
    await top_up(client, fan)
    before = await scrape(client, boss)
    answers = [
        (await client.post(f"/api/v1/things/{thing_id}/flattr", json={}, headers=fan.auth)).status
        for thing_id in (first, second, first)
    ]
    assert answers == [200, 200, 409]
    for path in ("/no/such/path", "/no/such/other/path"):
        assert (await client.get(path)).status == 404
    assert (await client.request("PROPFIND", "/no/such/path")).status in (404, 405)
    after_response = await client.get("/metrics", headers=boss.auth)
    text = await after_response.text()
    after = parse(text)

    def grew(name: str, **labels: str) -> float:
        return value(after, name, **labels) - value(before, name, **labels)

    flattred = {"method": "POST", "route": FLATTR_ROUTE}
    assert grew("gateway_http_requests_total", **flattred, status="200") == 2
    assert grew("gateway_http_requests_total", **flattred, status="409") == 1
    assert grew("gateway_http_request_duration_seconds_count", **flattred, status="200") == 2
    assert grew("gateway_http_request_duration_seconds_bucket", **flattred, status="409", le="+Inf") == 1
    assert grew("gateway_flattrs_accepted_total") == 2
    assert grew("gateway_flattrs_refused_total", reason="already_flattred") == 1
    assert grew("gateway_http_requests_total", method="GET", route="unmatched", status="404") == 2
    assert (
        sum(grew("gateway_http_requests_total", method="other", route="unmatched", status=status) for status in ("404", "405"))
        == 1
    )
    # The scrape before is counted once answered, as is every request between the two scrapes.
    assert grew("gateway_http_requests_total", method="GET", route="/metrics", status="200") == 1
    assert grew("gateway_http_process_requests") == 1 + 3 + 3
    assert "/no/such" not in text and f"/things/{first}/" not in text and "PROPFIND" not in text


async def test_flattrs_of_a_url_are_counted_too(client, deployment, boss):
    creator, fan = member(deployment, "creator"), member(deployment, "fan")
    await top_up(client, fan)
    sites = await client.patch("/api/v1/me", json={"auto_submit_sites": ["https://creator.example/"]}, headers=creator.auth)
    assert sites.status == 200, await sites.text()
    before = await scrape(client, boss)
    statuses = []
    for url in ("https://creator.example/song", "https://elsewhere.example/song"):
        answer = await client.post(
            "/api/v1/things/auto", json={"url": url, "title": "Song", "owner": "creator"}, headers=fan.auth
        )
        statuses.append((answer.status, (await answer.json()).get("type")))
    assert statuses == [(200, None), (403, "not_the_creators_site")]
    after = await scrape(client, boss)
    assert value(after, "gateway_flattrs_accepted_total") - value(before, "gateway_flattrs_accepted_total") == 1
    refused = {"reason": "not_the_creators_site"}
    assert (
        value(after, "gateway_flattrs_refused_total", **refused) - value(before, "gateway_flattrs_refused_total", **refused) == 1
    )


async def test_the_group_commit_batch_sizes_move(client, deployment, boss):
    artist = register_participant(deployment, "artist")
    art = register_thing(deployment, artist, "https://example.org/art", "Art").id
    fans = [member(deployment, f"fan{n}") for n in range(8)]
    await asyncio.gather(*(top_up(client, fan) for fan in fans))
    before = await scrape(client, boss)
    answers = await asyncio.gather(*(client.post(f"/api/v1/things/{art}/flattr", json={}, headers=f.auth) for f in fans))
    assert [answer.status for answer in answers] == [200] * 8
    after = await scrape(client, boss)

    def grew(name: str, **labels: str) -> float:
        return value(after, name, **labels) - value(before, name, **labels)

    assert grew("gateway_batch_size_sum", use_case="flattr_many") == 8  # each flattr in one batch or another
    assert 1 <= grew("gateway_batch_size_count", use_case="flattr_many") <= 8
    # Every request with a token checked it in a batch: the eight flattrs and the first scrape.
    assert grew("gateway_batch_size_sum", use_case="authenticate_tokens") == 9


async def test_settlement_progress_is_the_settlement_threads(client, deployment, boss):
    ids = people(deployment, "fan", "other", "a")
    for funder in ("fan", "other"):
        fund(deployment, ids[funder], budget="3.00")
        flattr(deployment, ids[funder], thing(deployment, ids["a"], f"a-{funder}"))
    deployment.clock.set(DECEMBER)
    await settle_and_wait(client, boss, "2026-10")
    status = await (await client.get("/api/v1/operator/periods/2026-10", headers=boss.auth)).json()
    assert status["settled"] == status["budgets"] == 2
    after = await scrape(client, boss)
    assert value(after, "gateway_settlement_budgets_settled", period="2026-10") == 2
    assert value(after, "gateway_settlement_budgets_to_settle", period="2026-10") == 0


def test_the_metrics_port_is_off_by_default_and_a_port_when_set():
    assert settings_from_dict(config()).http.metrics_port is None
    assert settings_from_dict({**config(), "http": {"metrics_port": 9464}}).http.metrics_port == 9464
    for wrong, why in [(0, "greater than or equal to 1"), (70000, "less than or equal to 65535"), ("9464", "valid integer")]:
        with pytest.raises(ConfigError, match=f"http.metrics_port: .*{why}"):
            settings_from_dict({**config(), "http": {"metrics_port": wrong}})


def loopback_socket() -> socket.socket:
    listening = socket.socket()
    listening.bind(("127.0.0.1", 0))
    listening.listen(16)
    return listening


async def test_the_metrics_port_answers_anyone_the_same_metrics(deployment, aiohttp_client, boss):
    app = create_app(deployment, limiter=MemoryLimiter())
    exporter = loopback_socket()
    port = exporter.getsockname()[1]
    with_metrics_port(app, exporter)
    client = await aiohttp_client(app)
    artist = register_participant(deployment, "artist")
    art = register_thing(deployment, artist, "https://example.org/art", "Art").id
    fan = member(deployment, "fan")
    await top_up(client, fan)
    assert (await client.post(f"/api/v1/things/{art}/flattr", json={}, headers=fan.auth)).status == 200
    through_the_api = await (await client.get("/metrics", headers=boss.auth)).text()
    open_port = await client.session.get(f"http://127.0.0.1:{port}/metrics")  # no token
    assert open_port.status == 200 and open_port.content_type == "text/plain"
    text = await open_port.text()
    assert families(text) == families(through_the_api)
    api, served = parse(through_the_api), parse(text)
    for name, labels in [
        ("gateway_flattrs_accepted_total", {}),
        ("gateway_http_requests_total", {"method": "POST", "route": FLATTR_ROUTE, "status": "200"}),
        ("gateway_batch_size_sum", {"use_case": "flattr_many"}),
    ]:
        assert value(served, name, **labels) == value(api, name, **labels) >= 1
    # That port serves the metrics and nothing else; and the API's port still wants a token.
    assert (await client.session.get(f"http://127.0.0.1:{port}/api/v1/openapi.json")).status == 404
    assert (await client.get("/metrics")).status == 401


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def fetch(url: str, headers: dict[str, str] | None = None) -> str:
    with urllib.request.urlopen(urllib.request.Request(url, headers=headers or {}), timeout=5) as answer:
        return answer.read().decode()


def until(condition, timeout: float = 30.0, what: str = "the condition") -> None:
    """Poll ``condition`` (a process's state, not a time) until it holds."""
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"{what} did not hold within {timeout:.0f} s"
        time.sleep(0.05)


def per_process(samples: Samples) -> dict[str, float]:
    """The requests each live process answered, by its pid."""
    return {dict(labels)["pid"]: count for (name, labels), count in samples.items() if name == "gateway_http_process_requests"}


@pytest.fixture
def served(tmp_path) -> Iterator[tuple[subprocess.Popen, int, int, User]]:
    """``gateway serve --processes 2`` on SQLite, with ``http.metrics_port``, and an operator's token."""
    url = f"sqlite:///{tmp_path / 'served.sqlite3'}"
    assert gateway("--database-url", url, "db", "upgrade").returncode == 0
    deployment = make(url)
    boss = member(deployment, "boss", role="operator")
    deployment.close()
    port, metrics_port = free_port(), free_port()
    config = tmp_path / "deploy.toml"
    config.write_text(DEFAULT_CONFIG.read_text() + f"\n[http]\nmetrics_port = {metrics_port}\n")
    (tmp_path / "tmp").mkdir()
    server = subprocess.Popen(
        [sys.executable, "-m", "gateway.cli.main", "--config", str(config), "--database-url", url]
        + ["serve", "--host", "127.0.0.1", "--port", str(port), "--processes", "2"],
        cwd=tmp_path,
        env={**os.environ, "TMPDIR": str(tmp_path / "tmp")},  # where serve makes its metrics directory
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,  # its own process group: a failed test stops the workers with their parent
    )
    try:
        yield server, port, metrics_port, boss
    finally:
        if server.poll() is None:
            os.killpg(server.pid, signal.SIGKILL)
            server.wait(timeout=30)


@pytest.mark.slow
def test_serve_with_two_processes_reports_both(served, tmp_path):
    server, port, metrics_port, boss = served
    api, exporter = f"http://127.0.0.1:{port}", f"http://127.0.0.1:{metrics_port}/metrics"

    def up() -> bool:
        assert server.poll() is None, server.stderr.read()
        try:
            return len(per_process(parse(fetch(exporter)))) == 2  # both processes have made their metrics
        except OSError:
            return False

    until(up, what="serving on two processes")
    sent = 40
    for _ in range(sent):  # each on a connection of its own: whichever process accepts it answers
        fetch(f"{api}/api/v1/openapi.json")
    scraped = parse(fetch(exporter))  # the metrics port's answers are no API requests: they count nothing
    processes = per_process(scraped)
    assert len(processes) == 2 and sum(processes.values()) == sent
    openapi = {"method": "GET", "route": "/api/v1/openapi.json", "status": "200"}
    assert value(scraped, "gateway_http_requests_total", **openapi) == sent
    # Through the API, with the operator's token, whichever process answers: the same sums.
    through_the_api = parse(fetch(f"{api}/metrics", boss.auth))
    assert value(through_the_api, "gateway_http_requests_total", **openapi) == sent
    assert sum(per_process(through_the_api).values()) == sent
    # A process that dies leaves the live series; what it counted stays in the totals.
    gone = next(iter(processes))
    os.kill(int(gone), signal.SIGKILL)

    def dropped() -> bool:
        try:
            return gone not in per_process(parse(fetch(exporter)))
        except OSError:  # a connection the dead process had accepted
            return False

    until(dropped, what="the dead process dropped")
    after = parse(fetch(exporter))
    assert len(per_process(after)) == 1
    assert value(after, "gateway_http_requests_total", **openapi) == sent
    server.send_signal(signal.SIGTERM)
    assert server.wait(timeout=30) == 0
    out = server.stdout.read()
    assert f"serving the metrics on http://127.0.0.1:{metrics_port}/metrics" in out
    assert list((tmp_path / "tmp").iterdir()) == []  # the metrics directory went with the server
