"""Connections: encrypted secrets, repository and Jules connections, multi-step form drafts.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-21
"""
import sqlalchemy as sa
from alembic import op

revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('form_drafts',
    sa.Column('token', sa.String(length=32), nullable=False),
    sa.Column('owner', sa.String(length=120), nullable=False),
    sa.Column('payload', sa.JSON(), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('token', name=op.f('pk_form_drafts'))
    )
    with op.batch_alter_table('form_drafts', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_form_drafts_updated_at'), ['updated_at'], unique=False)

    op.create_table('stored_secrets',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('owner_id', sa.Integer(), nullable=True),
    sa.Column('kind', sa.String(length=32), nullable=False),
    sa.Column('ciphertext', sa.Text(), nullable=False),
    sa.Column('fingerprint', sa.String(length=12), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['owner_id'], ['users.id'], name=op.f('fk_stored_secrets_owner_id_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_stored_secrets'))
    )
    with op.batch_alter_table('stored_secrets', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_stored_secrets_owner_id'), ['owner_id'], unique=False)

    op.create_table('jules_connections',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('owner_id', sa.Integer(), nullable=False),
    sa.Column('key_secret_id', sa.Integer(), nullable=True),
    sa.Column('sources', sa.JSON(), nullable=False),
    sa.Column('checked_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['key_secret_id'], ['stored_secrets.id'], name=op.f('fk_jules_connections_key_secret_id_stored_secrets'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['owner_id'], ['users.id'], name=op.f('fk_jules_connections_owner_id_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_jules_connections')),
    sa.UniqueConstraint('owner_id', name=op.f('uq_jules_connections_owner_id'))
    )
    op.create_table('repo_connections',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('owner_key', sa.String(length=40), nullable=False),
    sa.Column('owner_id', sa.Integer(), nullable=True),
    sa.Column('provider', sa.String(length=16), nullable=False),
    sa.Column('full_name', sa.String(length=200), nullable=False),
    sa.Column('default_branch', sa.String(length=200), nullable=False),
    sa.Column('html_url', sa.String(length=500), nullable=False),
    sa.Column('token_secret_id', sa.Integer(), nullable=True),
    sa.Column('token_login', sa.String(length=100), nullable=False),
    sa.Column('token_kind', sa.String(length=16), nullable=False),
    sa.Column('token_scopes', sa.JSON(), nullable=False),
    sa.Column('token_checked_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('repo_checked_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('choices', sa.JSON(), nullable=False),
    sa.Column('choices_fetched_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['owner_id'], ['users.id'], name=op.f('fk_repo_connections_owner_id_users')),
    sa.ForeignKeyConstraint(['token_secret_id'], ['stored_secrets.id'], name=op.f('fk_repo_connections_token_secret_id_stored_secrets'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_repo_connections')),
    sa.UniqueConstraint('owner_key', name=op.f('uq_repo_connections_owner_key'))
    )
    with op.batch_alter_table('repo_connections', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_repo_connections_owner_id'), ['owner_id'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('repo_connections', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_repo_connections_owner_id'))

    op.drop_table('repo_connections')
    op.drop_table('jules_connections')
    with op.batch_alter_table('stored_secrets', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_stored_secrets_owner_id'))

    op.drop_table('stored_secrets')
    with op.batch_alter_table('form_drafts', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_form_drafts_updated_at'))

    op.drop_table('form_drafts')
