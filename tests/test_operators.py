"""Making operators: ``gateway operator grant|revoke`` as a real process, the API's role route over real HTTP,
the record of each change, and the guard that keeps a deployment from losing its last operator; on SQLite and PostgreSQL.
"""

from __future__ import annotations

import getpass
import threading
import time
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select, text
from sqlalchemy.exc import DBAPIError, IntegrityError

from gateway.core.accounts import system_participant
from gateway.errors import LastOperator
from gateway.http.app import create_app
from gateway.http.ratelimit import MemoryLimiter
from gateway.storage.engine import run_in_transaction
from gateway.storage.schema import participants, role_changes, sessions
from gateway.usecases.identity.roles import Actor, RoleChange, freeze, role_history, set_role, set_role_as_operator
from gateway.usecases.identity.tokens import authenticate_token, create_access_token, list_access_tokens
from gateway.usecases.operator import account_summary
from gateway.usecases.participants import register_participant
from tests.http_support import User, member, operator
from tests.support import NOVEMBER, OCTOBER
from tests.test_cli import gateway


@pytest.fixture
async def client(deployment, aiohttp_client):
    return await aiohttp_client(create_app(deployment, limiter=MemoryLimiter()))


def cli(database_url: str, *args: str):
    return gateway("--database-url", database_url, *args)


def recorded(deployment) -> int:
    """Every role change recorded, whoever it was for."""
    with deployment.engine.connect() as connection:
        return connection.execute(select(func.count()).select_from(role_changes)).scalar_one()


def role_of(deployment, participant_id: int) -> str:
    with deployment.engine.connect() as connection:
        return connection.execute(select(participants.c.role).where(participants.c.id == participant_id)).scalar_one()


def role_url(user_id: int) -> str:
    return f"/api/v1/operator/accounts/{user_id}/role"


async def put_role(client, caller: User, user_id: int, role: str, expect: int, headers=None) -> dict:
    response = await client.put(role_url(user_id), json={"role": role}, headers={**caller.auth, **(headers or {})})
    assert response.status == expect, await response.text()
    return await response.json()


async def changes_over_api(client, caller: User, user_id: int, query: str = "") -> dict:
    response = await client.get(f"/api/v1/operator/accounts/{user_id}/role-changes{query}", headers=caller.auth)
    assert response.status == 200, await response.text()
    return await response.json()


# The command line: the machine's owner makes the first operator.


def test_cli_grants_and_revokes_recording_the_local_user(deployment, database_url):
    alice = register_participant(deployment, "alice", "EUR")
    before = datetime.now(UTC) - timedelta(seconds=1)

    granted = cli(database_url, "operator", "grant", "alice")
    assert granted.returncode == 0, granted.stderr
    assert role_of(deployment, alice) == "operator"
    [grant] = role_history(deployment, alice)
    assert granted.stdout == f"alice (#{alice}) is now an operator (role change #{grant.id})\n"
    assert (grant.participant_id, grant.role, grant.actor_id, grant.via) == (alice, "operator", None, "cli")
    assert grant.detail == getpass.getuser()
    # The CLI's deployment runs on the system clock: the moment it ran, not the tests' fixed October.
    assert before <= grant.created_at <= datetime.now(UTC) + timedelta(seconds=1)

    again = cli(database_url, "operator", "grant", "alice")
    assert again.returncode == 0 and again.stderr == ""
    assert again.stdout == f"alice (#{alice}) is an operator already; nothing changed\n"
    assert recorded(deployment) == 1

    # The last operator: the CLI may revoke it all the same (the machine's owner can always grant again).
    revoked = cli(database_url, "operator", "revoke", "alice")
    assert revoked.returncode == 0, revoked.stderr
    assert role_of(deployment, alice) == "member"
    revoke, first = role_history(deployment, alice)  # newest first
    assert first == grant
    assert revoked.stdout == f"alice (#{alice}) is no longer an operator (role change #{revoke.id})\n"
    assert (revoke.role, revoke.actor_id, revoke.via, revoke.detail) == ("member", None, "cli", getpass.getuser())
    assert revoke.id > grant.id and revoke.created_at >= grant.created_at

    not_one = cli(database_url, "operator", "revoke", "alice")
    assert not_one.returncode == 0 and not_one.stdout == f"alice (#{alice}) is not an operator; nothing changed\n"
    assert recorded(deployment) == 2


def test_cli_finds_a_handle_whatever_its_case(deployment, database_url):
    alice = register_participant(deployment, "alice", "EUR")
    result = cli(database_url, "operator", "grant", "Alice")
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith(f"alice (#{alice}) is now an operator")
    assert role_of(deployment, alice) == "operator"


@pytest.mark.parametrize("action", ["grant", "revoke"])
def test_cli_unknown_handle_is_one_line_exit_1_and_nothing_recorded(deployment, database_url, action):
    register_participant(deployment, "alice", "EUR")
    result = cli(database_url, "operator", action, "ghost")
    assert result.returncode == 1
    assert result.stderr == "gateway: not_found: no person with the handle 'ghost'\n"
    assert result.stdout == ""
    assert recorded(deployment) == 0


