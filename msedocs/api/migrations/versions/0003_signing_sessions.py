"""two-step signing: a document prepared for a key held elsewhere, its data to sign, the result

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-07 07:00:00
"""

import sqlalchemy as sa
from alembic import op

from msedocs import tables

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "api_signing_sessions",
        sa.Column("id", sa.String(length=32), nullable=False),
        *tables.idempotency_columns(),
        sa.Column("state", sa.String(length=24), nullable=False),
        sa.Column("level", sa.String(length=8), nullable=False),
        sa.Column("role", sa.String(length=200), nullable=True),
        sa.Column("case_id", sa.String(length=200), nullable=True),
        sa.Column("document", sa.String(length=200), nullable=False),
        sa.Column("key_source", sa.String(length=16), nullable=False),
        sa.Column("csc_service", sa.String(length=500), nullable=True),
        sa.Column("csc_credential", sa.String(length=200), nullable=True),
        sa.Column("certificate", sa.LargeBinary(), nullable=False),
        sa.Column("chain", sa.Text(), nullable=False),
        sa.Column("prepared_sha256", sa.String(length=64), nullable=False),
        sa.Column("document_digest", sa.String(length=128), nullable=False),
        sa.Column("region_start", sa.BigInteger(), nullable=False),
        sa.Column("region_end", sa.BigInteger(), nullable=False),
        sa.Column("signed_attrs", sa.LargeBinary(), nullable=False),
        sa.Column("field_name", sa.String(length=100), nullable=False),
        tables.moment("signing_time", nullable=True),
        tables.moment("expires_at"),
        tables.moment("created_at"),
        tables.moment("completed_at", nullable=True),
        sa.Column("signature_sha256", sa.String(length=64), nullable=True),
        sa.Column("signed_sha256", sa.String(length=64), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_api_signing_sessions")),
        sa.UniqueConstraint("key_id", "idempotency_key", name=op.f("uq_api_signing_sessions_key_id_idempotency_key")),
    )


def downgrade() -> None:
    op.drop_table("api_signing_sessions")
