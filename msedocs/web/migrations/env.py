"""Alembic environment of the clerk's pages. Run programmatically by
:func:`msedocs.web.store.migrate`: the caller passes an open connection in
``config.attributes["connection"]``. Its own chain and version table (``web_alembic_version``),
so that it never meets the outbox's or the service's."""

from __future__ import annotations

from alembic import context

from msedocs.web.schema import metadata

connection = context.config.attributes.get("connection")
if connection is None:  # pragma: no cover - only through msedocs.web.store.migrate
    raise RuntimeError("run the clerk pages' migrations through msedocs.web.store.migrate")

context.configure(
    connection=connection,
    target_metadata=metadata,
    render_as_batch=connection.dialect.name == "sqlite",
    version_table="web_alembic_version",
)
with context.begin_transaction():
    context.run_migrations()
