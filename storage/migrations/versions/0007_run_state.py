"""Deployments keep their Terraform state (sealed) and the module source pinned at confirm.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-01
"""
import sqlalchemy as sa
from alembic import op

revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('source_blobs',
    sa.Column('sha', sa.String(length=64), nullable=False),
    sa.Column('content', sa.LargeBinary(), nullable=False),
    sa.Column('stored_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('sha', name=op.f('pk_source_blobs'))
    )
    with op.batch_alter_table('deployments') as batch:
        batch.add_column(sa.Column('source_files', sa.JSON(), nullable=False, server_default='{}'))
        batch.add_column(sa.Column('source_platform', sa.Boolean(), nullable=False, server_default=sa.false()))
        batch.add_column(sa.Column('state_secret_id', sa.Integer(), nullable=True))
        batch.create_foreign_key(op.f('fk_deployments_state_secret_id_stored_secrets'), 'stored_secrets',
                                 ['state_secret_id'], ['id'], ondelete='SET NULL')
    # Deployments made before this revision run the files their module has now (the best that is known).
    op.execute("UPDATE deployments SET source_files = (SELECT modules.files FROM modules "
               "WHERE modules.id = deployments.module_id) WHERE module_id IS NOT NULL")
    op.execute("UPDATE deployments SET source_platform = (SELECT modules.source = 'platform' FROM modules "
               "WHERE modules.id = deployments.module_id) WHERE module_id IS NOT NULL")
    with op.batch_alter_table('deployments') as batch:
        batch.alter_column('source_files', server_default=None)
        batch.alter_column('source_platform', server_default=None)


def downgrade() -> None:
    with op.batch_alter_table('deployments') as batch:
        batch.drop_constraint(op.f('fk_deployments_state_secret_id_stored_secrets'), type_='foreignkey')
        batch.drop_column('state_secret_id')
        batch.drop_column('source_platform')
        batch.drop_column('source_files')
    op.drop_table('source_blobs')
