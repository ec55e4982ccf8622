"""What the operator decides about a person: their role, and whether their account is frozen.

Every change of role is recorded in ``role_changes`` (who gave it, through
what, from where, when) in the transaction that makes it. Giving a person
the role they have already changes nothing and records nothing, so granting
and revoking are idempotent. System participants are never operators.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Row, delete, func, select, update

from gateway.deployment import Deployment
from gateway.errors import LastOperator, NotFound, ValidationError
from gateway.storage.engine import reading, run_in_transaction
from gateway.storage.rows import insert_row
from gateway.storage.schema import participants, role_changes, sessions
from gateway.usecases.identity.principal import MEMBER, OPERATOR, ROLES, Principal


@dataclass(frozen=True)
class Actor:
    """Who changes a role, and from where: what the record of the change keeps."""

    participant_id: int | None  # the operator who acted; None where no participant did (the machine's owner at the CLI)
    via: str  # cli | api | internal
    detail: str | None = None  # the OS user at the CLI; the credential over the API ("token:12", "session:5")


INTERNAL = Actor(None, "internal")  # Python calling the use case itself (tests, scripts): no edge to name


def cli_actor(os_user: str) -> Actor:
    """The machine's owner at the command line: no participant, and the local user they ran it as."""
    return Actor(None, "cli", os_user)


def api_actor(principal: Principal) -> Actor:
    """An operator over the API, with the session or token they acted from."""
    return Actor(principal.participant_id, "api", f"{principal.via}:{principal.credential_id}")


@dataclass(frozen=True)
class RoleChange:
    id: int
    participant_id: int
    role: str
    actor_id: int | None
    via: str
    detail: str | None
    created_at: datetime


@dataclass(frozen=True)
class RoleOutcome:
    """A person's role after a grant or revoke, and the change recorded (None: they had it already)."""

    participant_id: int
    handle: str
    role: str
    change: RoleChange | None


def set_role(deployment: Deployment, participant_id: int, role: str, actor: Actor = INTERNAL) -> RoleChange | None:
    """Give a person a role, recorded with who gave it; None, and nothing recorded, if they had it already."""
    check_role(role)

    def work(connection: Connection) -> RoleChange | None:
        _person(connection, participant_id=participant_id)
        return _change(connection, deployment, participant_id, role, actor)

    return run_in_transaction(deployment.engine, work)


def set_role_by_handle(deployment: Deployment, handle: str, role: str, actor: Actor) -> RoleOutcome:
    """``set_role`` for the person a handle names, as the CLI names them; no guard: the machine's owner decides."""
    check_role(role)

    def work(connection: Connection) -> RoleOutcome:
        participant_id, found_handle = _person(connection, handle=handle)
        return RoleOutcome(participant_id, found_handle, role, _change(connection, deployment, participant_id, role, actor))

    return run_in_transaction(deployment.engine, work)


def set_role_as_operator(deployment: Deployment, principal: Principal, participant_id: int, role: str) -> RoleChange | None:
    """An operator's grant or revoke over the API: recorded with their credential, and never leaving no operator.

    The API is how a deployment would lock itself out by accident (the last
    operator revoking themselves); the CLI, on the machine, can always make
    one again, so only this path refuses it.
    """
    check_role(role)

    def work(connection: Connection) -> RoleChange | None:
        if role == MEMBER:
            _lock_operators(connection)
        _person(connection, participant_id=participant_id)
        change = _change(connection, deployment, participant_id, role, api_actor(principal))
        if change is not None and role == MEMBER:
            _keep_an_operator(connection)
        return change

    return run_in_transaction(deployment.engine, work)


def role_history(deployment: Deployment, participant_id: int, before: int | None = None, limit: int = 50) -> list[RoleChange]:
    """A person's changes of role, newest first: those with ids below ``before``, at most ``limit``."""
    with reading(deployment.engine) as connection:
        _person(connection, participant_id=participant_id)
        query = select(role_changes).where(role_changes.c.participant_id == participant_id)
        if before is not None:
            query = query.where(role_changes.c.id < before)
        rows = connection.execute(query.order_by(role_changes.c.id.desc()).limit(limit)).all()
    return [_role_change(row) for row in rows]