@pytest.mark.parametrize("action", ["grant", "revoke"])
def test_cli_refuses_a_system_participant(deployment, database_url, action):
    platform = run_in_transaction(deployment.engine, lambda c: system_participant(c, "platform", OCTOBER))
    result = cli(database_url, "operator", action, "platform")
    assert result.returncode == 1
    assert result.stderr == (
        "gateway: not_found: 'platform' is a system participant, not a person's account: never an operator\n"
    )
    assert role_of(deployment, platform) == "member" and recorded(deployment) == 0


def test_cli_operator_command_lines():
    for args in (["operator", "--help"], ["operator", "grant", "--help"], ["operator", "revoke", "--help"]):
        result = gateway(*args)
        assert result.returncode == 0 and "usage: gateway operator" in result.stdout, result.stderr
    missing = gateway("operator", "grant")
    assert missing.returncode == 2 and missing.stderr.count("\n") == 1
    assert "the following arguments are required: HANDLE" in missing.stderr


# The API: an operator grants and revokes; the record names them and their credential.


async def test_an_operator_grants_and_revokes_over_the_api_with_a_token(client, deployment):
    boss = member(deployment, "boss", role="operator")
    alice = member(deployment, "alice")
    [token] = list_access_tokens(deployment, boss.id)
    deployment.clock.set(OCTOBER + timedelta(hours=1))

    answer = await put_role(client, boss, alice.id, "operator", 200)
    assert answer == {"id": alice.id, "handle": "alice", "role": "operator", "frozen": False}
    assert role_of(deployment, alice.id) == "operator"

    again = await put_role(client, boss, alice.id, "operator", 200)  # idempotent: nothing changes, nothing recorded
    assert again == answer

    deployment.clock.set(OCTOBER + timedelta(hours=2))
    revoked = await put_role(client, boss, alice.id, "member", 200)
    assert revoked == {**answer, "role": "member"}

    page = await changes_over_api(client, boss, alice.id)
    assert page["next_cursor"] is None
    assert [(c["role"], c["actor_id"], c["via"], c["detail"], c["created_at"]) for c in page["items"]] == [
        ("member", boss.id, "api", f"token:{token.id}", "2026-10-15T14:00:00Z"),
        ("operator", boss.id, "api", f"token:{token.id}", "2026-10-15T13:00:00Z"),
    ]
    assert [c.id for c in role_history(deployment, alice.id)] == [c["id"] for c in page["items"]]


async def test_the_record_names_the_session_an_operator_signed_in_with(client, deployment, outbox):
    boss = await operator(client, outbox, deployment)
    alice = member(deployment, "alice")
    signed_in = await client.post("/api/v1/session", json={"login": "op", "password": "correct horse battery"})
    assert signed_in.status == 201, await signed_in.text()
    csrf = (await signed_in.json())["csrf_token"]
    with deployment.engine.connect() as connection:
        session_id = connection.execute(select(func.max(sessions.c.id)).where(sessions.c.participant_id == boss.id)).scalar()

    refused = await client.put(role_url(alice.id), json={"role": "operator"})  # a session's write needs its CSRF token
    assert refused.status == 403 and (await refused.json())["type"] == "csrf_failed"
    granted = await client.put(role_url(alice.id), json={"role": "operator"}, headers={"X-CSRF-Token": csrf})
    assert granted.status == 200, await granted.text()

    [change] = role_history(deployment, alice.id)
    assert (change.actor_id, change.via, change.detail, change.created_at) == (boss.id, "api", f"session:{session_id}", OCTOBER)


async def test_the_role_changes_of_an_account_come_in_pages(client, deployment):
    boss = member(deployment, "boss", role="operator")
    alice = member(deployment, "alice")
    for role in ("operator", "member", "operator"):
        await put_role(client, boss, alice.id, role, 200)
    first = await changes_over_api(client, boss, alice.id, "?limit=2")
    assert [c["role"] for c in first["items"]] == ["operator", "member"] and first["next_cursor"]
    rest = await changes_over_api(client, boss, alice.id, f"?limit=2&cursor={first['next_cursor']}")
    assert [c["role"] for c in rest["items"]] == ["operator"] and rest["next_cursor"] is None


async def test_the_last_operator_cannot_revoke_themselves_over_the_api(client, deployment):
    boss = member(deployment, "boss", role="operator")
    alice = member(deployment, "alice")
    before = recorded(deployment)

    refused = await put_role(client, boss, boss.id, "member", 409)
    assert refused["type"] == "last_operator" and "no operator who can sign in" in refused["detail"]
    assert role_of(deployment, boss.id) == "operator" and recorded(deployment) == before

    await put_role(client, boss, alice.id, "operator", 200)  # with another operator, they may
    assert (await put_role(client, boss, boss.id, "member", 200))["role"] == "member"
    assert role_of(deployment, boss.id) == "member"
    # Their token lost the operator scope with the role.
    assert (await client.put(role_url(alice.id), json={"role": "member"}, headers=boss.auth)).status == 403
    assert role_of(deployment, alice.id) == "operator"


