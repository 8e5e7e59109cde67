"""Alembic environment of the clerk's pages (``web_alembic_version``), run only through
:func:`msedocs.web.store.migrate`."""

from msedocs.tables import run_migrations
from msedocs.web.schema import metadata

run_migrations(metadata, "web_alembic_version", "clerk pages")
