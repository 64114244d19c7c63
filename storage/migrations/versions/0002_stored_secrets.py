"""Stored secrets: encrypted GitHub tokens and Jules keys.

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



def downgrade() -> None:
    with op.batch_alter_table('stored_secrets', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_stored_secrets_owner_id'))

    op.drop_table('stored_secrets')
