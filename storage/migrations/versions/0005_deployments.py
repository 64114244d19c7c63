"""Deployments: deployments, their Terraform runs, and deploy form drafts.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-21
"""
import sqlalchemy as sa
from alembic import op

revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('deployments',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('short_id', sa.String(length=8), nullable=False),
    sa.Column('module_id', sa.Integer(), nullable=True),
    sa.Column('module_name', sa.String(length=100), nullable=False),
    sa.Column('owner_id', sa.Integer(), nullable=False),
    sa.Column('status', sa.String(length=20), nullable=False),
    sa.Column('action', sa.String(length=10), nullable=False),
    sa.Column('commit', sa.String(length=64), nullable=False),
    sa.Column('inputs', sa.JSON(), nullable=False),
    sa.Column('secret_inputs_id', sa.Integer(), nullable=True),
    sa.Column('outputs', sa.JSON(), nullable=False),
    sa.Column('credit_cost', sa.Numeric(precision=18, scale=4), nullable=False),
    sa.Column('hold_key', sa.String(length=100), nullable=False),
    sa.Column('charged', sa.Boolean(), nullable=False),
    sa.Column('rating', sa.Integer(), nullable=True),
    sa.Column('chat_platform', sa.String(length=16), nullable=False),
    sa.Column('chat_workspace', sa.String(length=64), nullable=False),
    sa.Column('chat_channel', sa.String(length=64), nullable=False),
    sa.Column('chat_thread', sa.String(length=64), nullable=False),
    sa.Column('chat_message', sa.String(length=64), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('deleted_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['module_id'], ['modules.id'], name=op.f('fk_deployments_module_id_modules'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['owner_id'], ['users.id'], name=op.f('fk_deployments_owner_id_users')),
    sa.ForeignKeyConstraint(['secret_inputs_id'], ['stored_secrets.id'], name=op.f('fk_deployments_secret_inputs_id_stored_secrets'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_deployments')),
    sa.UniqueConstraint('short_id', name=op.f('uq_deployments_short_id'))
    )
    with op.batch_alter_table('deployments', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_deployments_module_id'), ['module_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_deployments_owner_id'), ['owner_id'], unique=False)

    op.create_table('deploy_drafts',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('token', sa.String(length=32), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('module_id', sa.Integer(), nullable=True),
    sa.Column('deployment_id', sa.Integer(), nullable=True),
    sa.Column('commit', sa.String(length=64), nullable=False),
    sa.Column('step', sa.Integer(), nullable=False),
    sa.Column('values', sa.JSON(), nullable=False),
    sa.Column('secret_id', sa.Integer(), nullable=True),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['deployment_id'], ['deployments.id'], name=op.f('fk_deploy_drafts_deployment_id_deployments'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['module_id'], ['modules.id'], name=op.f('fk_deploy_drafts_module_id_modules'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['secret_id'], ['stored_secrets.id'], name=op.f('fk_deploy_drafts_secret_id_stored_secrets'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_deploy_drafts_user_id_users'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_deploy_drafts')),
    sa.UniqueConstraint('token', name=op.f('uq_deploy_drafts_token'))
    )
    op.create_table('deployment_runs',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('deployment_id', sa.Integer(), nullable=False),
    sa.Column('action', sa.String(length=10), nullable=False),
    sa.Column('status', sa.String(length=20), nullable=False),
    sa.Column('claimed_by', sa.String(length=100), nullable=False),
    sa.Column('heartbeat_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('started_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('finished_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('plan_summary', sa.String(length=200), nullable=False),
    sa.Column('error', sa.Text(), nullable=False),
    sa.Column('log', sa.Text(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['deployment_id'], ['deployments.id'], name=op.f('fk_deployment_runs_deployment_id_deployments'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_deployment_runs'))
    )
    with op.batch_alter_table('deployment_runs', schema=None) as batch_op:
        batch_op.create_index('ix_deployment_runs_claim', ['status', 'id'], unique=False)
        batch_op.create_index(batch_op.f('ix_deployment_runs_deployment_id'), ['deployment_id'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('deployment_runs', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_deployment_runs_deployment_id'))
        batch_op.drop_index('ix_deployment_runs_claim')

    op.drop_table('deployment_runs')
    op.drop_table('deploy_drafts')
    with op.batch_alter_table('deployments', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_deployments_owner_id'))
        batch_op.drop_index(batch_op.f('ix_deployments_module_id'))

    op.drop_table('deployments')
