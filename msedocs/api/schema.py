"""Tables of the HTTP service (SQLAlchemy Core), beside the outbox's in the same database.
Changed only through Alembic revisions in ``migrations/`` (version table ``api_alembic_version``).

    api_keys          an API key: its id (the public prefix), name, sha256 of the whole token, scopes,
                      the bureau (order 692n) it acts for
    api_jobs          a render job: state, lease, progress, the request it runs, its outcome; the batch
                      of ``msedocs batch submit`` it belongs to (each case of a batch once)
    api_outputs       the files of a succeeded job, by name (content in api_blobs)
    api_blobs         file contents, content-addressed by sha256
    api_idempotency   an Idempotency-Key of a key: the request's digest and the job it created
    api_issued        each signed statutory document of a case, once: the job that issued it
    api_signing_sessions  two-step signing: a prepared PDF, its data to sign (frozen), the signed result
    api_callbacks     a job's event (job.succeeded, job.failed) to POST to its callback_url, with retries
"""

from __future__ import annotations

from sqlalchemy import Column, Index, PrimaryKeyConstraint, Table, UniqueConstraint
from sqlalchemy.types import BigInteger, Boolean, Integer, LargeBinary, String, Text

from msedocs import tables

metadata = tables.metadata()


def job_id() -> Column:
    """The job a row belongs to (an api_jobs.id)."""
    return Column("job_id", String(32), nullable=False)


def key_id() -> Column:
    """The API key a row belongs to (an api_keys.id)."""
    return Column("key_id", String(16), nullable=False)

keys = Table(
    "api_keys",
    metadata,
    Column("id", String(16), primary_key=True),
    Column("name", String(100), nullable=False),
    Column("token_sha256", String(64), nullable=False),
    Column("scopes", String(200), nullable=False),
    tables.moment("created_at"),
    tables.moment("revoked_at", nullable=True),
    Column("callback_secret", String(100)),
    Column("bureau_id", String(64)),
)

jobs = Table(
    "api_jobs",
    metadata,
    Column("id", String(32), primary_key=True),
    key_id(),
    Column("kind", String(16), nullable=False),
    Column("state", String(16), nullable=False),
    Column("respond_async", Boolean, nullable=False),
    Column("request", LargeBinary, nullable=False),
    Column("case_id", String(200)),
    Column("progress", Integer, nullable=False),
    Column("attempts", Integer, nullable=False),
    Column("claimed_by", String(100)),
    Column("claim_token", String(32)),
    tables.moment("lease_until", nullable=True),
    Column("error", Text),
    Column("manifest", Text),
    tables.moment("created_at"),
    tables.moment("updated_at"),
    tables.moment("started_at", nullable=True),
    tables.moment("finished_at", nullable=True),
    Column("callback_url", String(2000)),
    Column("batch_id", String(64)),
    Index("ix_api_jobs_state_created_at", "state", "created_at"),
    Index("ix_api_jobs_batch_id_case_id", "batch_id", "case_id", unique=True),
)

outputs = Table(
    "api_outputs",
    metadata,
    job_id(),
    Column("position", Integer, nullable=False),
    Column("name", String(200), nullable=False),
    Column("media_type", String(100), nullable=False),
    Column("sha256", String(64), nullable=False),
    Column("size", BigInteger, nullable=False),
    PrimaryKeyConstraint("job_id", "name"),
)

blobs = Table("api_blobs", metadata, *tables.blob_columns())

idempotency = Table(
    "api_idempotency",
    metadata,
    *tables.idempotency_columns(),
    job_id(),
    tables.moment("created_at"),
    PrimaryKeyConstraint("key_id", "idempotency_key"),
)

issued = Table(
    "api_issued",
    metadata,
    Column("case_id", String(200), nullable=False),
    Column("document", String(200), nullable=False),
    job_id(),
    tables.moment("issued_at"),
    PrimaryKeyConstraint("case_id", "document"),
    Index("ix_api_issued_job_id", "job_id"),
)

callbacks = Table(
    "api_callbacks",
    metadata,
    Column("id", String(40), primary_key=True),
    job_id(),
    key_id(),
    Column("url", String(2000), nullable=False),
    Column("event", String(32), nullable=False),
    Column("payload", Text, nullable=False),
    Column("state", String(16), nullable=False),
    *tables.retry_columns(),
    Column("last_status", Integer),
    Column("last_error", String(200)),
    tables.moment("created_at"),
    tables.moment("delivered_at", nullable=True),
    Index("ix_api_callbacks_state_next_attempt_at", "state", "next_attempt_at"),
    Index("ix_api_callbacks_job_id", "job_id"),
)

signing_sessions = Table(
    "api_signing_sessions",
    metadata,
    Column("id", String(32), primary_key=True),
    *tables.idempotency_columns(),
    Column("state", String(24), nullable=False),
    Column("level", String(8), nullable=False),
    Column("role", String(200)),
    Column("case_id", String(200)),
    Column("document", String(200), nullable=False),
    Column("key_source", String(16), nullable=False),
    Column("csc_service", String(500)),
    Column("csc_credential", String(200)),
    Column("certificate", LargeBinary, nullable=False),
    Column("chain", Text, nullable=False),
    Column("prepared_sha256", String(64), nullable=False),
    Column("document_digest", String(128), nullable=False),
    Column("region_start", BigInteger, nullable=False),
    Column("region_end", BigInteger, nullable=False),
    Column("signed_attrs", LargeBinary, nullable=False),
    Column("field_name", String(100), nullable=False),
    tables.moment("signing_time", nullable=True),
    tables.moment("expires_at"),
    tables.moment("created_at"),
    tables.moment("completed_at", nullable=True),
    Column("signature_sha256", String(64)),
    Column("signed_sha256", String(64)),
    UniqueConstraint("key_id", "idempotency_key"),
)
