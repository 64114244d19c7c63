"""Migrations and models agree, and migrations run both ways."""

from __future__ import annotations

import re

import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext

from storage.db import Database
from storage.migrate import head_revision, include_object, is_current
from storage.models import Base


def test_the_migrations_build_exactly_the_models(db: Database) -> None:
    with db.engine.connect() as connection:
        diff = compare_metadata(
            MigrationContext.configure(connection, opts={"include_object": include_object}), Base.metadata)
    assert diff == []


def test_the_migrations_build_exactly_the_check_constraints_of_the_models(db: Database) -> None:
    """Autogenerate ignores CHECK constraints: compare each one's name and the values it allows."""
    modelled = {(table.name, f"ck_{table.name}_{column.type.name}"): set(column.type.enums)
                for table in Base.metadata.sorted_tables for column in table.columns
                if isinstance(column.type, sa.Enum) and column.type.create_constraint}
    declared = {(table.name, str(c.name)) for table in Base.metadata.sorted_tables
                for c in table.constraints if isinstance(c, sa.CheckConstraint)}
    inspector = sa.inspect(db.engine)
    built = {(table.name, str(check["name"])): set(re.findall(r"'([^']*)'", check["sqltext"]))
             for table in Base.metadata.sorted_tables for check in inspector.get_check_constraints(table.name)}
    assert declared == set(modelled) and len(modelled) >= 7
    assert built == modelled


def test_the_test_database_is_at_head(db: Database) -> None:
    assert is_current(db.engine) == (True, head_revision(), head_revision())


def test_an_empty_database_is_not_current(tmp_path: object) -> None:
    fresh = Database(f"sqlite:///{tmp_path}/empty.db")
    try:
        current, at, head = is_current(fresh.engine)
        assert (current, at, head) == (False, None, head_revision())
    finally:
        fresh.dispose()