def check_role(role: str) -> None:
    """One of ``ROLES``: a field error before any transaction begins."""
    if role not in ROLES:
        raise ValidationError(f"a role is one of {', '.join(ROLES)}", field="role")


def freeze(deployment: Deployment, participant_id: int, frozen: bool = True) -> None:
    """Freeze (or thaw) an account: a frozen one cannot sign in, and its sessions end at once."""

    def work(connection: Connection) -> None:
        _set_person(connection, participant_id, frozen=frozen)
        if frozen:
            connection.execute(delete(sessions).where(sessions.c.participant_id == participant_id))

    run_in_transaction(deployment.engine, work)


def _person(connection: Connection, *, participant_id: int | None = None, handle: str | None = None) -> tuple[int, str]:
    """The id and handle of the person an id or a handle names (a handle as typed, else case-folded as sign-up keeps it)."""
    columns = select(participants.c.id, participants.c.handle, participants.c.kind)
    if participant_id is not None:
        row = connection.execute(columns.where(participants.c.id == participant_id)).first()
        if row is None or row.kind != "person":
            raise NotFound(f"no account #{participant_id}")
        return row.id, row.handle
    given = handle or ""
    rows = {r.handle: r for r in connection.execute(columns.where(participants.c.handle.in_([given, given.lower()])))}
    row = rows.get(given) or rows.get(given.lower())
    if row is None:
        raise NotFound(f"no person with the handle {given!r}")
    if row.kind != "person":
        raise NotFound(f"{row.handle!r} is a system participant, not a person's account: never an operator")
    return row.id, row.handle


def _change(connection: Connection, deployment: Deployment, participant_id: int, role: str, actor: Actor) -> RoleChange | None:
    """Set the role and record it, or nothing if the person has it already.

    The condition is in the UPDATE itself, so of two grants at once only the
    one that changes the row records a change.
    """
    changed = connection.execute(
        update(participants).where(participants.c.id == participant_id, participants.c.role != role).values(role=role)
    ).rowcount
    if not changed:
        return None
    now = deployment.clock.now()
    change_id = insert_row(
        connection,
        role_changes,
        participant_id=participant_id,
        role=role,
        actor_id=actor.participant_id,
        via=actor.via,
        detail=actor.detail,
        created_at=now,
    )
    return RoleChange(change_id, participant_id, role, actor.participant_id, actor.via, actor.detail, now)


def _lock_operators(connection: Connection) -> None:
    """Hold the operators' rows until the transaction ends (PostgreSQL), so two revokes at once cannot both pass the guard.

    The second waits for the first, then sees its outcome. SQLite has one writer at a time, which is lock enough.
    """
    connection.execute(
        select(participants.c.id)
        .where(participants.c.kind == "person", participants.c.role == OPERATOR)
        .order_by(participants.c.id)
        .with_for_update()
    ).all()


def _keep_an_operator(connection: Connection) -> None:
    """Refuse to leave no operator who can sign in (a frozen one cannot), through the API."""
    left = connection.execute(
        select(func.count())
        .select_from(participants)
        .where(participants.c.kind == "person", participants.c.role == OPERATOR, participants.c.frozen.is_(False))
    ).scalar_one()
    if not left:
        raise LastOperator("this would leave no operator who can sign in: grant the role to another first")


def _role_change(row: Row[Any]) -> RoleChange:
    return RoleChange(row.id, row.participant_id, row.role, row.actor_id, row.via, row.detail, row.created_at)


def _set_person(connection: Connection, participant_id: int, **values: Any) -> None:
    changed = connection.execute(
        update(participants).where(participants.c.id == participant_id, participants.c.kind == "person").values(**values)
    ).rowcount
    if not changed:
        raise NotFound(f"no participant #{participant_id}")
