"""Credit ledger: one account per user (awarded, purchased, held) and the append-only transactions.

Every SPEND or RELEASE settles one HOLD (unique ``hold_id``); every row has a unique idempotency ``key``.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-21
"""
import sqlalchemy as sa
from alembic import op

revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('credit_accounts',
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('awarded', sa.Numeric(precision=18, scale=4), nullable=False),
    sa.Column('purchased', sa.Numeric(precision=18, scale=4), nullable=False),
    sa.Column('held', sa.Numeric(precision=18, scale=4), nullable=False),
    sa.Column('held_purchased', sa.Numeric(precision=18, scale=4), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_credit_accounts_user_id_users')),
    sa.PrimaryKeyConstraint('user_id', name=op.f('pk_credit_accounts'))
    )
    op.create_table('credit_transactions',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('key', sa.String(length=200), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('amount', sa.Numeric(precision=18, scale=4), nullable=False),
    sa.Column('awarded_delta', sa.Numeric(precision=18, scale=4), nullable=False),
    sa.Column('purchased_delta', sa.Numeric(precision=18, scale=4), nullable=False),
    sa.Column('held_delta', sa.Numeric(precision=18, scale=4), nullable=False),
    sa.Column('purchased_only', sa.Boolean(), nullable=False),
    sa.Column('balance_after', sa.Numeric(precision=18, scale=4), nullable=False),
    sa.Column('hold_id', sa.Integer(), nullable=True),
    sa.Column('purchased_part', sa.Numeric(precision=18, scale=4), nullable=True),
    sa.Column('revenue_share_pct', sa.Numeric(precision=5, scale=2), nullable=True),
    sa.Column('deployment_ref', sa.String(length=64), nullable=True),
    sa.Column('module', sa.String(length=100), nullable=False),
    sa.Column('description', sa.String(length=500), nullable=False),
    sa.Column('actor_id', sa.Integer(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['actor_id'], ['users.id'], name=op.f('fk_credit_transactions_actor_id_users')),
    sa.ForeignKeyConstraint(['hold_id'], ['credit_transactions.id'], name=op.f('fk_credit_transactions_hold_id_credit_transactions')),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_credit_transactions_user_id_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_credit_transactions')),
    sa.UniqueConstraint('hold_id', name=op.f('uq_credit_transactions_hold_id')),
    sa.UniqueConstraint('key', name=op.f('uq_credit_transactions_key'))
    )
    with op.batch_alter_table('credit_transactions', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_credit_transactions_deployment_ref'), ['deployment_ref'], unique=False)
        batch_op.create_index('ix_credit_transactions_kind_created_at', ['kind', 'created_at'], unique=False)
        batch_op.create_index('ix_credit_transactions_user_id_id', ['user_id', 'id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('credit_transactions', schema=None) as batch_op:
        batch_op.drop_index('ix_credit_transactions_user_id_id')
        batch_op.drop_index('ix_credit_transactions_kind_created_at')
        batch_op.drop_index(batch_op.f('ix_credit_transactions_deployment_ref'))

    op.drop_table('credit_transactions')
    op.drop_table('credit_accounts')
