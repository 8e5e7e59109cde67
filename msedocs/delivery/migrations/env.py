"""Alembic environment of the outbox: run by :func:`msedocs.delivery.store.migrate`."""

from msedocs.delivery.schema import metadata
from msedocs.tables import run_migrations

run_migrations(metadata, "outbox_alembic_version", "outbox")
