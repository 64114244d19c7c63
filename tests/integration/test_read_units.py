"""Read-only units of work: on SQLite they never take the write lock, and no unit of work that reads writes."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from storage.db import Database


@pytest.fixture
def sqlite(tmp_path: Path) -> Database:
    """A SQLite file of its own (whatever database the suite runs on), with one small table."""
    db = Database(f"sqlite:///{tmp_path / 'locks.db'}")
    with db.unit_of_work() as session:
        session.execute(text("CREATE TABLE notes (id INTEGER PRIMARY KEY, body TEXT NOT NULL)"))
        session.execute(text("INSERT INTO notes (body) VALUES ('first')"))
    return db


def test_a_reader_does_not_block_a_concurrent_writer_on_sqlite(sqlite: Database) -> None:
    written = threading.Event()

    def write() -> None:
        with sqlite.unit_of_work() as session:
            session.execute(text("INSERT INTO notes (body) VALUES ('second')"))
        written.set()

    with sqlite.read() as session:
        assert session.scalar(text("SELECT count(*) FROM notes")) == 1  # the read transaction is open
        writer = threading.Thread(target=write)
        writer.start()
        # A writer's BEGIN IMMEDIATE would wait here until this unit ends (busy_timeout is 10 s).
        assert written.wait(5), "the writer waited for the reader"
        assert session.scalar(text("SELECT count(*) FROM notes")) == 1  # the reader keeps its snapshot
    writer.join()
    with sqlite.read() as session:
        assert session.scalar(text("SELECT count(*) FROM notes")) == 2


def test_a_write_in_a_read_only_unit_fails_and_writers_still_write(sqlite: Database) -> None:
    with pytest.raises(DBAPIError), sqlite.read() as session:
        session.execute(text("INSERT INTO notes (body) VALUES ('sneaked')"))
    for _ in range(3):  # the pooled connection that was read-only writes again in a writer's unit
        with sqlite.unit_of_work() as session:
            session.execute(text("INSERT INTO notes (body) VALUES ('fine')"))
    with sqlite.read() as session:
        assert list(session.scalars(text("SELECT body FROM notes ORDER BY id"))) == ["first", "fine", "fine", "fine"]


def test_a_write_in_a_read_only_unit_fails_on_the_suite_database(db: Database) -> None:
    with pytest.raises(DBAPIError), db.read() as session:
        session.execute(text("INSERT INTO settings (key, value) VALUES ('read_only_probe', '1')"))
    with db.read() as session:
        assert session.scalar(text("SELECT count(*) FROM settings WHERE key = 'read_only_probe'")) == 0
