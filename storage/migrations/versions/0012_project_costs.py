"""Project costs: billing-export imports and rows, recurring cost debits (claimed once per period), invoices.

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-02
"""
import sqlalchemy as sa
from alembic import op

revision = '0012'
down_revision = '0011'
branch_labels = None
depends_on = None

DEBIT_STATUSES = ('debited', 'short')


def upgrade() -> None:
    op.create_table('cost_imports',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('source', sa.String(length=500), nullable=False),
    sa.Column('digest', sa.String(length=64), nullable=False),
    sa.Column('name', sa.String(length=300), nullable=False),
    sa.Column('rows', sa.Integer(), nullable=False),
    sa.Column('duplicates', sa.Integer(), nullable=False),
    sa.Column('watermark', sa.DateTime(timezone=True), nullable=True),
    sa.Column('imported_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_cost_imports')),
    sa.UniqueConstraint('source', 'digest', name=op.f('uq_cost_imports_source'))
    )
    op.create_table('cost_debit_periods',
    sa.Column('period', sa.String(length=40), nullable=False),
    sa.Column('claimed_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('debits', sa.Integer(), nullable=False),
    sa.PrimaryKeyConstraint('period', name=op.f('pk_cost_debit_periods'))
    )
    op.create_table('cost_debits',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('period', sa.String(length=40), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('status', sa.Enum(*DEBIT_STATUSES, name='status', native_enum=False, create_constraint=True,
                                length=16), nullable=False),
    sa.Column('net_nanos', sa.BigInteger(), nullable=False),
    sa.Column('currency', sa.String(length=3), nullable=False),
    sa.Column('rate', sa.Numeric(precision=18, scale=2), nullable=False),
    sa.Column('credits', sa.Numeric(precision=18, scale=4), nullable=False),
    sa.Column('transaction_id', sa.Integer(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['transaction_id'], ['credit_transactions.id'],
                            name=op.f('fk_cost_debits_transaction_id_credit_transactions')),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_cost_debits_user_id_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_cost_debits')),
    sa.UniqueConstraint('period', 'user_id', name=op.f('uq_cost_debits_period'))
    )
    op.create_index(op.f('ix_cost_debits_user_id'), 'cost_debits', ['user_id'], unique=False)
    op.create_table('cost_rows',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('row_key', sa.LargeBinary(length=32), nullable=False),
    sa.Column('import_id', sa.Integer(), nullable=False),
    sa.Column('billing_account', sa.String(length=64), nullable=False),
    sa.Column('service', sa.String(length=200), nullable=False),
    sa.Column('sku', sa.String(length=300), nullable=False),
    sa.Column('usage_start', sa.DateTime(timezone=True), nullable=False),
    sa.Column('usage_end', sa.DateTime(timezone=True), nullable=False),
    sa.Column('project_id', sa.String(length=100), nullable=False),
    sa.Column('project_name', sa.String(length=200), nullable=False),
    sa.Column('label_deployment', sa.String(length=64), nullable=False),
    sa.Column('cost_nanos', sa.BigInteger(), nullable=False),
    sa.Column('credits_nanos', sa.BigInteger(), nullable=False),
    sa.Column('currency', sa.String(length=3), nullable=False),
    sa.Column('invoice_month', sa.String(length=6), nullable=False),
    sa.Column('deployment_id', sa.Integer(), nullable=True),
    sa.Column('user_id', sa.Integer(), nullable=True),
    sa.Column('debit_id', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['debit_id'], ['cost_debits.id'], name=op.f('fk_cost_rows_debit_id_cost_debits')),
    sa.ForeignKeyConstraint(['deployment_id'], ['deployments.id'],
                            name=op.f('fk_cost_rows_deployment_id_deployments'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_cost_rows_user_id_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_cost_rows')),
    sa.UniqueConstraint('row_key', name=op.f('uq_cost_rows_row_key'))
    )
    op.create_index('ix_cost_rows_user_id_usage_start', 'cost_rows', ['user_id', 'usage_start'], unique=False)
    op.create_index('ix_cost_rows_deployment_id_usage_start', 'cost_rows', ['deployment_id', 'usage_start'],
                    unique=False)
    op.create_index('ix_cost_rows_invoice_month_user_id', 'cost_rows', ['invoice_month', 'user_id'], unique=False)
    op.create_table('invoices',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('number', sa.String(length=32), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('month', sa.String(length=7), nullable=False),
    sa.Column('issued_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_invoices_user_id_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_invoices')),
    sa.UniqueConstraint('number', name=op.f('uq_invoices_number')),
    sa.UniqueConstraint('user_id', 'month', name=op.f('uq_invoices_user_id'))
    )


def downgrade() -> None:
    op.drop_table('invoices')
    op.drop_table('cost_rows')
    op.drop_table('cost_debits')
    op.drop_table('cost_debit_periods')
    op.drop_table('cost_imports')
