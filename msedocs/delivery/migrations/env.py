"""Alembic environment of the outbox. Run programmatically by :func:`msedocs.delivery.store.migrate`:
the caller passes an open connection in ``config.attributes["connection"]``."""

from __future__ import annotations

from alembic import context

from msedocs.delivery.schema import metadata

connection = context.config.attributes.get("connection")
if connection is None:  # pragma: no cover - only through msedocs.delivery.store.migrate
    raise RuntimeError("run outbox migrations through msedocs.delivery.store.migrate(url)")

context.configure(
    connection=connection,
    target_metadata=metadata,
    render_as_batch=connection.dialect.name == "sqlite",
    version_table="outbox_alembic_version",
)
with context.begin_transaction():
    context.run_migrations()
