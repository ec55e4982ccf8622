"""Engines for the two supported databases, each set up for safe concurrent writes."""

from __future__ import annotations

import re
import threading
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext
from typing import Any, TypeVar
from weakref import WeakKeyDictionary

from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, DBAPIError, IntegrityError, NoSuchModuleError, OperationalError

from gateway.errors import ConfigError, DatabaseUnreachable

T = TypeVar("T")
CONNECT_TIMEOUT = 5  # seconds: PostgreSQL that does not answer stops start-up soon, instead of hanging
READ_ONLY = "gateway_read_only"
_WRITERS: WeakKeyDictionary[Engine, threading.Lock] = WeakKeyDictionary()
_WRITERS_GUARD = threading.Lock()


def driver_of(connection: Connection) -> Any:
    """The driver's own connection under ``connection`` (sqlite3's or psycopg's), for what SQLAlchemy does not say."""
    return connection.connection.driver_connection


def normalize_url(url: str) -> str:
    """Use psycopg 3 for ``postgresql://`` URLs, whatever driver is installed beside it."""
    parsed = make_url(url)
    if parsed.drivername in ("postgresql", "postgres"):
        parsed = parsed.set(drivername="postgresql+psycopg")
    return parsed.render_as_string(hide_password=False)


def address(url: str) -> str:
    """``url`` as it may be shown: its password hidden, even where the URL does not parse."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except (ArgumentError, ValueError):
        return re.sub(r"(://[^/@:]*:)[^/@]*@", r"\1***@", url)


def make_engine(url: str, **kwargs: Any) -> Engine:
    """An engine for ``url``; a URL that is no database's, or whose driver is missing, is a ``ConfigError``.

    Its errors name the SQL but not the values bound to it: those may be a
    mail's text with its link's secret, and an error may reach the log.
    """
    kwargs.setdefault("hide_parameters", True)
    try:
        return _create_engine(normalize_url(url), **kwargs)
    except NoSuchModuleError:
        raise ConfigError(f"the database URL {address(url)}: no such kind of database (sqlite:// or postgresql://)") from None
    except ImportError as error:
        raise ConfigError(f"the database URL {address(url)}: its driver is not installed ({error})") from None
    except (ArgumentError, ValueError) as error:
        raise ConfigError(f"the database URL {address(url)}: not a database URL ({error})") from None


def _create_engine(url: str, **kwargs: Any) -> Engine:
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        engine = create_engine(url, **kwargs)
        _configure_sqlite(engine)
        return engine
    if parsed.get_backend_name() == "postgresql" and "connect_timeout" not in parsed.query:
        kwargs["connect_args"] = {"connect_timeout": CONNECT_TIMEOUT, **kwargs.get("connect_args", {})}
    # Room for the API's database threads and the settlement's workers at once.
    kwargs.setdefault("pool_size", 20)
    kwargs.setdefault("max_overflow", 20)
    return create_engine(url, pool_pre_ping=True, **kwargs)


def require_reachable(engine: Engine) -> None:
    """Connect once, so that a database that cannot be reached stops start-up with one line naming it."""
    try:
        with engine.connect():
            pass
    except DBAPIError as error:
        where = engine.url.render_as_string(hide_password=True)
        raise DatabaseUnreachable(f"cannot connect to the database {where}: {_first_line(error.orig or error)}") from None


def _first_line(error: BaseException) -> str:
    """The driver's own words, first line only (psycopg puts hints below it)."""
    lines = str(error).strip().splitlines()
    return lines[0] if lines else type(error).__name__


def _configure_sqlite(engine: Engine) -> None:
    """WAL, foreign keys, and BEGIN IMMEDIATE.

    A write transaction takes SQLite's write lock when it begins, not at its
    first write, so two writers queue up instead of failing with "database is
    locked" halfway through.
    """

    @event.listens_for(engine, "connect")
    def on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None  # we issue BEGIN ourselves
        # lower() for every letter, as PostgreSQL's: SQLite's own folds A to Z only.
        dbapi_connection.create_function(
            "gateway_lower", 1, lambda text: None if text is None else text.lower(), deterministic=True
        )
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA foreign_keys = ON")
        cursor.execute("PRAGMA busy_timeout = 30000")
        if engine.url.database not in (None, "", ":memory:"):
            cursor.execute("PRAGMA journal_mode = WAL")
            cursor.execute("PRAGMA synchronous = NORMAL")
        cursor.close()

    @event.listens_for(engine, "begin")
    def on_begin(connection: Connection) -> None:
        reading = connection.get_execution_options().get(READ_ONLY, False)
        connection.exec_driver_sql("BEGIN" if reading else "BEGIN IMMEDIATE")


