"""Alembic environment of the referrals store: run by :func:`msedocs.referrals.store.migrate`."""

from msedocs.referrals.schema import metadata
from msedocs.tables import run_migrations

run_migrations(metadata, "referrals_alembic_version", "referrals store")
