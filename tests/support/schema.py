"""An empty database schema, so that the migrations (not ``create_all``) build it: for tests and benchmarks."""

from __future__ import annotations

from sqlalchemy import text

from storage.db import Database
from storage.models import Base


def reset_schema(db: Database) -> None:
    """Drop everything, so that the migrations (not ``create_all``) build the schema."""
    with db.engine.begin() as conn:
        if db.is_postgres:
            conn.execute(text("DROP SCHEMA public CASCADE"))
            conn.execute(text("CREATE SCHEMA public"))
        else:
            for table in reversed(Base.metadata.sorted_tables):
                conn.execute(text(f'DROP TABLE IF EXISTS "{table.name}"'))
            conn.execute(text("DROP TABLE IF EXISTS alembic_version"))
            conn.execute(text("DROP TABLE IF EXISTS apscheduler_jobs"))
