"""Plans wait for review: a run keeps its saved plan (sealed), the state it was made on, and when it expires.

Runs gain the review states (PLANNED, APPROVED, DISCARDED, EXPIRED, STALE) and deployments AWAITING_REVIEW; the
CHECK constraints of both status columns are widened accordingly. The values are written out here, not
imported: a migration keeps the schema of its own day.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-02
"""
from collections.abc import Iterator, Sequence
from contextlib import contextmanager

import sqlalchemy as sa
from alembic import op

revision = '0010'
down_revision = '0009'
branch_labels = None
depends_on = None

DEPLOYMENT_STATUSES = ('QUEUED', 'WORKING', 'SUCCESS', 'FAILURE', 'TIMEOUT', 'INTERNAL_ERROR', 'CANCELLED',
                       'DELETING', 'DELETED')
RUN_STATUSES = ('QUEUED', 'WORKING', 'SUCCESS', 'FAILURE', 'TIMEOUT', 'INTERNAL_ERROR', 'CANCELLED')
REVIEW_DEPLOYMENT = ('AWAITING_REVIEW',)
REVIEW_RUN = ('PLANNED', 'APPROVED', 'DISCARDED', 'EXPIRED', 'STALE')
CASCADING = ('deployment_runs', 'deploy_drafts')
"""The tables whose rows a rebuild of ``deployments`` on SQLite would delete (ON DELETE CASCADE)."""


@contextmanager
def _dependents_kept() -> Iterator[None]:
    """Put back the rows referencing ``deployments`` after SQLite rebuilt it.

    With foreign keys on, the rebuild's drop deletes them; ``storage.migrate`` turns them off, a bare Alembic run
    may not.
    """
    connection = op.get_bind()
    kept = CASCADING if connection.dialect.name == 'sqlite' else ()
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


def upgrade() -> None:
    with _dependents_kept(), op.batch_alter_table('deployments') as batch:
        batch.drop_constraint(op.f('ck_deployments_status'), type_='check')
        batch.create_check_constraint(op.f('ck_deployments_status'),
                                      _condition('status', DEPLOYMENT_STATUSES + REVIEW_DEPLOYMENT))
    with op.batch_alter_table('deployment_runs') as batch:
        batch.drop_constraint(op.f('ck_deployment_runs_status'), type_='check')
        batch.create_check_constraint(op.f('ck_deployment_runs_status'),
                                      _condition('status', RUN_STATUSES + REVIEW_RUN))
        batch.add_column(sa.Column('review', sa.Boolean(), nullable=False, server_default=sa.false()))
        batch.add_column(sa.Column('plan_secret_id', sa.Integer(), nullable=True))
        batch.add_column(sa.Column('state_serial', sa.Integer(), nullable=True))
        batch.add_column(sa.Column('state_lineage', sa.String(length=64), nullable=False, server_default=''))
        batch.add_column(sa.Column('expires_at', sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column('reviewed_by', sa.Integer(), nullable=True))
        batch.add_column(sa.Column('reviewed_at', sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column('resume_status', sa.String(length=20), nullable=True))
        batch.add_column(sa.Column('other_inputs', sa.JSON(), nullable=False, server_default='{}'))
        batch.add_column(sa.Column('other_secret_id', sa.Integer(), nullable=True))
        batch.create_check_constraint(op.f('ck_deployment_runs_resume_status'),
                                      _condition('resume_status', DEPLOYMENT_STATUSES + REVIEW_DEPLOYMENT))
        batch.create_foreign_key(op.f('fk_deployment_runs_plan_secret_id_stored_secrets'), 'stored_secrets',
                                 ['plan_secret_id'], ['id'], ondelete='SET NULL')
        batch.create_foreign_key(op.f('fk_deployment_runs_other_secret_id_stored_secrets'), 'stored_secrets',
                                 ['other_secret_id'], ['id'], ondelete='SET NULL')
        batch.create_foreign_key(op.f('fk_deployment_runs_reviewed_by_users'), 'users',
                                 ['reviewed_by'], ['id'], ondelete='SET NULL')
    with op.batch_alter_table('deployment_runs') as batch:
        batch.alter_column('review', server_default=None)
        batch.alter_column('state_lineage', server_default=None)
        batch.alter_column('other_inputs', server_default=None)


def downgrade() -> None:
    op.execute("DELETE FROM deployment_runs WHERE status IN ('PLANNED', 'APPROVED', 'DISCARDED', 'EXPIRED', "
               "'STALE')")
    op.execute("UPDATE deployments SET status = 'FAILURE' WHERE status = 'AWAITING_REVIEW'")
    with op.batch_alter_table('deployment_runs') as batch:
        batch.drop_constraint(op.f('fk_deployment_runs_reviewed_by_users'), type_='foreignkey')
        batch.drop_constraint(op.f('fk_deployment_runs_other_secret_id_stored_secrets'), type_='foreignkey')
        batch.drop_constraint(op.f('fk_deployment_runs_plan_secret_id_stored_secrets'), type_='foreignkey')
        batch.drop_constraint(op.f('ck_deployment_runs_resume_status'), type_='check')
        for column in ('other_secret_id', 'other_inputs', 'resume_status', 'reviewed_at', 'reviewed_by',
                       'expires_at', 'state_lineage', 'state_serial', 'plan_secret_id', 'review'):
            batch.drop_column(column)
        batch.drop_constraint(op.f('ck_deployment_runs_status'), type_='check')
        batch.create_check_constraint(op.f('ck_deployment_runs_status'), _condition('status', RUN_STATUSES))
    with _dependents_kept(), op.batch_alter_table('deployments') as batch:
        batch.drop_constraint(op.f('ck_deployments_status'), type_='check')
        batch.create_check_constraint(op.f('ck_deployments_status'), _condition('status', DEPLOYMENT_STATUSES))
