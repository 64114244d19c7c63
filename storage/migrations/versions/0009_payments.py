"""Payments: Stripe Checkout purchases, processed Stripe events, subscription tiers and subscriptions.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-02
"""
import sqlalchemy as sa
from alembic import op

revision = '0009'
down_revision = '0008'
branch_labels = None
depends_on = None

PURCHASE_STATUSES = ('creating', 'open', 'paid', 'expired', 'failed')
SUBSCRIPTION_STATUSES = ('pending', 'active', 'canceling', 'canceled')


def _check(table: str, allowed: tuple[str, ...]) -> sa.CheckConstraint:
    return sa.CheckConstraint(f"status IN ({', '.join(repr(v) for v in allowed)})", name=op.f(f'ck_{table}_status'))


def upgrade() -> None:
    op.create_table('stripe_events',
    sa.Column('event_id', sa.String(length=255), nullable=False),
    sa.Column('type', sa.String(length=100), nullable=False),
    sa.Column('outcome', sa.String(length=200), nullable=False),
    sa.Column('received_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('event_id', name=op.f('pk_stripe_events'))
    )
    op.create_table('subscription_tiers',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=60), nullable=False),
    sa.Column('price', sa.Numeric(precision=18, scale=2), nullable=False),
    sa.Column('currency', sa.String(length=3), nullable=False),
    sa.Column('credits', sa.Numeric(precision=18, scale=4), nullable=False),
    sa.Column('price_id', sa.String(length=255), nullable=False),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_subscription_tiers')),
    sa.UniqueConstraint('name', name=op.f('uq_subscription_tiers_name'))
    )
    op.create_table('purchases',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('key', sa.String(length=64), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('mode', sa.String(length=16), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('amount', sa.Numeric(precision=18, scale=2), nullable=False),
    sa.Column('currency', sa.String(length=3), nullable=False),
    sa.Column('credits', sa.Numeric(precision=18, scale=4), nullable=False),
    sa.Column('tier_id', sa.Integer(), nullable=True),
    sa.Column('session_id', sa.String(length=255), nullable=True),
    sa.Column('checkout_url', sa.String(length=2000), nullable=False),
    sa.Column('payment_intent', sa.String(length=255), nullable=True),
    sa.Column('refunded_credits', sa.Numeric(precision=18, scale=4), nullable=False),
    sa.Column('refunded_amount', sa.Numeric(precision=18, scale=2), nullable=False),
    sa.Column('failure', sa.String(length=200), nullable=False),
    sa.Column('chat_platform', sa.String(length=16), nullable=False),
    sa.Column('chat_workspace', sa.String(length=64), nullable=False),
    sa.Column('chat_channel', sa.String(length=64), nullable=False),
    sa.Column('chat_thread', sa.String(length=64), nullable=False),
    sa.Column('chat_message', sa.String(length=64), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['tier_id'], ['subscription_tiers.id'], name=op.f('fk_purchases_tier_id_subscription_tiers')),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_purchases_user_id_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_purchases')),
    sa.UniqueConstraint('key', name=op.f('uq_purchases_key')),
    sa.UniqueConstraint('session_id', name=op.f('uq_purchases_session_id')),
    _check('purchases', PURCHASE_STATUSES),
    )
    with op.batch_alter_table('purchases', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_purchases_payment_intent'), ['payment_intent'], unique=False)
        batch_op.create_index(batch_op.f('ix_purchases_user_id'), ['user_id'], unique=False)
    op.create_table('subscriptions',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('tier_id', sa.Integer(), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('stripe_subscription_id', sa.String(length=255), nullable=True),
    sa.Column('stripe_customer_id', sa.String(length=255), nullable=False),
    sa.Column('current_period_end', sa.DateTime(timezone=True), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['tier_id'], ['subscription_tiers.id'], name=op.f('fk_subscriptions_tier_id_subscription_tiers')),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_subscriptions_user_id_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_subscriptions')),
    sa.UniqueConstraint('stripe_subscription_id', name=op.f('uq_subscriptions_stripe_subscription_id')),
    sa.UniqueConstraint('user_id', name=op.f('uq_subscriptions_user_id')),
    _check('subscriptions', SUBSCRIPTION_STATUSES),
    )


def downgrade() -> None:
    op.drop_table('subscriptions')
    with op.batch_alter_table('purchases', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_purchases_user_id'))
        batch_op.drop_index(batch_op.f('ix_purchases_payment_intent'))
    op.drop_table('purchases')
    op.drop_table('subscription_tiers')
    op.drop_table('stripe_events')
