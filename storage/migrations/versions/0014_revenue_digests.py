"""Partner revenue: the partner a SPEND's share is owed to, kept on the row; revenue digest channels and periods.

``credit_transactions.partner_id`` is filled at SPEND time from then on; existing SPEND rows of partner modules
get their module's partner here (a module removed since cannot be attributed and stays unattributed).

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-02
"""
import sqlalchemy as sa
from alembic import op

revision = '0014'
down_revision = '0013'
branch_labels = None
depends_on = None

CADENCES = ('daily', 'weekly', 'monthly')
TARGET_STATUSES = ('active', 'broken', 'off')
POST_STATUSES = ('claimed', 'posted', 'abandoned')


def _state(values: tuple[str, ...], name: str) -> sa.Enum:
    return sa.Enum(*values, name=name, native_enum=False, create_constraint=True, length=10)


def upgrade() -> None:
    op.add_column('credit_transactions', sa.Column('partner_id', sa.Integer(), nullable=True))
    op.create_index('ix_credit_transactions_partner_id_created_at', 'credit_transactions',
                    ['partner_id', 'created_at'], unique=False)
    op.execute("UPDATE credit_transactions SET partner_id = (SELECT m.owner_id FROM modules m "
               "WHERE m.name = credit_transactions.module AND m.source = 'partner') WHERE kind = 'SPEND'")
    op.create_table('digest_targets',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('platform', sa.String(length=16), nullable=False),
    sa.Column('workspace', sa.String(length=64), nullable=False),
    sa.Column('channel', sa.String(length=64), nullable=False),
    sa.Column('cadence', _state(CADENCES, 'cadence'), nullable=False),
    sa.Column('status', _state(TARGET_STATUSES, 'status'), nullable=False),
    sa.Column('set_by_id', sa.Integer(), nullable=True),
    sa.Column('starts_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('broken_reason', sa.String(length=300), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['set_by_id'], ['users.id'], name=op.f('fk_digest_targets_set_by_id_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_digest_targets')),
    sa.UniqueConstraint('platform', 'workspace', 'channel', name=op.f('uq_digest_targets_platform'))
    )
    op.create_table('digest_posts',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('target_id', sa.Integer(), nullable=False),
    sa.Column('cadence', _state(CADENCES, 'cadence'), nullable=False),
    sa.Column('period_start', sa.DateTime(timezone=True), nullable=False),
    sa.Column('period_end', sa.DateTime(timezone=True), nullable=False),
    sa.Column('status', _state(POST_STATUSES, 'status'), nullable=False),
    sa.Column('late', sa.Boolean(), nullable=False),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('message', sa.String(length=64), nullable=False),
    sa.Column('claimed_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('posted_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['target_id'], ['digest_targets.id'], name=op.f('fk_digest_posts_target_id_digest_targets'),
                            ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_digest_posts')),
    sa.UniqueConstraint('target_id', 'period_start', name=op.f('uq_digest_posts_target_id'))
    )
    op.create_index('ix_digest_posts_status', 'digest_posts', ['status'], unique=False)


def downgrade() -> None:
    op.drop_index('ix_digest_posts_status', table_name='digest_posts')
    op.drop_table('digest_posts')
    op.drop_table('digest_targets')
    op.drop_index('ix_credit_transactions_partner_id_created_at', table_name='credit_transactions')
    with op.batch_alter_table('credit_transactions') as batch:
        batch.drop_column('partner_id')
