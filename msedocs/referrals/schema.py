"""Tables of referrals, the vault, routing and the audit log (SQLAlchemy Core).

Their own Alembic chain (``migrations/``, version table ``referrals_alembic_version``) beside the
outbox's, in the same database (``--db`` / ``MSEDOCS_DB``): the two chains never touch each
other's tables, so either can move on alone. Changed only through revisions in ``migrations/``.
"""

from __future__ import annotations

from sqlalchemy import Column, ForeignKey, Index, Table
from sqlalchemy.types import BigInteger, Boolean, DateTime, Integer, LargeBinary, String, Text

from msedocs import tables

metadata = tables.metadata()
Id = tables.Id

bureaus = Table(
    "routing_bureaus",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("name", String(500), nullable=False),
    # mintrud: a main bureau of Mintrud (points 9, 11); federal: the other federal body's (point 9
    # paragraph 2); address: a bureau serving citizens by address (point 12)
    Column("kind", String(16), nullable=False),
    Column("capacity", Integer, nullable=False),
    Column("specialisations", Text, nullable=False),  # comma-separated
    Column("postal_areas", Text, nullable=False),  # comma-separated, for point 12
    Column("active", Boolean, nullable=False),
    Column("public_key", Text),  # Ed25519, PEM: verifies the bureau's signed decisions
    Column("load", Integer, nullable=False),  # effort of its open undecided referrals
    Column("open_count", Integer, nullable=False),
    Column("last_assigned_at", DateTime),
    Column("address", Text),  # the bureau's own address and chairman (JSON), for the case's commission
)

referrals = Table(
    "referrals",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("external_id", String(200), nullable=False),
    Column("source", String(16), nullable=False),  # semd, case-json, unstructured
    Column("structured", Boolean, nullable=False),
    Column("depersonalised", Boolean, nullable=False),
    Column("state", String(16), nullable=False),  # assigned, in_person, programme, decided, erased
    Column("routing", Text, nullable=False),  # RoutingAttributes JSON: no personal data
    Column("bureau_view", Text),  # what the bureau sees: identifiers only (structured, depersonalised)
    Column("clear_content", LargeBinary),  # point 5: an unstructured referral, in clear
    Column("media_type", String(100)),
    Column("sealed", LargeBinary),  # the referral as received, AES-GCM under its data key
    Column("bureau_id", String(64), ForeignKey("routing_bureaus.id")),
    Column("effort", Integer, nullable=False),
    Column("received_at", DateTime, nullable=False),
    Column("assigned_at", DateTime),
    Column("decided_at", DateTime),
    Column("decision", Text),  # the signed decision (JSON), point 12
    Index("ix_referrals_bureau_state", "bureau_id", "state"),
)

vault_keys = Table(
    "vault_keys",
    metadata,
    Column("referral_id", String(32), ForeignKey("referrals.id"), primary_key=True),
    Column("kek_id", String(200), nullable=False),
    Column("wrapped_key", LargeBinary),  # NULL once destroyed
    Column("created_at", DateTime, nullable=False),
    Column("destroyed_at", DateTime),
)

vault_values = Table(
    "vault_values",
    metadata,
    Column("token", String(32), primary_key=True),
    Column("referral_id", String(32), ForeignKey("referrals.id"), nullable=False, index=True),
    Column("category", Integer, nullable=False),
    Column("nonce", LargeBinary, nullable=False),
    Column("ciphertext", LargeBinary, nullable=False),
)

routing_log = Table(
    "routing_log",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("referral_id", String(32), nullable=False, index=True),
    Column("at", DateTime, nullable=False),
    Column("stage", String(32), nullable=False),
    Column("bureau_id", String(64)),
    Column("inputs", Text, nullable=False),  # JSON: attributes, candidates, rule; no personal data
)

audit_log = Table(
    "audit_log",
    metadata,
    Column("seq", Id, primary_key=True),
    Column("at", DateTime, nullable=False),
    Column("event", String(32), nullable=False),
    Column("referral_id", String(32)),
    Column("actor", String(200), nullable=False),
    Column("details", Text, nullable=False),  # JSON; identifiers and categories, never values
    Column("prev_hash", String(64), nullable=False),
    Column("hash", String(64), nullable=False),
)

audit_checkpoints = Table(
    "audit_checkpoints",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("seq", BigInteger, nullable=False),  # the last entry covered
    Column("hash", String(64), nullable=False),
    Column("at", DateTime, nullable=False),
    Column("key_id", String(64), nullable=False),
    Column("signature", LargeBinary, nullable=False),
)
