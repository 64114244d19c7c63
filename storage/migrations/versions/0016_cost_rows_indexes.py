"""Cost rows keep only the indexes their own kind is looked up by: an import maintains fewer per row.

Attributed rows are read by user (reports, invoices, debits) and by deployment (its cost to date); unattributed
rows only by period (finance's list of what matched no deployment). Each index now covers one kind, so a row
maintains the by-user and by-deployment indexes only when it has a user and a deployment, and the
unattributed one only when it has none. The content key is unique with the usage start first, so an export,
which comes in time order, adds its keys at the newest end of the index rather than at random places.

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-03
"""
import sqlalchemy as sa
from alembic import op

revision = '0016'
down_revision = '0015'
branch_labels = None
depends_on = None

PARTIAL = (
    ('ix_cost_rows_user_id_usage_start', ['user_id', 'usage_start'], 'user_id IS NOT NULL'),
    ('ix_cost_rows_deployment_id_usage_start', ['deployment_id', 'usage_start'], 'deployment_id IS NOT NULL'),
    ('ix_cost_rows_invoice_month_user_id', ['invoice_month', 'user_id'], 'user_id IS NOT NULL'),
    ('ix_cost_rows_unattributed_usage_start', ['usage_start'], 'deployment_id IS NULL'),
)


def upgrade() -> None:
    with op.batch_alter_table('cost_rows') as batch:
        batch.drop_constraint('uq_cost_rows_row_key', type_='unique')
        batch.create_unique_constraint('uq_cost_rows_usage_start_row_key', ['usage_start', 'row_key'])
    for name, columns, where in PARTIAL:
        if name != 'ix_cost_rows_unattributed_usage_start':
            op.drop_index(name, table_name='cost_rows')
        op.create_index(name, 'cost_rows', columns, postgresql_where=sa.text(where), sqlite_where=sa.text(where))


def downgrade() -> None:
    for name, columns, _where in PARTIAL:
        op.drop_index(name, table_name='cost_rows')
        if name != 'ix_cost_rows_unattributed_usage_start':
            op.create_index(name, 'cost_rows', columns)
    with op.batch_alter_table('cost_rows') as batch:
        batch.drop_constraint('uq_cost_rows_usage_start_row_key', type_='unique')
        batch.create_unique_constraint('uq_cost_rows_row_key', ['row_key'])
