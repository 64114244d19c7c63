"""Catalog: parsed-file cache, repository scans, published modules, pins, publish drafts.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-21
"""
import sqlalchemy as sa
from alembic import op

revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('parsed_blobs',
    sa.Column('sha', sa.String(length=64), nullable=False),
    sa.Column('result', sa.JSON(), nullable=False),
    sa.Column('parsed_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('sha', name=op.f('pk_parsed_blobs'))
    )
    op.create_table('modules',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=100), nullable=False),
    sa.Column('source', sa.String(length=16), nullable=False),
    sa.Column('owner_id', sa.Integer(), nullable=True),
    sa.Column('repository', sa.String(length=300), nullable=False),
    sa.Column('commit', sa.String(length=64), nullable=False),
    sa.Column('description', sa.Text(), nullable=False),
    sa.Column('documentation', sa.String(length=500), nullable=False),
    sa.Column('credit_cost', sa.Numeric(precision=18, scale=4), nullable=False),
    sa.Column('require_credit_purchases', sa.Boolean(), nullable=False),
    sa.Column('public_access', sa.Boolean(), nullable=False),
    sa.Column('dependencies', sa.JSON(), nullable=False),
    sa.Column('spec', sa.JSON(), nullable=False),
    sa.Column('files', sa.JSON(), nullable=False),
    sa.Column('missing', sa.Boolean(), nullable=False),
    sa.Column('deployment_count', sa.Integer(), nullable=False),
    sa.Column('rating_sum', sa.Integer(), nullable=False),
    sa.Column('rating_count', sa.Integer(), nullable=False),
    sa.Column('published_by_id', sa.Integer(), nullable=True),
    sa.Column('published_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['owner_id'], ['users.id'], name=op.f('fk_modules_owner_id_users')),
    sa.ForeignKeyConstraint(['published_by_id'], ['users.id'], name=op.f('fk_modules_published_by_id_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_modules')),
    sa.UniqueConstraint('name', name=op.f('uq_modules_name'))
    )
    with op.batch_alter_table('modules', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_modules_owner_id'), ['owner_id'], unique=False)

    op.create_table('module_pins',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('module_id', sa.Integer(), nullable=False),
    sa.Column('pinned_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['module_id'], ['modules.id'], name=op.f('fk_module_pins_module_id_modules'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_module_pins_user_id_users'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_module_pins')),
    sa.UniqueConstraint('user_id', 'module_id', name=op.f('uq_module_pins_user_id'))
    )
    with op.batch_alter_table('module_pins', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_module_pins_module_id'), ['module_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_module_pins_user_id'), ['user_id'], unique=False)

    op.create_table('publish_drafts',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('token', sa.String(length=32), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('connection_id', sa.Integer(), nullable=False),
    sa.Column('commit', sa.String(length=64), nullable=False),
    sa.Column('selected', sa.JSON(), nullable=False),
    sa.Column('query', sa.String(length=100), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('result', sa.JSON(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['connection_id'], ['repo_connections.id'], name=op.f('fk_publish_drafts_connection_id_repo_connections'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_publish_drafts_user_id_users'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_publish_drafts')),
    sa.UniqueConstraint('token', name=op.f('uq_publish_drafts_token'))
    )
    op.create_table('repo_scans',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('connection_id', sa.Integer(), nullable=False),
    sa.Column('source', sa.String(length=300), nullable=False),
    sa.Column('commit', sa.String(length=64), nullable=False),
    sa.Column('ref_etag', sa.String(length=200), nullable=False),
    sa.Column('candidates', sa.JSON(), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('started_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('scanned_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('api_calls', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['connection_id'], ['repo_connections.id'], name=op.f('fk_repo_scans_connection_id_repo_connections'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_repo_scans')),
    sa.UniqueConstraint('connection_id', name=op.f('uq_repo_scans_connection_id'))
    )


def downgrade() -> None:
    op.drop_table('repo_scans')
    op.drop_table('publish_drafts')
    with op.batch_alter_table('module_pins', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_module_pins_user_id'))
        batch_op.drop_index(batch_op.f('ix_module_pins_module_id'))

    op.drop_table('module_pins')
    with op.batch_alter_table('modules', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_modules_owner_id'))

    op.drop_table('modules')
    op.drop_table('parsed_blobs')
