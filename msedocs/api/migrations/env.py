"""Alembic environment of the HTTP service's tables. Run programmatically by
:func:`msedocs.api.store.migrate`: the caller passes an open connection in
``config.attributes["connection"]``. Its own chain and version table (``api_alembic_version``),
so that it never meets the outbox's."""

from __future__ import annotations

from alembic import context

from msedocs.api.schema import metadata

connection = context.config.attributes.get("connection")
if connection is None:  # pragma: no cover - only through msedocs.api.store.migrate
    raise RuntimeError("run the service's migrations through msedocs.api.store.migrate")

context.configure(
    connection=connection,
    target_metadata=metadata,
    render_as_batch=connection.dialect.name == "sqlite",
    version_table="api_alembic_version",
)
with context.begin_transaction():
    context.run_migrations()
