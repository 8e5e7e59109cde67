"""the sender of registered mail stored with each item (the case's bureau)

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-07 03:00:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Items queued before this revision keep no sender: the configured one (MSEDOCS_SENDER_*) is printed.
    op.add_column("outbox_items", sa.Column("sender", sa.Text(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("outbox_items") as batch:
        batch.drop_column("sender")
