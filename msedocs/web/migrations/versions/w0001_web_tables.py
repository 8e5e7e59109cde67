"""the clerk's pages: users, sessions, failed sign-ins, access log, item events, print batches

Revision ID: w0001
Revises:
Create Date: 2026-12-07 10:00:00
"""

import sqlalchemy as sa
from alembic import op

revision = "w0001"
down_revision = None
branch_labels = None
depends_on = None

Id = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "web_users",
        sa.Column("id", Id, autoincrement=True, nullable=False),
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("full_name", sa.String(length=200), nullable=True),
        sa.Column("role", sa.String(length=16), nullable=False),
        sa.Column("password_hash", sa.String(length=255), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("last_login_at", sa.DateTime(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_web_users")),
        sa.UniqueConstraint("name", name=op.f("uq_web_users_name")),
    )
    op.create_table(
        "web_sessions",
        sa.Column("id_sha256", sa.String(length=64), nullable=False),
        sa.Column("user_id", Id, nullable=False),
        sa.Column("csrf", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("last_seen_at", sa.DateTime(), nullable=False),
        sa.Column("expires_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(["user_id"], ["web_users.id"], name=op.f("fk_web_sessions_user_id_web_users"),
                                ondelete="CASCADE"),  # fmt: skip
        sa.PrimaryKeyConstraint("id_sha256", name=op.f("pk_web_sessions")),
    )
    op.create_index(op.f("ix_web_sessions_user_id"), "web_sessions", ["user_id"])
    op.create_table(
        "web_login_failures",
        sa.Column("id", Id, autoincrement=True, nullable=False),
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_web_login_failures")),
    )
    op.create_index(op.f("ix_web_login_failures_name_at"), "web_login_failures", ["name", "at"])
    op.create_table(
        "web_access_log",
        sa.Column("id", Id, autoincrement=True, nullable=False),
        sa.Column("at", sa.DateTime(), nullable=False),
        sa.Column("user_id", Id, nullable=False),
        sa.Column("item_id", Id, nullable=False),
        sa.Column("action", sa.String(length=32), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_web_access_log")),
    )
    op.create_index(op.f("ix_web_access_log_item_id"), "web_access_log", ["item_id"])
    op.create_index(op.f("ix_web_access_log_at"), "web_access_log", ["at"])
    op.create_table(
        "web_item_events",
        sa.Column("id", Id, autoincrement=True, nullable=False),
        sa.Column("item_id", Id, nullable=False),
        sa.Column("at", sa.DateTime(), nullable=False),
        sa.Column("user_id", Id, nullable=False),
        sa.Column("action", sa.String(length=32), nullable=False),
        sa.Column("detail", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_web_item_events")),
    )
    op.create_index(op.f("ix_web_item_events_item_id"), "web_item_events", ["item_id"])
    op.create_table(
        "web_batches",
        sa.Column("id", Id, autoincrement=True, nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("user_id", Id, nullable=False),
        sa.Column("list_date", sa.String(length=10), nullable=False),
        sa.Column("lists", sa.String(length=200), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("pages", sa.Integer(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_web_batches")),
    )
    op.create_table(
        "web_batch_files",
        sa.Column("batch_id", Id, nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("media_type", sa.String(length=100), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("content", sa.LargeBinary(), nullable=False),
        sa.ForeignKeyConstraint(["batch_id"], ["web_batches.id"], name=op.f("fk_web_batch_files_batch_id_web_batches"),
                                ondelete="CASCADE"),  # fmt: skip
        sa.PrimaryKeyConstraint("batch_id", "name", name=op.f("pk_web_batch_files")),
    )
    op.create_table(
        "web_item_numbers",
        sa.Column("item_id", Id, nullable=False),
        sa.Column("numbers", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("item_id", name=op.f("pk_web_item_numbers")),
    )


def downgrade() -> None:
    for table in ("web_item_numbers", "web_batch_files", "web_batches", "web_item_events", "web_access_log",
                  "web_login_failures", "web_sessions", "web_users"):  # fmt: skip
        op.drop_table(table)
