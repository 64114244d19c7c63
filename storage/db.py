"""Engine and unit-of-work helpers: one transaction per command, action or job.

A unit of work that only reads (``Database.read``) begins without the write lock: on SQLite with a deferred
``BEGIN`` and ``PRAGMA query_only`` (in WAL mode readers and the one writer never wait for each other; a write
fails at once instead of being taken), on PostgreSQL as ``SET TRANSACTION READ ONLY``. Every other unit of work
is a writer: on SQLite ``BEGIN IMMEDIATE`` takes the write lock up front.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session, SessionTransaction, sessionmaker

log = logging.getLogger(__name__)
T = TypeVar("T")

_open_lock = threading.Lock()
_open_transactions: dict[int, int] = {}
"""Sessions holding a begun database transaction: ``id(session)`` -> the thread that began it."""


@event.listens_for(Session, "after_begin")
def _transaction_began(session: Session, _transaction: SessionTransaction, _connection: Connection) -> None:
    # Fires when the session's transaction takes a connection (SQLite: BEGIN IMMEDIATE, the write lock).
    with _open_lock:
        _open_transactions[id(session)] = threading.get_ident()


@event.listens_for(Session, "after_transaction_end")
def _transaction_ended(session: Session, transaction: SessionTransaction) -> None:
    if transaction.parent is None:  # the outermost transaction; a savepoint's end changes nothing
        with _open_lock:
            _open_transactions.pop(id(session), None)


def transaction_open() -> bool:
    """Whether a session began a database transaction in this thread that is not over yet.

    A unit of work whose session has not touched the database yet (a slow handler's fresh session) holds
    no transaction and does not count.
    """
    me = threading.get_ident()
    with _open_lock:
        return me in _open_transactions.values()


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    # Let SQLAlchemy, not the pysqlite driver, emit BEGIN, so SAVEPOINTs work (SQLAlchemy's pysqlite recipe).
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA busy_timeout=10000")
    cursor.close()


READ_ONLY = "rad_read_only"
"""The execution option that marks a read-only unit of work's connections."""


def _sqlite_begin(connection: Connection) -> None:
    if connection.get_execution_options().get(READ_ONLY):
        # Deferred: a reader takes no lock (WAL); query_only refuses any write instead of taking the lock.
        connection.exec_driver_sql("BEGIN")
        connection.exec_driver_sql("PRAGMA query_only=ON")
        connection.info["query_only"] = True
        return
    # IMMEDIATE takes the write lock up front: concurrent writers wait (busy_timeout) instead of failing.
    if connection.info.pop("query_only", False):  # a read-only unit's connection (BEGIN IMMEDIATE is a write)
        connection.exec_driver_sql("PRAGMA query_only=OFF")
    connection.exec_driver_sql("BEGIN IMMEDIATE")


def _postgres_begin(connection: Connection) -> None:
    if connection.get_execution_options().get(READ_ONLY):
        connection.exec_driver_sql("SET TRANSACTION READ ONLY")  # psycopg has begun the transaction already


def make_engine(url: str) -> Engine:
    """Create an engine; SQLite files get their folder, WAL mode and foreign keys.

    A plain ``postgresql://`` URL is driven by psycopg 3.
    """
    parsed = make_url(url)
    if parsed.drivername in ("postgresql", "postgres"):
        parsed = parsed.set(drivername="postgresql+psycopg")
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(parsed, connect_args={"check_same_thread": False, "timeout": 30})
        event.listen(engine, "connect", _sqlite_pragmas)
        event.listen(engine, "begin", _sqlite_begin)
        return engine
    engine = create_engine(parsed, pool_pre_ping=True, pool_size=10, max_overflow=10)
    event.listen(engine, "begin", _postgres_begin)
    return engine


def dialect_insert(session: Session) -> Any:
    """The ``insert`` of the session's database (PostgreSQL or SQLite), with its ``ON CONFLICT`` clauses."""
    return postgresql.insert if session.get_bind().dialect.name == "postgresql" else sqlite.insert


def lost_connection(error: BaseException) -> bool:
    """Whether ``error`` is the database connection going away (a restart, a failover, a killed backend)."""
    return isinstance(error, DBAPIError) and bool(error.connection_invalidated)


def again_if_lost(step: Callable[[], T], what: str) -> T:
    """Run ``step``, and once more if the database connection was lost meanwhile.

    For steps whose units of work were rolled back with the lost connection, so running them again changes
    nothing twice (the pool's pre-ping hands the second attempt a new connection). Steps that call the network
    inside must not be given here: those calls would be made twice.
    """
    try:
        return step()
    except DBAPIError as error:
        if not lost_connection(error):
            raise
        log.warning("the database connection was lost; trying once more", extra={"step": what})
        return step()


class Database:
    """An engine plus a session factory; ``unit_of_work`` opens one transaction."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.engine = make_engine(url)
        self._sessions = sessionmaker(self.engine, expire_on_commit=False)
        self._readers = sessionmaker(self.engine.execution_options(**{READ_ONLY: True}), expire_on_commit=False,
                                     autoflush=False)
        self._autocommit = self.engine.execution_options(isolation_level="AUTOCOMMIT")

    @property
    def is_postgres(self) -> bool:
        """Whether the database is PostgreSQL (else SQLite)."""
        return self.engine.dialect.name == "postgresql"

    @contextmanager
    def unit_of_work(self) -> Iterator[Session]:
        """A session whose work is committed on success and rolled back on any exception."""
        session = self._sessions()
        try:
            yield session
            session.commit()
        except BaseException:
            session.rollback()
            raise
        finally:
            session.close()

    @contextmanager
    def autocommit(self) -> Iterator[Connection]:
        """A connection whose each statement commits on its own, for a lone write that needs no transaction.

        On PostgreSQL there is no ``BEGIN`` or ``COMMIT`` round trip (the ack path's one INSERT); on SQLite it is
        a short transaction, since the write lock is taken either way.
        """
        if self.is_postgres:
            with self._autocommit.connect() as connection:
                yield connection
        else:
            with self.engine.begin() as connection:
                yield connection

    @contextmanager
    def read(self) -> Iterator[Session]:
        """A unit of work that only reads: it never takes the write lock, and any write in it fails.

        Objects read stay usable after it ends (nothing is expired); nothing is ever committed.
        """
        session = self._readers()
        try:
            yield session
        finally:
            session.rollback()
            session.close()

    def dispose(self) -> None:
        """Close the engine's pooled connections."""
        self.engine.dispose()