def reading(engine: Engine) -> Connection:
    """A connection for reads only: on SQLite it does not queue behind writers (WAL readers never wait)."""
    return engine.connect().execution_options(**{READ_ONLY: True})


@contextmanager
def read_only(connection: Connection) -> Iterator[Connection]:
    """A transaction for reads only on a connection that also writes: on SQLite a plain BEGIN, no write lock.

    The connection's own setting is put back after, for the writes that follow.
    """
    before = connection.get_execution_options().get(READ_ONLY, False)
    connection.execution_options(**{READ_ONLY: True})
    try:
        with connection.begin():
            yield connection
    finally:
        connection.execution_options(**{READ_ONLY: before})


def is_retryable(error: DBAPIError) -> bool:
    """Whether running the same work again may succeed.

    A deadlock, a serialization failure or a busy SQLite, and also a unique
    violation: work that looks before it inserts (get-or-create, idempotency
    keys) lost a race, and on the next run it finds the winner's row.
    """
    sqlstate = getattr(error.orig, "sqlstate", None)
    if sqlstate in ("40001", "40P01", "23505"):
        return True
    message = str(error.orig)
    if isinstance(error, IntegrityError):
        return "UNIQUE constraint failed" in message
    return isinstance(error, OperationalError) and "locked" in message


def run_in_transaction(bind: Engine | Connection, work: Callable[[Connection], T], attempts: int = 5) -> T:
    """Run ``work`` in one database transaction, again while the database says a retry may succeed.

    ``bind`` is an engine (a pooled connection a try) or a connection that
    has no transaction open (one transaction on it a try).
    """
    for attempt in range(attempts):
        try:
            with _one_writer(bind.engine):
                if isinstance(bind, Connection):
                    with bind.begin():
                        return work(bind)
                with bind.begin() as connection:
                    return work(connection)
        except DBAPIError as error:
            if attempt + 1 == attempts or not is_retryable(error):
                raise
    raise AssertionError("unreachable")


def _one_writer(engine: Engine) -> AbstractContextManager[Any]:
    """On SQLite, this process's write transactions take turns on a lock.

    SQLite lets one writer in at a time, and one that finds the database
    locked sleeps and polls (``busy_timeout``), for up to tens of
    milliseconds a try; queued on a lock instead, the next writer starts as
    soon as the last one commits. Other processes still meet the busy timeout.
    """
    if engine.dialect.name != "sqlite":
        return nullcontext()
    with _WRITERS_GUARD:
        return _WRITERS.setdefault(engine, threading.Lock())


def single_writer(engine: Engine) -> bool:
    """Whether the database writes one transaction at a time (SQLite), so that writers side by side only queue."""
    return engine.dialect.name == "sqlite"


# SQLite's page cache for a connection that writes in bulk, in KiB (its default is 2 MiB). Settlement
# writes into indexes all over their width (postings by account, receipts by creator); with a small
# cache most of those pages are read back and spilled again at every batch.
BULK_CACHE_KIB = 131_072


@contextmanager
def bulk_writing(engine: Engine) -> Iterator[Connection]:
    """A connection for a long run of bulk writes: on SQLite with a larger page cache, put back after."""
    with engine.connect() as connection:
        if connection.dialect.name != "sqlite":
            yield connection
            return
        driver = driver_of(connection)
        before = driver.execute("PRAGMA cache_size").fetchone()[0]
        driver.execute(f"PRAGMA cache_size = -{BULK_CACHE_KIB}")
        try:
            yield connection
        finally:
            if not connection.invalidated:
                driver_of(connection).execute(f"PRAGMA cache_size = {before}")
