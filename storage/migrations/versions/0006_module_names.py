"""Module names: a unique case-insensitive key (``_`` read as ``-``), filled for the modules already published.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-01
"""
import sqlalchemy as sa
from alembic import op

revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None

_MODULES = sa.table('modules', sa.column('id', sa.Integer()), sa.column('name', sa.String()),
                    sa.column('name_key', sa.String()))


def _key(name: str) -> str:
    """The key as ``Module.key_for`` makes it (copied: a migration never changes with the code)."""
    return name.strip().lower().replace('_', '-')


def upgrade() -> None:
    with op.batch_alter_table('modules', schema=None) as batch_op:
        batch_op.add_column(sa.Column('name_key', sa.String(length=100), nullable=True))

    # Fill the key; of two published look-alikes the older keeps it and the other gets a key no name can have.
    bind = op.get_bind()
    taken: set[str] = set()
    for module_id, name in bind.execute(sa.select(_MODULES.c.id, _MODULES.c.name).order_by(_MODULES.c.id)).all():
        key = _key(name)[:100]
        if key in taken:
            key = f'{key[:80]}~{module_id}'
        taken.add(key)
        bind.execute(_MODULES.update().where(_MODULES.c.id == module_id).values(name_key=key))

    with op.batch_alter_table('modules', schema=None) as batch_op:
        batch_op.alter_column('name_key', existing_type=sa.String(length=100), nullable=False)
        batch_op.create_index(batch_op.f('ix_modules_name_key'), ['name_key'], unique=True)


def downgrade() -> None:
    with op.batch_alter_table('modules', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_modules_name_key'))
        batch_op.drop_column('name_key')
