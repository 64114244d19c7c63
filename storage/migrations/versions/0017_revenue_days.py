"""Partner revenue: the daily rollup of paying SPENDs (``revenue_days``), back-filled from the ledger.

One row per UTC day, module, partner (0: a platform module), snapshotted share in hundredths of a percent
(-1: none) and own-module flag, with the number of paying SPENDs, their purchased part in ten-thousandths of a
credit and the share units owed (purchased units times the share; 0 for a platform module, the partner's own
deployment or no share). Existing SPEND rows are summed here with the report's own expressions; new ones are
added in the transaction that writes them.

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-03
"""
import sqlalchemy as sa
from alembic import op

revision = '0017'
down_revision = '0016'
branch_labels = None
depends_on = None

BACKFILL = """
INSERT INTO revenue_days (day, module, partner_id, share_bp, own_module, deployments, purchased_units, share_units)
SELECT {day}, module, COALESCE(partner_id, 0), COALESCE(CAST(ROUND(revenue_share_pct * 100) AS INTEGER), -1),
       CASE WHEN partner_id IS NOT NULL AND user_id = partner_id THEN {true} ELSE {false} END,
       COUNT(id), SUM(CAST(ROUND(purchased_part * 10000) AS BIGINT)),
       SUM(CASE WHEN partner_id IS NOT NULL AND user_id != partner_id AND revenue_share_pct IS NOT NULL
                THEN CAST(ROUND(purchased_part * 10000 * revenue_share_pct * 100) AS BIGINT) ELSE 0 END)
FROM credit_transactions
WHERE kind = 'SPEND' AND purchased_part > 0
GROUP BY 1, 2, 3, 4, 5
"""


def upgrade() -> None:
    op.create_table('revenue_days',
    sa.Column('day', sa.Date(), nullable=False),
    sa.Column('module', sa.String(length=100), nullable=False),
    sa.Column('partner_id', sa.Integer(), nullable=False),
    sa.Column('share_bp', sa.Integer(), nullable=False),
    sa.Column('own_module', sa.Boolean(), nullable=False),
    sa.Column('deployments', sa.Integer(), nullable=False),
    sa.Column('purchased_units', sa.BigInteger(), nullable=False),
    sa.Column('share_units', sa.BigInteger(), nullable=False),
    sa.PrimaryKeyConstraint('day', 'module', 'partner_id', 'share_bp', 'own_module', name=op.f('pk_revenue_days'))
    )
    op.create_index('ix_revenue_days_partner_id_day', 'revenue_days', ['partner_id', 'day'], unique=False)
    postgres = op.get_bind().dialect.name == 'postgresql'
    op.execute(BACKFILL.format(day="CAST(timezone('UTC', created_at) AS DATE)" if postgres else "date(created_at)",
                               true="true" if postgres else "1", false="false" if postgres else "0"))


def downgrade() -> None:
    op.drop_index('ix_revenue_days_partner_id_day', table_name='revenue_days')
    op.drop_table('revenue_days')
