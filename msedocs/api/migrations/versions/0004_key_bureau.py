"""a key's bureau: a key issued to a bureau of order 692n acts for it (was: a key named bureau:<id>)

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-07 14:00:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("api_keys") as batch:
        batch.add_column(sa.Column("bureau_id", sa.String(length=64), nullable=True))
    # the keys bound by their name until now keep their bureau
    keys = sa.table("api_keys", sa.column("name", sa.String), sa.column("bureau_id", sa.String))
    op.execute(keys.update().where(keys.c.name.like("bureau:_%")).values(bureau_id=sa.func.substr(keys.c.name, 8, 64)))


def downgrade() -> None:
    with op.batch_alter_table("api_keys") as batch:
        batch.drop_column("bureau_id")
