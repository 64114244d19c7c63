"""Alembic, driven from code: upgrade to head and check that a database is at head."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config as AlembicConfig
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, Engine

MIGRATIONS = Path(__file__).parent / "migrations"
EXTERNAL_TABLES = frozenset({"apscheduler_jobs"})
"""Tables our migrations create for a library (APScheduler's job store) but no model describes."""


def include_object(obj: object, name: str | None, type_: str, reflected: bool, compare_to: object) -> bool:
    """Autogenerate filter: leave the library-owned tables and their indexes alone."""
    table = getattr(obj, "table", None)
    owner = name if type_ == "table" else getattr(table, "name", None)
    return owner not in EXTERNAL_TABLES


def alembic_config(url: str) -> AlembicConfig:
    """An Alembic configuration for ``url`` that needs no ``alembic.ini``."""
    cfg = AlembicConfig()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return cfg


class ForeignKeysBroken(RuntimeError):
    """A migration left rows that point at rows that do not exist (SQLite checks this after migrating)."""


def upgrade(engine: Engine, revision: str = "head") -> None:
    """Upgrade the database behind ``engine`` to ``revision`` (the newest by default).

    On SQLite, foreign keys are switched off while the migrations run: Alembic's batch mode rebuilds a table
    by dropping it, and with foreign keys on, that drop would delete (``ON DELETE CASCADE``) or clear
    (``SET NULL``) every row that references it. They are checked once the migrations are done.
    """
    cfg = alembic_config(engine.url.render_as_string(hide_password=False))
    with engine.connect() as connection:
        sqlite = connection.dialect.name == "sqlite"
        if sqlite:  # outside any transaction: SQLite ignores this pragma inside one
            connection.connection.driver_connection.execute("PRAGMA foreign_keys=OFF")  # type: ignore[union-attr]
        try:
            with connection.begin():
                cfg.attributes["connection"] = connection
                command.upgrade(cfg, revision)
                if sqlite:
                    _check_foreign_keys(connection)
        finally:
            if sqlite:
                connection.connection.driver_connection.execute("PRAGMA foreign_keys=ON")  # type: ignore[union-attr]


def _check_foreign_keys(connection: Connection) -> None:
    broken = connection.exec_driver_sql("PRAGMA foreign_key_check").fetchall()
    if broken:
        shown = "; ".join(f"{row[0]} row {row[1]} -> {row[2]}" for row in broken[:10])
        raise ForeignKeysBroken(f"the migration left {len(broken)} row(s) pointing at missing rows: {shown}")


def head_revision() -> str | None:
    """The newest migration's revision."""
    return ScriptDirectory.from_config(alembic_config("sqlite://")).get_current_head()


def current_revision(engine: Engine) -> str | None:
    """The revision the database is at, or None before its first migration."""
    with engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()


def is_current(engine: Engine) -> tuple[bool, str | None, str | None]:
    """Whether the schema is at head, with the current and head revisions."""
    current, head = current_revision(engine), head_revision()
    return current == head, current, head
