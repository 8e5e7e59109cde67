"""each statutory document of a case issued once

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-07 02:40:00
"""

import sqlalchemy as sa
from alembic import op

from msedocs import tables

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "outbox_issued",
        sa.Column("case_ref", sa.String(length=200), nullable=False),
        sa.Column("document", sa.String(length=255), nullable=False),
        tables.owner_id("item_id", "outbox_items"),
        sa.PrimaryKeyConstraint("case_ref", "document", name=op.f("pk_outbox_issued")),
    )
    op.create_index(op.f("ix_outbox_issued_item_id"), "outbox_issued", ["item_id"], unique=False)
    # Items queued before this revision: their documents count as issued (the earliest item wins).
    op.execute(
        """
        INSERT INTO outbox_issued (case_ref, document, item_id)
        SELECT i.case_ref, d.name, MIN(i.id)
        FROM outbox_items i JOIN outbox_documents d ON d.item_id = i.id
        WHERE d.role = 'electronic'
        GROUP BY i.case_ref, d.name
        """
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_outbox_issued_item_id"), table_name="outbox_issued")
    op.drop_table("outbox_issued")
