"""Tables of the outbox (SQLAlchemy Core). Changed only through Alembic revisions in ``migrations/``."""

from __future__ import annotations

from sqlalchemy import Column, ForeignKey, Index, Table
from sqlalchemy.types import BigInteger, Boolean, Date, Integer, String, Text

from msedocs import tables

metadata = tables.metadata()


blobs = Table("outbox_blobs", metadata, *tables.blob_columns())

items = Table(
    "outbox_items",
    metadata,
    tables.row_id(),
    Column("key", String(64), nullable=False, unique=True),
    Column("case_ref", String(200), nullable=False),
    Column("channel", String(16), nullable=False),
    Column("state", String(16), nullable=False),
    Column("prev_state", String(16)),
    Column("country", String(2), nullable=False),
    Column("decision_date", Date, nullable=False),
    Column("due_date", Date, nullable=False),
    Column("recipient", Text, nullable=False),
    Column("fallback_to_paper", Boolean, nullable=False),
    *tables.retry_columns(),
    Column("last_reason", Text),
    Column("tracking_number", String(14), unique=True),
    Column("list_number", Integer),
    Column("list_date", Date),
    Column("handed_over_on", Date),
    tables.moment("completed_at", nullable=True),
    tables.moment("created_at"),
    tables.moment("updated_at"),
    # the bureau sending it by registered mail (JSON, see models.Sender); revision 0003
    Column("sender", Text),
    Index(None, "channel", "state", "next_attempt_at"),
    Index(None, "state", "lease_until"),
    Index(None, "due_date"),
    Index(None, "list_number"),
)

documents = Table(
    "outbox_documents",
    metadata,
    tables.row_id(),
    tables.owner_id("item_id", "outbox_items"),
    Column("position", Integer, nullable=False),
    Column("name", String(255), nullable=False),
    Column("media_type", String(100), nullable=False),
    Column("role", String(16), nullable=False),
    Column("sha256", String(64), ForeignKey("outbox_blobs.sha256"), nullable=False),
    Column("size", BigInteger, nullable=False),
    Index(None, "item_id"),
)

#: Each statutory document of a case is issued once: one row per (case, document) names the item
#: that carries it. A second item for the same document is refused (a document is never sent twice).
issued = Table(
    "outbox_issued",
    metadata,
    Column("case_ref", String(200), primary_key=True),
    Column("document", String(255), primary_key=True),
    tables.owner_id("item_id", "outbox_items"),
    Index(None, "item_id"),
)

history = Table(
    "outbox_history",
    metadata,
    tables.row_id(),
    tables.owner_id("item_id", "outbox_items"),
    tables.moment("at"),
    Column("from_state", String(16)),
    Column("to_state", String(16), nullable=False),
    Column("channel", String(16), nullable=False),
    Column("reason", Text, nullable=False),
    Column("worker", String(100)),
    Index(None, "item_id"),
)

tracking_ranges = Table(
    "tracking_ranges",
    metadata,
    Column("prefix", String(8), primary_key=True),
    Column("first_serial", Integer, nullable=False),
    Column("last_serial", Integer, nullable=False),
    Column("next_serial", Integer, nullable=False),
    tables.moment("created_at"),
)

postal_lists = Table(
    "postal_lists",
    metadata,
    tables.row_id("number"),
    Column("list_date", Date, nullable=False),
    tables.moment("created_at"),
)
