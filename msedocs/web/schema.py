"""Tables of the clerk's pages (SQLAlchemy Core), in the outbox's database under their own
Alembic chain (``web_alembic_version``, ``migrations/``): users, sessions, failed sign-ins, the
access log, clerks' actions on items, print batches and their files, the document numbers of
items (for the search)."""

from __future__ import annotations

from sqlalchemy import Column, ForeignKey, Index, Table
from sqlalchemy.types import BigInteger, Boolean, DateTime, Integer, LargeBinary, String, Text

from msedocs.tables import Id
from msedocs.tables import metadata as _metadata

metadata = _metadata()


def _table(name: str, *columns: Column | Index) -> Table:
    """A table of the pages with a numeric ``id`` first."""
    return Table(name, metadata, Column("id", Id, primary_key=True, autoincrement=True), *columns)


def _log(name: str, *columns: Column | Index) -> Table:
    """A log of what users did: when, who (a user's id), and ``columns``."""
    return _table(name, Column("at", DateTime, nullable=False), Column("user_id", Id, nullable=False), *columns)


users = _table(
    "web_users",
    Column("name", String(64), nullable=False, unique=True),
    Column("full_name", String(200)),
    Column("role", String(16), nullable=False),
    Column("password_hash", String(255), nullable=False),
    Column("active", Boolean, nullable=False),
    Column("created_at", DateTime, nullable=False),
    Column("last_login_at", DateTime),
)

sessions = Table(
    "web_sessions",
    metadata,
    Column("id_sha256", String(64), primary_key=True),
    Column("user_id", Id, ForeignKey("web_users.id", ondelete="CASCADE"), nullable=False),
    Column("csrf", String(64), nullable=False),
    Column("created_at", DateTime, nullable=False),
    Column("last_seen_at", DateTime, nullable=False),
    Column("expires_at", DateTime, nullable=False),
    Index(None, "user_id"),
)

login_failures = _table(
    "web_login_failures",
    Column("name", String(64), nullable=False),
    Column("at", DateTime, nullable=False),
    Index(None, "name", "at"),
)

access_log = _log(
    "web_access_log",
    Column("item_id", Id, nullable=False),
    Column("action", String(32), nullable=False),
    Index(None, "item_id"),
    Index(None, "at"),
)

events = _log(
    "web_item_events",
    Column("item_id", Id, nullable=False),
    Column("action", String(32), nullable=False),
    Column("detail", Text, nullable=False),
    Index(None, "item_id"),
)

batches = _table(
    "web_batches",
    Column("created_at", DateTime, nullable=False),
    Column("user_id", Id, nullable=False),
    Column("list_date", String(10), nullable=False),
    Column("lists", String(200), nullable=False),
    Column("state", String(16), nullable=False),
    Column("error", Text),
    Column("pages", Integer),
    Column("duplex", Boolean),
    Column("claim_token", String(32)),
    Column("lease_until", DateTime),
    Column("attempts", Integer),
    Column("done", Integer),
    Column("total", Integer),
)

batch_files = Table(
    "web_batch_files",
    metadata,
    Column("batch_id", Id, ForeignKey("web_batches.id", ondelete="CASCADE"), primary_key=True),
    Column("name", String(100), primary_key=True),
    Column("position", Integer, nullable=False),
    Column("media_type", String(100), nullable=False),
    Column("size", BigInteger, nullable=False),
    Column("content", LargeBinary, nullable=False),
)

item_numbers = Table(
    "web_item_numbers",
    metadata,
    Column("item_id", Id, primary_key=True),
    Column("numbers", Text, nullable=False),
)

admin_log = _log(
    "web_admin_log",
    Column("action", String(32), nullable=False),
    Column("subject", String(64), nullable=False),
    Column("detail", String(200), nullable=False),
    Index(None, "at"),
)
