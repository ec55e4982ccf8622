"""``gateway serve`` killed between our call to a provider and its answer; ``gateway rails sync`` settles it.

The provider is the tests' third-party rail, whose state lives in a folder:
it outlives the killed server, as a real provider's does. The top-up was
recorded (and its money put in flight) before the call, so after the kill
it is there, unfinished; the janitor asks the provider, which did the
charge, and the wallet is credited once.
"""

from __future__ import annotations

import json
import signal
import threading
import urllib.request

from sqlalchemy import select

from gateway.core.check import check_ledger
from gateway.storage.schema import accounts, top_ups
from tests.http_support import member
from tests.processes import Server, gateway, wait_until
from tests.rail_support import provider_state, script, scripted_options
from tests.support import config, make, write_toml


def balances(deployment, owner):
    with deployment.engine.connect() as connection:
        rows = connection.execute(select(accounts.c.purpose, accounts.c.balance).where(accounts.c.owner_id == owner))
        return {purpose: balance for purpose, balance in rows}


def post_in_background(port: int, path: str, token: str, body: dict) -> threading.Thread:
    """A client whose request the server never answers: it dies with the server."""

    def send() -> None:
        request = urllib.request.Request(
            f"http://127.0.0.1:{port}/api/v1{path}",
            data=json.dumps(body).encode(),
            headers={"Content-Type": "application/json", "Authorization": f"Bearer {token}", "Idempotency-Key": "k"},
            method="POST",
        )
        try:
            urllib.request.urlopen(request, timeout=120).close()
        except OSError:
            pass

    thread = threading.Thread(target=send, daemon=True)
    thread.start()
    return thread


def test_a_top_up_cut_off_by_a_kill_is_settled_by_rails_sync(tmp_path, database_url, scripted_rail_path):
    provider = tmp_path / "provider"
    data = config()
    data["rails"]["scripted"] = scripted_options(provider)
    data["rates"].pop("static")  # keys with a "/", which write_toml does not quote; nothing here converts
    data["mail"] = {"outbox": str(tmp_path / "outbox")}
    path = write_toml(tmp_path / "gateway.toml", {**data, "database": {"url": database_url}})
    deployment = make(database_url, data)
    try:
        fan = member(deployment, "fan")
        script(provider, "hang")  # the provider charges, and its answer never comes
        server = Server(tmp_path, path, "serve", paths=(scripted_rail_path,))
        try:
            client = post_in_background(
                server.port, "/me/top-ups", fan.token, {"amount": {"amount": "9.00", "currency": "EUR"}, "rail": "scripted"}
            )
            wait_until(lambda: provider_state(provider, "top_up:1") is not None, "the provider charged")
            server.process.send_signal(signal.SIGKILL)
            assert server.process.wait(timeout=30) == -signal.SIGKILL
            client.join(timeout=60)
        finally:
            server.close()

        with deployment.engine.connect() as connection:
            assert connection.execute(select(top_ups.c.status)).scalars().all() == ["created"]
        assert balances(deployment, fan.id).get("wallet", 0) == 0 and balances(deployment, fan.id)["incoming"] == 900

        synced = gateway("--config", str(path), "rails", "sync", cwd=tmp_path, paths=(scripted_rail_path,))
        assert synced.returncode == 0, synced.stderr
        assert "top-ups: 1 succeeded" in synced.stdout
        assert balances(deployment, fan.id)["wallet"] == 900 and balances(deployment, fan.id)["incoming"] == 0
        assert len(list(provider.glob("top_up_*.json"))) == 1  # charged once
        with deployment.engine.connect() as connection:
            assert check_ledger(connection) == []

        again = gateway("--config", str(path), "rails", "sync", cwd=tmp_path, paths=(scripted_rail_path,))
        assert again.returncode == 0 and "top-ups: none in flight" in again.stdout
    finally:
        deployment.close()
