"""callbacks: a job's callback_url, a key's callback secret, the callbacks to send

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-07 06:00:00
"""

import sqlalchemy as sa
from alembic import op

from msedocs import tables

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("api_jobs") as batch:
        batch.add_column(sa.Column("callback_url", sa.String(length=2000), nullable=True))
    with op.batch_alter_table("api_keys") as batch:
        batch.add_column(sa.Column("callback_secret", sa.String(length=100), nullable=True))
    op.create_table(
        "api_callbacks",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("job_id", sa.String(length=32), nullable=False),
        sa.Column("key_id", sa.String(length=16), nullable=False),
        sa.Column("url", sa.String(length=2000), nullable=False),
        sa.Column("event", sa.String(length=32), nullable=False),
        sa.Column("payload", sa.Text(), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        *tables.retry_columns(),
        sa.Column("last_status", sa.Integer(), nullable=True),
        sa.Column("last_error", sa.String(length=200), nullable=True),
        tables.moment("created_at"),
        tables.moment("delivered_at", nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_api_callbacks")),
    )
    op.create_index("ix_api_callbacks_state_next_attempt_at", "api_callbacks", ["state", "next_attempt_at"])
    op.create_index("ix_api_callbacks_job_id", "api_callbacks", ["job_id"])


def downgrade() -> None:
    op.drop_index("ix_api_callbacks_job_id", table_name="api_callbacks")
    op.drop_index("ix_api_callbacks_state_next_attempt_at", table_name="api_callbacks")
    op.drop_table("api_callbacks")
    with op.batch_alter_table("api_keys") as batch:
        batch.drop_column("callback_secret")
    with op.batch_alter_table("api_jobs") as batch:
        batch.drop_column("callback_url")
