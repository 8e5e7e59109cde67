"""the HTTP service's tables: keys, jobs, outputs, blobs, idempotency keys, issued documents

Revision ID: 0001
Revises:
Create Date: 2026-12-01 10:00:00
"""

import sqlalchemy as sa
from alembic import op

from msedocs import tables

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "api_keys",
        sa.Column("id", sa.String(length=16), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("token_sha256", sa.String(length=64), nullable=False),
        sa.Column("scopes", sa.String(length=200), nullable=False),
        tables.moment("created_at"),
        tables.moment("revoked_at", nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_api_keys")),
    )
    op.create_table(
        "api_jobs",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("key_id", sa.String(length=16), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("respond_async", sa.Boolean(), nullable=False),
        sa.Column("request", sa.LargeBinary(), nullable=False),
        sa.Column("case_id", sa.String(length=200), nullable=True),
        sa.Column("progress", sa.Integer(), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("claimed_by", sa.String(length=100), nullable=True),
        sa.Column("claim_token", sa.String(length=32), nullable=True),
        tables.moment("lease_until", nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("manifest", sa.Text(), nullable=True),
        tables.moment("created_at"),
        tables.moment("updated_at"),
        tables.moment("started_at", nullable=True),
        tables.moment("finished_at", nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_api_jobs")),
    )
    op.create_index("ix_api_jobs_state_created_at", "api_jobs", ["state", "created_at"], unique=False)
    op.create_table(
        "api_outputs",
        sa.Column("job_id", sa.String(length=32), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("media_type", sa.String(length=100), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("job_id", "name", name=op.f("pk_api_outputs")),
    )
    op.create_table("api_blobs", *tables.blob_columns())
    op.create_table(
        "api_idempotency",
        *tables.idempotency_columns(),
        sa.Column("job_id", sa.String(length=32), nullable=False),
        tables.moment("created_at"),
        sa.PrimaryKeyConstraint("key_id", "idempotency_key", name=op.f("pk_api_idempotency")),
    )
    op.create_table(
        "api_issued",
        sa.Column("case_id", sa.String(length=200), nullable=False),
        sa.Column("document", sa.String(length=200), nullable=False),
        sa.Column("job_id", sa.String(length=32), nullable=False),
        tables.moment("issued_at"),
        sa.PrimaryKeyConstraint("case_id", "document", name=op.f("pk_api_issued")),
    )
    op.create_index("ix_api_issued_job_id", "api_issued", ["job_id"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_api_issued_job_id", table_name="api_issued")
    op.drop_table("api_issued")
    op.drop_table("api_idempotency")
    op.drop_table("api_blobs")
    op.drop_table("api_outputs")
    op.drop_index("ix_api_jobs_state_created_at", table_name="api_jobs")
    op.drop_table("api_jobs")
    op.drop_table("api_keys")
