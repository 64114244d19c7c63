"""State columns accept only their state machine's values: a CHECK constraint on each.

A database holding a value outside them is refused with the table, row id and value of each such row
(never a bare IntegrityError), and nothing is changed: fix or delete those rows, then migrate again.
The values are written out here, not imported: a migration keeps the schema of its own day.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-01
"""
from collections.abc import Iterator, Sequence
from contextlib import contextmanager

import sqlalchemy as sa
from alembic import op

revision = '0008'
down_revision = '0007'
branch_labels = None
depends_on = None

DEPLOYMENT_STATUSES = ('QUEUED', 'WORKING', 'SUCCESS', 'FAILURE', 'TIMEOUT', 'INTERNAL_ERROR', 'CANCELLED',
                       'DELETING', 'DELETED')
RUN_STATUSES = ('QUEUED', 'WORKING', 'SUCCESS', 'FAILURE', 'TIMEOUT', 'INTERNAL_ERROR', 'CANCELLED')
ACTIONS = ('CREATE', 'UPDATE', 'DESTROY')
STATES: dict[str, dict[str, Sequence[str]]] = {
    'deployments': {'status': DEPLOYMENT_STATUSES, 'action': ACTIONS},
    'deployment_runs': {'status': RUN_STATUSES, 'action': ACTIONS},
    'jobs': {'status': ('queued', 'running', 'done', 'failed')},
    'deploy_drafts': {'status': ('filling', 'done')},
    'publish_drafts': {'status': ('open', 'applied')},
    'repo_scans': {'status': ('idle', 'running')},
}
"""Table -> state column -> the values it may hold."""
SHOWN = 20
"""Unknown values named in the refusal at most (the rest are counted)."""
CASCADING = {'deployments': ('deployment_runs', 'deploy_drafts')}
"""Tables whose rows a table's rebuild on SQLite would delete (they reference it ON DELETE CASCADE)."""


class UnknownState(ValueError):
    """A row holds a state its column's CHECK constraint would refuse."""


def upgrade() -> None:
    _refuse_unknown_states()
    for table, columns in STATES.items():
        with _dependents_kept(table), op.batch_alter_table(table) as batch:
            for column, allowed in columns.items():
                batch.create_check_constraint(op.f(f'ck_{table}_{column}'), _condition(column, allowed))


def downgrade() -> None:
    for table, columns in STATES.items():
        with _dependents_kept(table), op.batch_alter_table(table) as batch:
            for column in columns:
                batch.drop_constraint(op.f(f'ck_{table}_{column}'), type_='check')


@contextmanager
def _dependents_kept(table: str) -> Iterator[None]:
    """Put back the rows of ``CASCADING[table]`` after SQLite rebuilt ``table``.

    Batch mode rebuilds a SQLite table by dropping it, and a drop deletes the rows referencing it ON DELETE
    CASCADE: foreign keys are on, and cannot be turned off inside the migration's transaction.
    """
    connection = op.get_bind()
    kept = CASCADING.get(table, ()) if connection.dialect.name == 'sqlite' else ()
    for dependent in kept:
        connection.exec_driver_sql(f'CREATE TEMP TABLE "kept_{dependent}" AS SELECT * FROM "{dependent}"')
    yield
    for dependent in kept:
        columns = ', '.join(f'"{c["name"]}"' for c in sa.inspect(connection).get_columns(dependent))
        connection.exec_driver_sql(f'DELETE FROM "{dependent}"')
        connection.exec_driver_sql(f'INSERT INTO "{dependent}" ({columns}) SELECT {columns} FROM "kept_{dependent}"')
        connection.exec_driver_sql(f'DROP TABLE "kept_{dependent}"')


def _condition(column: str, allowed: Sequence[str]) -> str:
    return f"{column} IN ({', '.join(repr(value) for value in allowed)})"


def _refuse_unknown_states() -> None:
    """Raise :class:`UnknownState` naming every row (up to ``SHOWN``) whose state is not allowed."""
    connection = op.get_bind()
    found: list[str] = []
    for table, columns in STATES.items():
        for column, allowed in columns.items():
            rows = sa.table(table, sa.column('id'), sa.column(column))
            value = rows.c[column]
            query = sa.select(rows.c.id, value).where(sa.or_(value.is_(None), value.not_in(allowed)))
            found += [f"{table} row id {row_id}: {column} {state!r} is not one of {', '.join(allowed)}"
                      for row_id, state in connection.execute(query.order_by(rows.c.id))]
    if found:
        shown = "\n  ".join(found[:SHOWN]) + (f"\n  ... and {len(found) - SHOWN} more" if len(found) > SHOWN else "")
        raise UnknownState(f"Cannot migrate to 0008: {len(found)} row(s) hold an unknown state:\n  {shown}\n"
                           "Fix or delete these rows, then migrate again.")
