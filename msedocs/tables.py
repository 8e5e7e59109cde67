"""What the stores' tables share: the outbox (``msedocs.delivery``), the service (``msedocs.api``)
and the referrals (``msedocs.referrals``) each keep their tables in one database, under their own
names and their own Alembic chain and version table, declared the same way.

Each store's ``schema.py`` makes its :class:`~sqlalchemy.MetaData` with :func:`metadata`, its
``migrations/env.py`` is two lines: :func:`run_migrations` with that metadata and version table,
and its ``migrate`` is :func:`upgrade` with its own advisory lock, checked by :func:`schema_version`.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from sqlalchemy import (
    BigInteger,
    Column,
    DateTime,
    Engine,
    ForeignKey,
    Integer,
    LargeBinary,
    MetaData,
    String,
    exc,
    text,
)

#: Constraint and index names, the same in every store (Alembic's batch mode on SQLite needs names).
NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

#: A row id: BigInteger on PostgreSQL, INTEGER (the rowid alias) on SQLite.
Id = BigInteger().with_variant(Integer(), "sqlite")


# Column groups that several tables hold alike, in the stores' schemas and in the released
# revisions that created them: a group is never changed (that would change what an old revision
# does, see tests/test_migration_effects.py); a table that needs another shape gets a new revision.


def moment(name: str, *, nullable: bool = False) -> Column:
    """A moment, kept as naive UTC (a response gives it its zone); required unless ``nullable``."""
    return Column(name, DateTime, nullable=nullable)


def row_id(name: str = "id") -> Column:
    """A row's id, given by the database (:data:`Id`)."""
    return Column(name, Id, primary_key=True, autoincrement=True)


def owner_id(name: str, owner: str) -> Column:
    """The id of the row of table ``owner`` that a row belongs to: required, and the row is
    deleted with it."""
    return Column(name, Id, ForeignKey(f"{owner}.id", ondelete="CASCADE"), nullable=False)


def blob_columns() -> list[Column]:
    """A content-addressed file: ``sha256`` (the key), ``size``, ``content``."""
    return [
        Column("sha256", String(64), primary_key=True),
        Column("size", BigInteger, nullable=False),
        Column("content", LargeBinary, nullable=False),
    ]


def retry_columns() -> list[Column]:
    """What a worker needs to send something again until it is sent: ``attempts`` made, when the
    next one is due, and the lease of the worker holding it (``claimed_by``, ``lease_until``)."""
    return [
        Column("attempts", Integer, nullable=False),
        moment("next_attempt_at"),
        Column("claimed_by", String(100)),
        moment("lease_until", nullable=True),
    ]


def idempotency_columns() -> list[Column]:
    """The service's answer to a request made again: the API key's id, the request's
    Idempotency-Key and the sha256 of its body."""
    return [
        Column("key_id", String(16), nullable=False),
        Column("idempotency_key", String(255), nullable=False),
        Column("request_sha256", String(64), nullable=False),
    ]


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


def schema_version(engine: Engine, version_table: str) -> str | None:
    """A store's Alembic revision; None if the database has none of its tables yet."""
    try:
        with engine.connect() as conn:
            version = conn.execute(text(f"SELECT version_num FROM {version_table}")).scalar()
            conn.rollback()
    except exc.ProgrammingError:  # no version table yet (PostgreSQL)
        return None
    except exc.OperationalError as error:  # no version table yet (SQLite), or no database
        if "no such table" in str(error):
            return None
        raise
    return str(version) if version is not None else None


def upgrade(engine: Engine, migrations: Path, lock_key: int) -> None:
    """Bring a store's tables to the newest revision of its chain in ``migrations``, serialised
    between processes on PostgreSQL by the store's own advisory lock."""
    from alembic import command
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(migrations))
    with engine.begin() as conn:
        if conn.dialect.name == "postgresql":
            conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": lock_key})
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "head")


def open_at_head(
    engine: Engine,
    url: str,
    *,
    head: str,
    version: Callable[[Engine], str | None],
    migrate: Callable[[Engine], None],
    create: bool,
    holds_none: str,
) -> None:
    """Open a store's tables at ``url``: a SQLite ``url`` that is no usable database is refused
    before SQLite touches it; tables not at the ``head`` revision are brought there by
    ``migrate``, only with ``create`` (without it, a database without them is a
    ``BadOutboxError``: "--db: <database> <holds_none>"); a database the server refuses is the
    store's connect error. The engine is disposed if anything fails."""
    from msedocs.delivery.store import BadOutboxError, check_sqlite_file, connect_error

    try:
        check_sqlite_file(url, create=create)
        try:
            if version(engine) != head:
                if not create:
                    raise BadOutboxError(f"--db: {url.split('@')[-1]} {holds_none}")
                migrate(engine)
        except exc.DBAPIError as error:
            raise connect_error(url, error) from error
    except BaseException:
        engine.dispose()
        raise
