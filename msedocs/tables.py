"""What the stores' tables share: the outbox (``msedocs.delivery``), the service (``msedocs.api``)
and the referrals (``msedocs.referrals``) each keep their tables in one database, under their own
names and their own Alembic chain and version table, declared the same way.

Each store's ``schema.py`` makes its :class:`~sqlalchemy.MetaData` with :func:`metadata`, and its
``migrations/env.py`` is two lines: :func:`run_migrations` with that metadata and version table.
"""

from __future__ import annotations

from sqlalchemy import BigInteger, Integer, MetaData

#: Constraint and index names, the same in every store (Alembic's batch mode on SQLite needs names).
NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

#: A row id: BigInteger on PostgreSQL, INTEGER (the rowid alias) on SQLite.
Id = BigInteger().with_variant(Integer(), "sqlite")


def metadata() -> MetaData:
    """A store's metadata, with the shared naming convention."""
    return MetaData(naming_convention=NAMING_CONVENTION)


def run_migrations(target: MetaData, version_table: str, store: str) -> None:
    """The body of a store's Alembic ``env.py``: its migrations run on the connection the
    store's ``migrate`` passes in ``config.attributes["connection"]``, never on their own."""
    from alembic import context

    connection = context.config.attributes.get("connection")
    if connection is None:  # pragma: no cover - only through the store's migrate()
        raise RuntimeError(f"run the {store}'s migrations through its store's migrate()")
    context.configure(
        connection=connection,
        target_metadata=target,
        render_as_batch=connection.dialect.name == "sqlite",
        version_table=version_table,
    )
    with context.begin_transaction():
        context.run_migrations()
