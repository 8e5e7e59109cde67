"""Alembic environment of the HTTP service's tables: run by :func:`msedocs.api.store.migrate`
(its own chain and version table, so that it never meets the outbox's)."""

from msedocs.api.schema import metadata
from msedocs.tables import run_migrations

run_migrations(metadata, "api_alembic_version", "service")
