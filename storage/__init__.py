"""Persistence: SQLAlchemy 2.0 models, engine and unit-of-work helpers, Alembic migrations."""
