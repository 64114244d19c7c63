"""Indexes for the columns commands look rows up by, so lookups and lists stay fast at 150,000 deployments.

The hold key first (a deploy confirm looks its deployment up by it); a user's deployments newest first
(owner, id) and their successful ones (owner, status: dependencies); a user's unfinished form of a module;
users merged away; holders of a role; audit events of one action by time; invoices of a month; old drafts.

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-03
"""
from alembic import op

revision = '0015'
down_revision = '0014'
branch_labels = None
depends_on = None

INDEXES = (
    ('ix_deployments_hold_key', 'deployments', ['hold_key']),
    ('ix_deployments_owner_id_id', 'deployments', ['owner_id', 'id']),
    ('ix_deployments_owner_id_status', 'deployments', ['owner_id', 'status']),
    ('ix_deploy_drafts_user_id_module_id', 'deploy_drafts', ['user_id', 'module_id']),
    ('ix_deploy_drafts_created_at', 'deploy_drafts', ['created_at']),
    ('ix_publish_drafts_created_at', 'publish_drafts', ['created_at']),
    ('ix_users_merged_into_id', 'users', ['merged_into_id']),
    ('ix_user_roles_role', 'user_roles', ['role']),
    ('ix_audit_events_action_at', 'audit_events', ['action', 'at']),
    ('ix_invoices_month', 'invoices', ['month']),
)


def upgrade() -> None:
    op.drop_index('ix_deployments_owner_id', table_name='deployments')  # (owner_id, id) serves it
    for name, table, columns in INDEXES:
        op.create_index(name, table, columns, unique=False)


def downgrade() -> None:
    for name, table, _columns in reversed(INDEXES):
        op.drop_index(name, table_name=table)
    op.create_index('ix_deployments_owner_id', 'deployments', ['owner_id'], unique=False)
