"""a job's batch: the render jobs of `msedocs batch submit` carry their batch id, each case of a batch once

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-07 17:30:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("api_jobs") as batch:
        batch.add_column(sa.Column("batch_id", sa.String(length=64), nullable=True))
    # a batch's jobs by its id (status, collect), and each case of a batch once, whoever submits it
    op.create_index("ix_api_jobs_batch_id_case_id", "api_jobs", ["batch_id", "case_id"], unique=True)


def downgrade() -> None:
    op.drop_index("ix_api_jobs_batch_id_case_id", table_name="api_jobs")
    with op.batch_alter_table("api_jobs") as batch:
        batch.drop_column("batch_id")
