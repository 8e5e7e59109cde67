"""referrals, vault, routing and audit tables (order 692n)

Revision ID: r0001
Revises:
Create Date: 2026-12-07 05:00:00
"""

from alembic import op

from msedocs.referrals.schema import metadata

revision = "r0001"
down_revision = None
branch_labels = ("referrals",)
depends_on = None

TABLES = ["routing_bureaus", "referrals", "vault_keys", "vault_values", "routing_log", "audit_log",
          "audit_checkpoints"]  # fmt: skip


def upgrade() -> None:
    bind = op.get_bind()
    for name in TABLES:
        metadata.tables[name].create(bind)


def downgrade() -> None:
    bind = op.get_bind()
    for name in reversed(TABLES):
        metadata.tables[name].drop(bind)
