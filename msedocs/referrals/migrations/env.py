"""Alembic environment of the referrals store: run through :func:`msedocs.referrals.store.migrate`."""

from __future__ import annotations

from alembic import context

from msedocs.referrals.schema import metadata

connection = context.config.attributes.get("connection")
if connection is None:  # pragma: no cover
    raise RuntimeError("run referral migrations through msedocs.referrals.store.migrate")

context.configure(
    connection=connection,
    target_metadata=metadata,
    render_as_batch=connection.dialect.name == "sqlite",
    version_table="referrals_alembic_version",
)
with context.begin_transaction():
    context.run_migrations()
