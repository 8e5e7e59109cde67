"""print batches built in the background: the claim of the builder (token, lease, attempts), the
progress, and the duplex option; the administrators' actions on users

Revision ID: w0002
Revises: w0001
Create Date: 2026-12-07 14:30:00
"""

from typing import Any

import sqlalchemy as sa
from alembic import op

revision = "w0002"
down_revision = "w0001"
branch_labels = None
depends_on = None

Id = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    with op.batch_alter_table("web_batches") as batch:
        batch.add_column(sa.Column("duplex", sa.Boolean(), nullable=True))
        batch.add_column(sa.Column("claim_token", sa.String(length=32), nullable=True))
        batch.add_column(sa.Column("lease_until", sa.DateTime(), nullable=True))
        batch.add_column(sa.Column("attempts", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("done", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("total", sa.Integer(), nullable=True))
    required: dict[str, Any] = {"at": sa.DateTime(), "user_id": Id, "action": sa.String(length=32),
                                "subject": sa.String(length=64), "detail": sa.String(length=200)}  # fmt: skip
    op.create_table(
        "web_admin_log",
        sa.Column("id", Id, autoincrement=True, nullable=False),
        *(sa.Column(name, kind, nullable=False) for name, kind in required.items()),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_web_admin_log")),
    )
    op.create_index(op.f("ix_web_admin_log_at"), "web_admin_log", ["at"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_web_admin_log_at"), table_name="web_admin_log")
    op.drop_table("web_admin_log")
    with op.batch_alter_table("web_batches") as batch:
        for name in ("total", "done", "attempts", "lease_until", "claim_token", "duplex"):
            batch.drop_column(name)
