"""Jobs are looked up by kind and status (a pending chat post, a low-balance notice, a relay's failed posts).

Revision ID: 0019
Revises: 0018
Create Date: 2026-12-03
"""
from alembic import op

revision = '0019'
down_revision = '0018'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index('ix_jobs_kind_status', 'jobs', ['kind', 'status'], unique=False)


def downgrade() -> None:
    op.drop_index('ix_jobs_kind_status', table_name='jobs')