async def test_a_frozen_operator_does_not_count_as_one_left(client, deployment):
    boss = member(deployment, "boss", role="operator")
    carol = member(deployment, "carol", role="operator")
    freeze(deployment, carol.id)
    assert (await put_role(client, boss, boss.id, "member", 409))["type"] == "last_operator"
    freeze(deployment, carol.id, frozen=False)
    assert (await put_role(client, boss, boss.id, "member", 200))["role"] == "member"


async def test_the_role_route_refuses_what_it_should(client, deployment):
    boss = member(deployment, "boss", role="operator")
    alice = member(deployment, "alice")
    platform = run_in_transaction(deployment.engine, lambda c: system_participant(c, "platform", OCTOBER))
    before = recorded(deployment)

    assert (await put_role(client, boss, 999_999, "operator", 404))["type"] == "not_found"
    assert (await put_role(client, boss, platform, "operator", 404))["type"] == "not_found"
    assert role_of(deployment, platform) == "member"
    assert (await put_role(client, boss, alice.id, "king", 422))["type"] == "validation_error"
    assert (await put_role(client, alice, alice.id, "operator", 403))["type"] == "forbidden"  # not an operator
    _, read_only = create_access_token(deployment, boss.id, "read only", ["read"])
    assert (await put_role(client, User(boss.id, "boss", read_only), alice.id, "operator", 403))["type"] == "forbidden"
    response = await client.get(f"/api/v1/operator/accounts/{platform}/role-changes", headers=boss.auth)
    assert response.status == 404
    assert role_of(deployment, alice.id) == "member" and recorded(deployment) == before


# The record itself.


def test_the_role_and_its_record_are_one_transaction(deployment):
    alice = register_participant(deployment, "alice", "EUR")
    with pytest.raises(IntegrityError):  # the record names an actor who does not exist: the record fails...
        set_role(deployment, alice, "operator", Actor(999_999, "api", "token:1"))
    assert role_of(deployment, alice) == "member"  # ...and the role with it
    assert recorded(deployment) == 0


def test_the_record_is_append_only(deployment):
    alice = register_participant(deployment, "alice", "EUR")
    set_role(deployment, alice, "operator")
    for statement in ("UPDATE role_changes SET via = 'forged'", "DELETE FROM role_changes"):
        with pytest.raises(DBAPIError, match="append-only"):
            with deployment.engine.begin() as connection:
                connection.execute(text(statement))
    [change] = role_history(deployment, alice)
    assert (change.via, change.detail, change.actor_id) == ("internal", None, None)


def test_two_last_operators_revoking_at_once_leave_one(deployment):
    """Two revokes at once, each of the other's last fellow operator: one passes the guard, the other is refused.

    On PostgreSQL the test holds the operators' rows locked while both
    revokes start, and lets them go once both wait on that lock: they then
    run truly side by side, and only the guard's own lock makes the second
    see the first's outcome (without it, neither would wait, and both would
    pass). SQLite writes one transaction at a time: the two queue.
    """
    pair = [member(deployment, handle, role="operator") for handle in ("boss", "carol")]
    principals = [authenticate_token(deployment, user.token) for user in pair]
    outcomes: list[object] = [None, None]

    def revoke_self(index: int) -> None:
        try:
            outcomes[index] = set_role_as_operator(deployment, principals[index], pair[index].id, "member")
        except LastOperator as error:
            outcomes[index] = error

    threads = [threading.Thread(target=revoke_self, args=(i,)) for i in range(2)]
    postgresql = deployment.engine.dialect.name == "postgresql"
    with deployment.engine.connect() as holder:
        if postgresql:
            holder.begin()
            holder.execute(select(participants.c.id).where(participants.c.role == "operator").with_for_update()).all()
        for thread in threads:
            thread.start()
        if postgresql:
            wait_for_lock_waiters(deployment.engine, 2)
            holder.rollback()
    for thread in threads:
        thread.join(timeout=30)
    assert sorted(type(outcome).__name__ for outcome in outcomes) == ["LastOperator", "RoleChange"], outcomes
    assert sorted(role_of(deployment, user.id) for user in pair) == ["member", "operator"]


def wait_for_lock_waiters(engine, count: int, timeout: float = 30) -> None:
    """Until ``count`` sessions of this database wait on a lock (the revokes, on the rows the test holds).

    Read in autocommit: within one transaction PostgreSQL shows the same snapshot of its activity.
    """
    deadline = time.monotonic() + timeout
    query = text("SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'")
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as monitor:
        while monitor.execute(query).scalar_one() < count:
            assert time.monotonic() < deadline, "the revokes never waited for the operators' rows: nothing locks them"
            time.sleep(0.01)


def test_set_role_without_an_edge_is_recorded_as_internal(deployment):
    deployment.clock.set(NOVEMBER)
    alice = register_participant(deployment, "alice", "EUR")
    change = set_role(deployment, alice, "operator")
    assert isinstance(change, RoleChange) and set_role(deployment, alice, "operator") is None
    assert role_history(deployment, alice) == [change]
    assert (change.via, change.actor_id, change.created_at) == ("internal", None, NOVEMBER)
    assert account_summary(deployment, alice).role == "operator"
