"""Home tabs: the chat identities that opened the bot's Home tab (republished when what it shows changes).

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-02
"""
import sqlalchemy as sa
from alembic import op

revision = '0011'
down_revision = '0010'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('home_tabs',
    sa.Column('identity_id', sa.Integer(), nullable=False),
    sa.Column('opened_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['identity_id'], ['chat_identities.id'],
                            name=op.f('fk_home_tabs_identity_id_chat_identities'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('identity_id', name=op.f('pk_home_tabs'))
    )


def downgrade() -> None:
    op.drop_table('home_tabs')
