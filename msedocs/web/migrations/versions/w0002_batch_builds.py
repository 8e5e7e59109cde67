"""print batches built in the background: the claim of the builder (token, lease, attempts), the
progress, and the duplex option

Revision ID: w0002
Revises: w0001
Create Date: 2026-12-07 14:30:00
"""

import sqlalchemy as sa
from alembic import op

revision = "w0002"
down_revision = "w0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("web_batches") as batch:
        batch.add_column(sa.Column("duplex", sa.Boolean(), nullable=True))
        batch.add_column(sa.Column("claim_token", sa.String(length=32), nullable=True))
        batch.add_column(sa.Column("lease_until", sa.DateTime(), nullable=True))
        batch.add_column(sa.Column("attempts", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("done", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("total", sa.Integer(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("web_batches") as batch:
        for name in ("total", "done", "attempts", "lease_until", "claim_token", "duplex"):
            batch.drop_column(name)
