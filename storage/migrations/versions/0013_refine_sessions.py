"""Refine sessions: Jules sessions on a module, talked to in a chat thread, and the collaborators who may approve.

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-02
"""
import sqlalchemy as sa
from alembic import op

revision = '0013'
down_revision = '0012'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('refine_collaborators',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('module_id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('added_by', sa.Integer(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['added_by'], ['users.id'], name=op.f('fk_refine_collaborators_added_by_users')),
    sa.ForeignKeyConstraint(['module_id'], ['modules.id'], name=op.f('fk_refine_collaborators_module_id_modules'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_refine_collaborators_user_id_users'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_refine_collaborators')),
    sa.UniqueConstraint('module_id', 'user_id', name=op.f('uq_refine_collaborators_module_id'))
    )
    with op.batch_alter_table('refine_collaborators', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_refine_collaborators_module_id'), ['module_id'], unique=False)

    op.create_table('refine_sessions',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('module_id', sa.Integer(), nullable=False),
    sa.Column('module_name', sa.String(length=100), nullable=False),
    sa.Column('owner_id', sa.Integer(), nullable=False),
    sa.Column('live_module_id', sa.Integer(), nullable=True),
    sa.Column('status', sa.Enum('starting', 'active', 'ended', 'failed', name='status', native_enum=False, create_constraint=True, length=16), nullable=False),
    sa.Column('jules_session', sa.String(length=64), nullable=False),
    sa.Column('jules_url', sa.String(length=300), nullable=False),
    sa.Column('jules_state', sa.String(length=40), nullable=False),
    sa.Column('source', sa.String(length=300), nullable=False),
    sa.Column('branch', sa.String(length=200), nullable=False),
    sa.Column('chat_platform', sa.String(length=16), nullable=False),
    sa.Column('chat_workspace', sa.String(length=64), nullable=False),
    sa.Column('chat_channel', sa.String(length=64), nullable=False),
    sa.Column('chat_thread', sa.String(length=64), nullable=False),
    sa.Column('status_message', sa.String(length=64), nullable=False),
    sa.Column('cursor', sa.String(length=40), nullable=False),
    sa.Column('next_poll_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('poll_seconds', sa.Integer(), nullable=False),
    sa.Column('failures', sa.Integer(), nullable=False),
    sa.Column('pending', sa.JSON(), nullable=False),
    sa.Column('plan_id', sa.String(length=64), nullable=False),
    sa.Column('plan_steps', sa.Text(), nullable=False),
    sa.Column('plan_decision', sa.Enum('pending', 'approved', 'changes', 'merged', 'closed', name='plan_decision', native_enum=False, create_constraint=True, length=16), nullable=True),
    sa.Column('plan_decided_by', sa.Integer(), nullable=True),
    sa.Column('plan_decided_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('pr_url', sa.String(length=500), nullable=False),
    sa.Column('pr_title', sa.String(length=300), nullable=False),
    sa.Column('pr_summary', sa.Text(), nullable=False),
    sa.Column('pr_decision', sa.Enum('pending', 'approved', 'changes', 'merged', 'closed', name='pr_decision', native_enum=False, create_constraint=True, length=16), nullable=True),
    sa.Column('pr_decided_by', sa.Integer(), nullable=True),
    sa.Column('pr_decided_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('ended_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('end_note', sa.String(length=300), nullable=False),
    sa.ForeignKeyConstraint(['module_id'], ['modules.id'], name=op.f('fk_refine_sessions_module_id_modules'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['owner_id'], ['users.id'], name=op.f('fk_refine_sessions_owner_id_users')),
    sa.ForeignKeyConstraint(['plan_decided_by'], ['users.id'], name=op.f('fk_refine_sessions_plan_decided_by_users')),
    sa.ForeignKeyConstraint(['pr_decided_by'], ['users.id'], name=op.f('fk_refine_sessions_pr_decided_by_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_refine_sessions')),
    sa.UniqueConstraint('live_module_id', name=op.f('uq_refine_sessions_live_module_id'))
    )
    with op.batch_alter_table('refine_sessions', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_refine_sessions_module_id'), ['module_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_refine_sessions_next_poll_at'), ['next_poll_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_refine_sessions_owner_id'), ['owner_id'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('refine_sessions', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_refine_sessions_owner_id'))
        batch_op.drop_index(batch_op.f('ix_refine_sessions_next_poll_at'))
        batch_op.drop_index(batch_op.f('ix_refine_sessions_module_id'))

    op.drop_table('refine_sessions')
    with op.batch_alter_table('refine_collaborators', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_refine_collaborators_module_id'))

    op.drop_table('refine_collaborators')
