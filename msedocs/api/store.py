"""The service's store: API keys, render jobs and their outputs, idempotency keys, issued documents.

The same database as the outbox (SQLite by default, PostgreSQL by URL) and the same engine
setup (:func:`msedocs.delivery.store.make_engine`: WAL and ``BEGIN IMMEDIATE`` on SQLite), with
tables of its own under their own Alembic chain (``api_alembic_version``).

A job moves ``queued → running → succeeded | failed``; a queued job can be ``cancelled``.
A worker claims a job with ``UPDATE … WHERE id = (SELECT … FOR UPDATE SKIP LOCKED) RETURNING``
on PostgreSQL (on SQLite, ``BEGIN IMMEDIATE`` serialises the same statement). A claim is a
lease with a random claim token: a running job whose lease ran out (its worker was killed) is
claimed again, and a worker finishes a job only while it still holds the token, so the outputs
of a job are committed once, by one worker, in the transaction that marks it succeeded.

A signed statutory document of a case (``case_id`` + ``<form>.<format>``) is reserved in
``api_issued`` when its job is accepted, in the transaction that creates the job: a second
request for it is refused (409) whatever its idempotency key. A job that fails or is cancelled
issued nothing and gives its reservations back.

A finished job with a ``callback_url`` gets its event in ``api_callbacks`` in the transaction
that finishes it (see :mod:`.callbacks`). A signing session keeps the prepared PDF (a blob), the
frozen signed attributes and the certificate; completing it issues its document, once.

Durability: what must outlive a power cut (a reserved or issued statutory document, a signed
output, a key, a signing session) is committed with the outbox's ``synchronous=FULL`` (SQLite) or
a synchronous commit (PostgreSQL); leases, claims, failures, callback attempts and unsigned
renders, which are made again if lost, are committed without waiting for the disk (SQLite WAL
with ``synchronous=NORMAL``: safe across a crash of the process; PostgreSQL
``synchronous_commit=off`` for the transaction).

Timestamps are naive UTC from the store's clock, as in the outbox.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac
import json
import re
import secrets
import time
import uuid
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass, field
from importlib.resources import files
from typing import Any

import sqlalchemy as sa
from sqlalchemy import Connection, Engine
from sqlalchemy.dialects import postgresql as pg_dialect
from sqlalchemy.dialects import sqlite as sqlite_dialect

from generators.resources import as_path
from msedocs import tables
from msedocs.api import schema as t
from msedocs.delivery.store import (
    OutboxUnavailableError,
    connect_error,
    make_engine,
    normalise_url,
    utcnow,
)
from msedocs.errors import InputError

MIGRATIONS = as_path(files("msedocs.api") / "migrations")  # a real folder, as Alembic wants
HEAD_REVISION = "0005"
SCOPES = ("render", "sign", "validate", "deliver", "clerk", "referrals", "admin")
#: Claims of one job before it is given up as failed (each a worker that died holding it).
MAX_ATTEMPTS = 3
#: Seconds an authenticated key is taken from memory (a revoked key is refused within as long).
KEY_CACHE_SECONDS = 5.0
TOKEN_PREFIX = "msk"
#: The key the jobs of ``msedocs batch submit`` belong to: an internal key that no token opens
#: (a token's key id is 12 hex digits), made on first use.
BATCH_KEY = "batch"
#: Jobs inserted per statement when a batch is submitted (all in one transaction).
BATCH_CHUNK = 500
BUREAU_ID = re.compile(r"[A-Za-z0-9._-]{1,64}")


class JobState:
    QUEUED = "queued"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELLED = "cancelled"
    FINISHED = (SUCCEEDED, FAILED, CANCELLED)


class IdempotencyConflict(InputError):
    """The idempotency key was used before with another request body."""


class AlreadyIssued(InputError):
    """A signed document of the case was issued (or is being issued) by another job."""

    def __init__(self, case_id: str, clashes: Sequence[tuple[str, str]]) -> None:
        listed = ", ".join(f"{doc} (job {job})" for doc, job in clashes)
        super().__init__(f"case {case_id}: already issued: {listed}; a statutory document is issued once")
        self.clashes = list(clashes)


class JobBusy(InputError):
    """The job is running: it cannot be deleted now."""


@dataclass(frozen=True)
class ApiKey:
    id: str
    name: str
    scopes: frozenset[str]
    bureau: str | None = None  # the bureau (order 692n) the key is issued to, which it acts for


@dataclass(frozen=True)
class Job:
    id: str
    key_id: str
    kind: str
    state: str
    respond_async: bool
    case_id: str | None
    progress: int
    attempts: int
    error: dict[str, Any] | None
    manifest: dict[str, Any] | None
    created_at: dt.datetime
    updated_at: dt.datetime
    started_at: dt.datetime | None
    finished_at: dt.datetime | None
    claimed_by: str | None = None
    lease_until: dt.datetime | None = None
    callback_url: str | None = None


@dataclass(frozen=True)
class Claim:
    """A job held by a worker: finish it with :meth:`JobStore.complete` or :meth:`JobStore.fail`
    while ``token`` still holds."""

    job: Job
    token: str
    request: bytes = field(repr=False)


@dataclass(frozen=True)
class Output:
    name: str
    media_type: str
    sha256: str
    size: int


@dataclass(frozen=True)
class Submitted:
    job: Job
    created: bool
    """False: the idempotency key was seen with the same body; ``job`` is the first request's."""
    claim: Claim | None = None
    """The claim of a job created running for the caller (a synchronous render)."""


class CallbackState:
    PENDING = "pending"
    DELIVERED = "delivered"
    FAILED = "failed"


@dataclass(frozen=True)
class Callback:
    """A callback claimed for sending: the body to POST and the key's secret that signs it."""

    id: str
    job_id: str
    key_id: str
    url: str
    event: str
    body: bytes = field(repr=False)
    attempts: int
    secret: str = field(repr=False)


@dataclass(frozen=True)
class CallbackStatus:
    id: str
    event: str
    state: str
    attempts: int
    last_status: int | None
    next_attempt_at: dt.datetime | None
    delivered_at: dt.datetime | None


def new_callback_secret() -> str:
    """A Standard Webhooks secret: ``whsec_`` and 32 random bytes in base64."""
    return "whsec_" + base64.b64encode(secrets.token_bytes(32)).decode()


def event_payload(
    callback_id: str, event: str, at: dt.datetime, job_id: str, kind: str, case_id: str | None,
    outputs: Sequence[Output], error: dict[str, Any] | None,
) -> dict[str, Any]:  # fmt: skip
    """The body of a callback (Standard Webhooks: type, timestamp, data): the job, where to read
    it and its outputs; never a document's content nor anything of the case but its id."""
    data: dict[str, Any] = {"id": job_id, "kind": kind, "state": event.removeprefix("job."), "case_id": case_id,
                            "href": f"/v1/jobs/{job_id}"}  # fmt: skip
    if outputs:
        data["outputs"] = [{"name": o.name, "media_type": o.media_type, "size": o.size, "sha256": o.sha256,
                            "href": f"/v1/jobs/{job_id}/outputs/{o.name}"} for o in outputs]  # fmt: skip
    if error is not None:
        data["error"] = error
    return {"id": callback_id, "type": event, "timestamp": at.replace(tzinfo=dt.UTC).isoformat(), "data": data}


class SessionState:
    AWAITING = "awaiting-signature"
    COMPLETED = "completed"


class SessionClosed(InputError):
    """The signing session takes no signature now (completed, or expired)."""


@dataclass(frozen=True)
class SigningSession:
    id: str
    key_id: str
    state: str
    level: str
    role: str | None
    case_id: str | None
    document: str
    key_source: str
    csc_service: str | None
    csc_credential: str | None
    certificate: bytes = field(repr=False)
    chain: list[bytes] = field(repr=False)
    prepared_sha256: str
    document_digest: str
    region_start: int
    region_end: int
    signed_attrs: bytes = field(repr=False)
    field_name: str
    signing_time: dt.datetime | None
    expires_at: dt.datetime
    created_at: dt.datetime
    completed_at: dt.datetime | None
    signature_sha256: str | None
    signed_sha256: str | None


def _session(row: Any) -> SigningSession:
    m = dict(row._mapping)
    for drop in ("idempotency_key", "request_sha256"):
        m.pop(drop)
    m["certificate"] = bytes(m["certificate"])
    m["signed_attrs"] = bytes(m["signed_attrs"])
    m["chain"] = [base64.b64decode(c) for c in json.loads(m["chain"])]
    return SigningSession(**m)


_EVENT_COLUMNS = (t.jobs.c.id, t.jobs.c.key_id, t.jobs.c.kind, t.jobs.c.case_id, t.jobs.c.callback_url)


def _job(row: Any) -> Job:
    m = row._mapping
    return Job(
        id=m["id"], key_id=m["key_id"], kind=m["kind"], state=m["state"], respond_async=bool(m["respond_async"]),
        case_id=m["case_id"], progress=m["progress"], attempts=m["attempts"],
        error=json.loads(m["error"]) if m["error"] else None,
        manifest=json.loads(m["manifest"]) if m["manifest"] else None,
        created_at=m["created_at"], updated_at=m["updated_at"], started_at=m["started_at"],
        finished_at=m["finished_at"], claimed_by=m["claimed_by"], lease_until=m["lease_until"],
        callback_url=m["callback_url"],
    )  # fmt: skip


def token_sha256(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()


def migrate(engine: Engine) -> None:
    """Bring the service's tables to the newest revision (serialised between processes)."""
    tables.upgrade(engine, MIGRATIONS, 7152046693)


def _version(engine: Engine) -> str | None:
    return tables.schema_version(engine, "api_alembic_version")


class JobStore(AbstractContextManager["JobStore"]):
    """The service's tables. One per process; safe to share between threads."""

    def __init__(
        self, url: str, *, create: bool = True, clock: Callable[[], dt.datetime] = utcnow
    ) -> None:
        self.url = normalise_url(url)
        self.engine = make_engine(self.url)
        self.clock = clock
        self._keys: dict[str, tuple[ApiKey, float]] = {}
        """Keys authenticated in the last :data:`KEY_CACHE_SECONDS`, by their token's digest."""
        self.is_postgresql = self.engine.dialect.name == "postgresql"
        database = self.engine.url.database
        #: SQLite connections for what may be lost in a power cut, never in a process crash (WAL with
        #: synchronous=NORMAL: the commit is in the OS's cache; the next FULL commit syncs it too).
        self.relaxed = (make_engine(self.url, sqlite_synchronous="NORMAL")
                        if not self.is_postgresql and database not in (None, "", ":memory:") else None)  # fmt: skip
        tables.open_at_head(self.engine, self.url, head=HEAD_REVISION, version=_version, migrate=migrate,
                            create=create, holds_none="holds no msedocs service tables")  # fmt: skip

    def close(self) -> None:
        self.engine.dispose()
        if self.relaxed is not None:
            self.relaxed.dispose()

    def __exit__(self, *exc: object) -> None:
        self.close()

    @contextmanager
    def _tx(self, durable: bool = True) -> Iterator[Connection]:
        """A transaction. ``durable=False`` for what a power cut may take back without harm (a
        lease, an unsigned render that can be made again, a callback attempt): on SQLite the
        commit is not synced to disk (WAL, synchronous=NORMAL: safe across a process crash), on
        PostgreSQL ``synchronous_commit`` is off for it. What must outlive a power cut (a
        statutory document reserved or issued, a key, a signing session) is committed durably."""
        engine = self.engine if durable or self.relaxed is None else self.relaxed
        try:
            with engine.begin() as conn:
                if not durable and self.is_postgresql:
                    conn.exec_driver_sql("SET LOCAL synchronous_commit TO OFF")
                yield conn
        except (sa.exc.OperationalError, sa.exc.InterfaceError) as exc:
            raise OutboxUnavailableError(connect_error(self.url, exc).message) from exc

    def _insert(self, table: sa.Table) -> Any:
        return (pg_dialect.insert if self.is_postgresql else sqlite_dialect.insert)(table)

    def ping(self) -> bool:
        """The store answers and its tables are at the newest revision."""
        try:
            return _version(self.engine) == HEAD_REVISION
        except sa.exc.DBAPIError:
            return False

    # -- keys -------------------------------------------------------------------------------

    def create_key(self, name: str, scopes: Sequence[str], bureau: str | None = None) -> tuple[ApiKey, str]:
        """A new key; returns it and its token, which is shown once and stored only as a digest.
        ``bureau``: the bureau (order 692n) the key is issued to and acts for (scope ``referrals``)."""
        unknown = sorted(set(scopes) - set(SCOPES))
        if unknown or not scopes:
            raise InputError(f"--scope: unknown scope(s) {', '.join(unknown) or '(none)'}; choose from "
                             f"{', '.join(SCOPES)}")  # fmt: skip
        if not name.strip() or len(name) > 100:
            raise InputError("keys create: NAME must be 1-100 characters")
        if bureau is not None and (not BUREAU_ID.fullmatch(bureau) or "referrals" not in scopes):
            raise InputError("--bureau: a bureau id (1-64 of A-Z a-z 0-9 . _ -) on a key with the scope referrals")
        key_id = secrets.token_hex(6)
        token = f"{TOKEN_PREFIX}_{key_id}_{secrets.token_urlsafe(32)}"
        chosen = sorted(set(scopes))
        with self._tx() as conn:
            conn.execute(sa.insert(t.keys).values(
                id=key_id, name=name.strip(), token_sha256=token_sha256(token), scopes=" ".join(chosen),
                created_at=self.clock(), bureau_id=bureau,
            ))  # fmt: skip
        return ApiKey(key_id, name.strip(), frozenset(chosen), bureau), token

    def authenticate(self, token: str) -> ApiKey | None:
        """The key a token belongs to, None if it is unknown, malformed or revoked (compared in
        constant time on the digest)."""
        parts = token.split("_", 2)
        if len(parts) != 3 or parts[0] != TOKEN_PREFIX or len(parts[1]) != 12 or len(token) > 200:
            return None
        digest = token_sha256(token)
        now = time.monotonic()
        cached = self._keys.get(digest)
        if cached is not None and cached[1] > now:
            return cached[0]
        with self._tx() as conn:
            row = conn.execute(sa.select(t.keys).where(t.keys.c.id == parts[1])).first()
        if row is None or row.revoked_at is not None:
            return None
        if not hmac.compare_digest(row.token_sha256, digest):
            return None
        key = ApiKey(row.id, row.name, frozenset(row.scopes.split()), row.bureau_id)
        if len(self._keys) > 1000:
            self._keys.clear()
        self._keys[digest] = (key, now + KEY_CACHE_SECONDS)
        return key

    # -- submission -------------------------------------------------------------------------

    def submit(
        self,
        key_id: str,
        idempotency_key: str,
        request: bytes,
        *,
        case_id: str | None,
        documents: Sequence[str] = (),
        respond_async: bool,
        claim_for: str | None = None,
        lease: float = 60.0,
        kind: str = "render",
        callback_url: str | None = None,
        digest_of: bytes | None = None,
        blobs: Sequence[bytes] = (),
    ) -> Submitted:
        """Accept a job under an idempotency key, in one transaction: the key (same body: the
        first job is returned; another body: :class:`IdempotencyConflict`), the documents it
        issues (each once: :class:`AlreadyIssued`) and the job, queued or, with ``claim_for``,
        running and claimed by the caller. The body compared is ``digest_of`` (what the client
        sent, when the stored request differs from it) or ``request``, with ``callback_url``.
        ``blobs`` (the cases of a journal) are stored with the job."""
        hashed = hashlib.sha256(digest_of if digest_of is not None else request)
        if kind != "render":  # a render's digest is that of its body alone, as before callbacks
            hashed.update(f"\0kind:{kind}".encode())
        if callback_url:
            hashed.update(b"\0callback:" + callback_url.encode())
        digest = hashed.hexdigest()
        for attempt in (1, 2):
            try:
                return self._submit(key_id, idempotency_key, request, digest, case_id, documents, respond_async,
                                    claim_for, lease, kind, callback_url, blobs)  # fmt: skip
            except sa.exc.IntegrityError:  # a concurrent request took the key or a document first
                if attempt == 2:
                    raise
        raise AssertionError("unreachable")

    def _submit(
        self, key_id: str, idem: str, request: bytes, digest: str, case_id: str | None, documents: Sequence[str],
        respond_async: bool, claim_for: str | None, lease: float, kind: str, callback_url: str | None,
        blobs: Sequence[bytes] = (),
    ) -> Submitted:  # fmt: skip
        now = self.clock()
        i = t.idempotency.c
        with self._tx(durable=bool(documents)) as conn:  # a reserved statutory document outlives a power cut
            seen = conn.execute(
                sa.select(i.request_sha256, i.job_id).where(i.key_id == key_id, i.idempotency_key == idem)
            ).first()
            if seen is not None:
                if not hmac.compare_digest(seen.request_sha256, digest):
                    raise IdempotencyConflict(
                        "Idempotency-Key: this key was used before with another request body; "
                        "use a new key for a new request"
                    )
                row = conn.execute(sa.select(t.jobs).where(t.jobs.c.id == seen.job_id)).first()
                if row is None:
                    raise JobGone(seen.job_id)
                return Submitted(_job(row), created=False)
            if documents and case_id is not None:
                clashes = conn.execute(
                    sa.select(t.issued.c.document, t.issued.c.job_id).where(
                        t.issued.c.case_id == case_id, t.issued.c.document.in_(list(documents))
                    )
                ).all()
                if clashes:
                    raise AlreadyIssued(case_id, sorted((c.document, c.job_id) for c in clashes))
            job_id = uuid.uuid4().hex
            token = uuid.uuid4().hex if claim_for else None
            values: dict[str, Any] = {
                "id": job_id, "key_id": key_id, "kind": kind, "respond_async": respond_async, "request": request,
                "case_id": case_id, "progress": 0, "attempts": 0, "created_at": now, "updated_at": now,
                "state": JobState.QUEUED, "callback_url": callback_url,
            }  # fmt: skip
            if claim_for:
                values.update(state=JobState.RUNNING, attempts=1, claimed_by=claim_for, claim_token=token,
                              lease_until=now + dt.timedelta(seconds=lease), started_at=now)  # fmt: skip
            if blobs:
                conn.execute(self._insert(t.blobs).on_conflict_do_nothing(), [
                    {"sha256": hashlib.sha256(b).hexdigest(), "size": len(b), "content": b} for b in blobs
                ])  # fmt: skip
            row = conn.execute(sa.insert(t.jobs).values(**values).returning(*t.jobs.c)).one()
            conn.execute(sa.insert(t.idempotency).values(
                key_id=key_id, idempotency_key=idem, request_sha256=digest, job_id=job_id, created_at=now,
            ))  # fmt: skip
            if documents and case_id is not None:
                conn.execute(sa.insert(t.issued), [
                    {"case_id": case_id, "document": d, "job_id": job_id, "issued_at": now} for d in documents
                ])  # fmt: skip
        job = _job(row)
        return Submitted(job, created=True, claim=Claim(job, token, request) if token else None)

    # -- batches (``msedocs batch``) --------------------------------------------------------

    def submit_batch(
        self, batch_id: str, digest: str, jobs: Callable[[], Iterable[tuple[str, bytes]]]
    ) -> tuple[int, bool]:
        """A batch's render jobs, ``(case_id, request)`` each, queued in one transaction under
        :data:`BATCH_KEY`, in the order given; (the batch's number of jobs, created). The same
        batch id again: nothing inserted, (its jobs, False), if its ``digest`` (its cases and
        options) is the one it was submitted with, else :class:`IdempotencyConflict`. Each case
        of a batch is one job (a unique index), whoever submits it at the same time."""
        for attempt in (1, 2):
            try:
                return self._submit_batch(batch_id, digest, jobs)
            except sa.exc.IntegrityError:  # submitted at the same moment by another process: its jobs hold
                if attempt == 2:
                    raise
        raise AssertionError("unreachable")

    def _submit_batch(
        self, batch_id: str, digest: str, jobs: Callable[[], Iterable[tuple[str, bytes]]]
    ) -> tuple[int, bool]:
        now = self.clock()
        i, c = t.idempotency.c, t.jobs.c
        with self._tx() as conn:
            conn.execute(self._insert(t.keys).on_conflict_do_nothing(), [{
                "id": BATCH_KEY, "name": "msedocs batch (internal: no token)", "token_sha256": "-",
                "scopes": "render sign", "created_at": now,
            }])  # fmt: skip
            seen = conn.execute(sa.select(i.request_sha256).where(
                i.key_id == BATCH_KEY, i.idempotency_key == batch_id)).scalar()  # fmt: skip
            if seen is not None:
                if not hmac.compare_digest(seen, digest):
                    raise IdempotencyConflict(f"batch {batch_id} was submitted before with other cases or options; "
                                              "give another --batch-id")  # fmt: skip
                count = conn.execute(sa.select(sa.func.count()).where(c.batch_id == batch_id)).scalar_one()
                return int(count), False
            count, first = 0, None
            rows: list[dict[str, Any]] = []
            for case_id, request in jobs():
                job_id = uuid.uuid4().hex
                first = first or job_id
                # the file's order is the queue's: claims take the oldest first
                created = now + dt.timedelta(microseconds=count)
                rows.append({"id": job_id, "key_id": BATCH_KEY, "kind": "render", "state": JobState.QUEUED,
                             "respond_async": True, "request": request, "case_id": case_id, "progress": 0,
                             "attempts": 0, "created_at": created, "updated_at": created,
                             "batch_id": batch_id})  # fmt: skip
                count += 1
                if len(rows) >= BATCH_CHUNK:
                    conn.execute(sa.insert(t.jobs), rows)
                    rows = []
            if rows:
                conn.execute(sa.insert(t.jobs), rows)
            if first is None:
                raise InputError(f"batch {batch_id}: no cases")
            conn.execute(sa.insert(t.idempotency).values(
                key_id=BATCH_KEY, idempotency_key=batch_id, request_sha256=digest, job_id=first, created_at=now,
            ))  # fmt: skip
        return count, True

    def batch_counts(self, batch_id: str) -> dict[str, int]:
        """A batch's jobs by state (empty: no such batch)."""
        c = t.jobs.c
        with self._tx() as conn:
            rows = conn.execute(sa.select(c.state, sa.func.count()).where(c.batch_id == batch_id)
                                .group_by(c.state)).all()  # fmt: skip
        return {state: int(n) for state, n in rows}

    def batch_jobs(self, batch_id: str) -> list[tuple[str, str, str, dict[str, Any] | None]]:
        """A batch's jobs in the order submitted: (job id, case_id, state, error)."""
        c = t.jobs.c
        with self._tx() as conn:
            rows = conn.execute(sa.select(c.id, c.case_id, c.state, c.error).where(c.batch_id == batch_id)
                                .order_by(c.created_at, c.id)).all()  # fmt: skip
        return [(r.id, r.case_id, r.state, json.loads(r.error) if r.error else None) for r in rows]

    def manifest_of(self, job_id: str) -> dict[str, Any] | None:
        with self._tx() as conn:
            raw = conn.execute(sa.select(t.jobs.c.manifest).where(t.jobs.c.id == job_id)).scalar()
        return json.loads(raw) if raw else None

    def counts(self) -> dict[str, int]:
        """Jobs by state."""
        c = t.jobs.c
        with self._tx() as conn:
            rows = conn.execute(sa.select(c.state, sa.func.count()).group_by(c.state)).all()
        return {state: int(n) for state, n in rows}

    def queued(self) -> int:
        with self._tx() as conn:
            return int(conn.execute(
                sa.select(sa.func.count()).select_from(t.jobs).where(t.jobs.c.state == JobState.QUEUED)
            ).scalar_one())  # fmt: skip

    # -- workers ----------------------------------------------------------------------------

    def claim(self, worker_id: str, lease: float = 60.0) -> Claim | None:
        """The oldest queued job, or a running one whose lease ran out, claimed for ``lease``
        seconds; None if there is none. A job claimed :data:`MAX_ATTEMPTS` times already (its
        workers died each time) fails instead of being claimed again."""
        now = self.clock()
        c = t.jobs.c
        stale = sa.and_(c.state == JobState.RUNNING, c.lease_until < now)
        with self._tx(durable=False) as conn:  # a claim lost in a power cut is claimed again
            given_up = conn.execute(
                sa.update(t.jobs).where(stale, c.attempts >= MAX_ATTEMPTS)
                .values(state=JobState.FAILED, finished_at=now, updated_at=now, claim_token=None, lease_until=None,
                        error=json.dumps(_worker_lost()))
                .returning(*_EVENT_COLUMNS)
            ).all()  # fmt: skip
            if given_up:
                conn.execute(sa.delete(t.issued).where(t.issued.c.job_id.in_([g.id for g in given_up])))
                for lost in given_up:
                    self._enqueue_event(conn, lost, "job.failed", now, error=_worker_lost())
            sub = (
                sa.select(c.id)
                .where(sa.or_(c.state == JobState.QUEUED, stale))
                .order_by(c.created_at, c.id)
                .limit(1)
            )
            if self.is_postgresql:
                sub = sub.with_for_update(skip_locked=True)
            token = uuid.uuid4().hex
            row = conn.execute(
                sa.update(t.jobs).where(c.id == sub.scalar_subquery())
                .values(state=JobState.RUNNING, claimed_by=worker_id, claim_token=token, attempts=c.attempts + 1,
                        lease_until=now + dt.timedelta(seconds=lease), updated_at=now,
                        started_at=sa.func.coalesce(c.started_at, now))
                .returning(*t.jobs.c)
            ).first()  # fmt: skip
        if row is None:
            return None
        return Claim(_job(row), token, bytes(row.request))

    def _held(self, job_id: str, token: str) -> Any:
        c = t.jobs.c
        return sa.and_(c.id == job_id, c.claim_token == token, c.state == JobState.RUNNING)

    def renew(self, job_id: str, token: str, lease: float = 60.0, progress: int | None = None) -> bool:
        """Extend a claim (and note progress, 0-100); False if the claim was lost."""
        now = self.clock()
        values: dict[str, Any] = {"lease_until": now + dt.timedelta(seconds=lease), "updated_at": now}
        if progress is not None:
            values["progress"] = max(0, min(100, progress))
        with self._tx(durable=False) as conn:
            return conn.execute(sa.update(t.jobs).where(self._held(job_id, token)).values(**values)).rowcount == 1

    def complete(
        self, job_id: str, token: str, files: Sequence[tuple[str, str, bytes]], manifest: dict[str, Any],
        *, durable: bool = True,
    ) -> bool:
        """Store a job's files (name, media type, content) and mark it succeeded, in one
        transaction, if ``token`` still holds its claim; False (nothing stored) if not. Signed
        documents are stored ``durable`` (they were handed out: never made a second time)."""
        now = self.clock()
        with self._tx(durable=durable) as conn:
            done = conn.execute(
                sa.update(t.jobs).where(self._held(job_id, token))
                .values(state=JobState.SUCCEEDED, progress=100, finished_at=now, updated_at=now, lease_until=None,
                        claim_token=None, manifest=json.dumps(manifest, ensure_ascii=False))
                .returning(*_EVENT_COLUMNS)
            ).first()  # fmt: skip
            if done is None:
                conn.rollback()
                return False
            digests = [hashlib.sha256(content).hexdigest() for _, _, content in files]
            blobs = {d: {"sha256": d, "size": len(f[2]), "content": f[2]} for d, f in zip(digests, files, strict=True)}
            if blobs:
                conn.execute(self._insert(t.blobs).on_conflict_do_nothing(), list(blobs.values()))
                conn.execute(sa.insert(t.outputs), [
                    {"job_id": job_id, "position": n, "name": name, "media_type": media, "sha256": d,
                     "size": len(content)}
                    for n, ((name, media, content), d) in enumerate(zip(files, digests, strict=True))
                ])  # fmt: skip
            outputs = [Output(name, media, d, len(content)) for (name, media, content), d in zip(files, digests,
                                                                                                  strict=True)]
            self._enqueue_event(conn, done, "job.succeeded", now, outputs=outputs)
        return True

    def fail(self, job_id: str, token: str, problem: dict[str, Any]) -> bool:
        """Mark a job failed with its problem document; its documents were not issued."""
        now = self.clock()
        with self._tx(durable=False) as conn:  # lost in a power cut: the job is run again
            done = conn.execute(
                sa.update(t.jobs).where(self._held(job_id, token))
                .values(state=JobState.FAILED, finished_at=now, updated_at=now, lease_until=None, claim_token=None,
                        error=json.dumps(problem, ensure_ascii=False))
                .returning(*_EVENT_COLUMNS)
            ).first()  # fmt: skip
            if done is not None:
                conn.execute(sa.delete(t.issued).where(t.issued.c.job_id == job_id))
                self._enqueue_event(conn, done, "job.failed", now, error=problem)
        return done is not None

    def release(self, job_id: str, token: str) -> bool:
        """Give a claimed job back to the queue (its worker stops, or its process pool broke)."""
        now = self.clock()
        with self._tx(durable=False) as conn:
            return conn.execute(
                sa.update(t.jobs).where(self._held(job_id, token))
                .values(state=JobState.QUEUED, claimed_by=None, claim_token=None, lease_until=None, updated_at=now)
            ).rowcount == 1  # fmt: skip

    # -- callbacks --------------------------------------------------------------------------

    def _enqueue_event(
        self, conn: Connection, job: Any, event: str, now: dt.datetime, *, outputs: Sequence[Output] = (),
        error: dict[str, Any] | None = None,
    ) -> None:  # fmt: skip
        """The event of a finished job, to POST to its callback_url, in the transaction that
        finishes it (so that it is sent whatever happens to this process after the commit)."""
        if not job.callback_url:
            return
        callback_id = f"msg_{uuid.uuid4().hex}"
        payload = event_payload(callback_id, event, now, job.id, job.kind, job.case_id, outputs, error)
        conn.execute(sa.insert(t.callbacks).values(
            id=callback_id, job_id=job.id, key_id=job.key_id, url=job.callback_url, event=event,
            payload=json.dumps(payload, ensure_ascii=False, separators=(",", ":")), state=CallbackState.PENDING,
            attempts=0, next_attempt_at=now, created_at=now,
        ))  # fmt: skip

    def claim_callbacks(self, worker_id: str, limit: int = 8, lease: float = 60.0) -> list[Callback]:
        """Pending callbacks whose time has come (or whose sender's lease ran out), claimed for
        ``lease`` seconds: ``FOR UPDATE SKIP LOCKED`` on PostgreSQL, ``BEGIN IMMEDIATE`` on SQLite."""
        now = self.clock()
        c = t.callbacks.c
        due = sa.and_(c.state == CallbackState.PENDING, c.next_attempt_at <= now,
                      sa.or_(c.lease_until.is_(None), c.lease_until < now))  # fmt: skip
        sub = sa.select(c.id).where(due).order_by(c.next_attempt_at, c.id).limit(limit)
        if self.is_postgresql:
            sub = sub.with_for_update(skip_locked=True)
        with self._tx(durable=False) as conn:
            rows = conn.execute(
                sa.update(t.callbacks).where(c.id.in_(sub.scalar_subquery()))
                .values(claimed_by=worker_id, lease_until=now + dt.timedelta(seconds=lease))
                .returning(c.id, c.job_id, c.key_id, c.url, c.event, c.payload, c.attempts)
            ).all()  # fmt: skip
            if not rows:
                return []
            secrets_ = self._callback_secrets(conn, {r.key_id for r in rows})
        return [Callback(r.id, r.job_id, r.key_id, r.url, r.event, r.payload.encode(), r.attempts,
                         secrets_[r.key_id]) for r in rows]  # fmt: skip

    def callback_sent(self, callback_id: str, worker_id: str, status: int) -> bool:
        """The receiver answered 2xx: delivered."""
        now = self.clock()
        c = t.callbacks.c
        with self._tx(durable=False) as conn:  # lost in a power cut: sent again (at least once)
            return conn.execute(
                sa.update(t.callbacks).where(c.id == callback_id, c.claimed_by == worker_id,
                                             c.state == CallbackState.PENDING)
                .values(state=CallbackState.DELIVERED, attempts=c.attempts + 1, last_status=status, last_error=None,
                        delivered_at=now, claimed_by=None, lease_until=None)
            ).rowcount == 1  # fmt: skip

    def callback_failed(
        self, callback_id: str, worker_id: str, status: int | None, error: str, retry_in: float | None
    ) -> bool:
        """An attempt failed: try again in ``retry_in`` seconds, or (None) give up."""
        now = self.clock()
        c = t.callbacks.c
        values: dict[str, Any] = {"attempts": c.attempts + 1, "last_status": status, "last_error": error[:200],
                                  "claimed_by": None, "lease_until": None}  # fmt: skip
        if retry_in is None:
            values["state"] = CallbackState.FAILED
        else:
            values["next_attempt_at"] = now + dt.timedelta(seconds=retry_in)
        with self._tx(durable=False) as conn:
            return conn.execute(
                sa.update(t.callbacks).where(c.id == callback_id, c.claimed_by == worker_id,
                                             c.state == CallbackState.PENDING).values(**values)
            ).rowcount == 1  # fmt: skip

    def callback_counts(self) -> dict[str, int]:
        """Callbacks by state."""
        c = t.callbacks.c
        with self._tx() as conn:
            rows = conn.execute(sa.select(c.state, sa.func.count()).group_by(c.state)).all()
        return {state: int(n) for state, n in rows}

    def callbacks_of(self, job_id: str) -> list[CallbackStatus]:
        c = t.callbacks.c
        with self._tx() as conn:
            rows = conn.execute(
                sa.select(c.id, c.event, c.state, c.attempts, c.last_status, c.next_attempt_at, c.delivered_at)
                .where(c.job_id == job_id).order_by(c.created_at, c.id)
            ).all()  # fmt: skip
        return [CallbackStatus(r.id, r.event, r.state, r.attempts, r.last_status,
                               r.next_attempt_at if r.state == CallbackState.PENDING else None, r.delivered_at)
                for r in rows]  # fmt: skip

    def _callback_secrets(self, conn: Connection, key_ids: set[str]) -> dict[str, str]:
        k = t.keys.c
        found = dict(conn.execute(sa.select(k.id, k.callback_secret).where(k.id.in_(sorted(key_ids)))).all())
        out = {}
        for key_id in key_ids:
            secret = found.get(key_id)
            if not secret:
                secret = new_callback_secret()
                conn.execute(sa.update(t.keys).where(k.id == key_id, k.callback_secret.is_(None))
                             .values(callback_secret=secret))  # fmt: skip
                secret = conn.execute(sa.select(k.callback_secret).where(k.id == key_id)).scalar() or secret
            out[key_id] = secret
        return out

    def callback_secret(self, key_id: str) -> str:
        """The secret that signs this key's callbacks (made on first use; shown to the key's
        holder by ``GET /v1/callbacks/secret`` and ``msedocs keys create``)."""
        with self._tx() as conn:
            return self._callback_secrets(conn, {key_id})[key_id]

    # -- two-step signing -------------------------------------------------------------------

    def create_session(
        self, key_id: str, idempotency_key: str, request: bytes, values: dict[str, Any], prepared: bytes,
        ttl: float,
    ) -> tuple[SigningSession, bool]:  # fmt: skip
        """A signing session under an idempotency key, with its prepared PDF, in one transaction;
        (the session, created). The same key and body: the first session; another body:
        :class:`IdempotencyConflict`."""
        now = self.clock()
        digest = hashlib.sha256(request).hexdigest()
        s = t.signing_sessions.c
        for attempt in (1, 2):
            try:
                with self._tx() as conn:
                    seen = conn.execute(sa.select(t.signing_sessions).where(
                        s.key_id == key_id, s.idempotency_key == idempotency_key)).first()  # fmt: skip
                    if seen is not None:
                        if not hmac.compare_digest(seen.request_sha256, digest):
                            raise IdempotencyConflict("Idempotency-Key: this key was used before with another "
                                                      "request body; use a new key for a new request")  # fmt: skip
                        return _session(seen), False
                    sha = hashlib.sha256(prepared).hexdigest()
                    conn.execute(self._insert(t.blobs).on_conflict_do_nothing(),
                                 [{"sha256": sha, "size": len(prepared), "content": prepared}])  # fmt: skip
                    row = conn.execute(sa.insert(t.signing_sessions).values(
                        id=uuid.uuid4().hex, key_id=key_id, idempotency_key=idempotency_key, request_sha256=digest,
                        state=SessionState.AWAITING, prepared_sha256=sha, created_at=now,
                        expires_at=now + dt.timedelta(seconds=ttl), **values,
                    ).returning(*t.signing_sessions.c)).one()  # fmt: skip
                return _session(row), True
            except sa.exc.IntegrityError:
                if attempt == 2:
                    raise
        raise AssertionError("unreachable")

    def session_by_key(self, key_id: str, idempotency_key: str, request: bytes) -> SigningSession | None:
        """The session made earlier under this idempotency key (None: none); :class:`IdempotencyConflict`
        if it was made from another body."""
        s = t.signing_sessions.c
        with self._tx() as conn:
            seen = conn.execute(sa.select(t.signing_sessions).where(
                s.key_id == key_id, s.idempotency_key == idempotency_key)).first()  # fmt: skip
        if seen is None:
            return None
        if not hmac.compare_digest(seen.request_sha256, hashlib.sha256(request).hexdigest()):
            raise IdempotencyConflict("Idempotency-Key: this key was used before with another request body; use a "
                                      "new key for a new request")  # fmt: skip
        return _session(seen)

    def session(self, session_id: str) -> SigningSession | None:
        with self._tx() as conn:
            row = conn.execute(sa.select(t.signing_sessions).where(t.signing_sessions.c.id == session_id)).first()
        return _session(row) if row is not None else None

    def is_issued(self, case_id: str, document: str) -> str | None:
        """The job (or signing session) that issued this document of the case, if any."""
        i = t.issued.c
        with self._tx() as conn:
            found = conn.execute(sa.select(i.job_id).where(i.case_id == case_id, i.document == document)).scalar()
        return str(found) if found is not None else None

    def complete_session(self, session_id: str, signature: bytes, signed: bytes) -> SigningSession:
        """Store the signed PDF and mark the session completed, with the document issued (once:
        :class:`AlreadyIssued`), in one transaction."""
        now = self.clock()
        s = t.signing_sessions.c
        sha = hashlib.sha256(signed).hexdigest()
        try:
            with self._tx() as conn:
                row = conn.execute(sa.select(t.signing_sessions).where(s.id == session_id)).one()
                if row.case_id:
                    conn.execute(sa.insert(t.issued).values(case_id=row.case_id, document=row.document,
                                                            job_id=session_id, issued_at=now))  # fmt: skip
                conn.execute(self._insert(t.blobs).on_conflict_do_nothing(),
                             [{"sha256": sha, "size": len(signed), "content": signed}])  # fmt: skip
                done = conn.execute(
                    sa.update(t.signing_sessions).where(s.id == session_id, s.state == SessionState.AWAITING)
                    .values(state=SessionState.COMPLETED, completed_at=now, signed_sha256=sha,
                            signature_sha256=hashlib.sha256(signature).hexdigest())
                    .returning(*t.signing_sessions.c)
                ).first()  # fmt: skip
                if done is None:
                    raise SessionClosed(f"signing session {session_id} is not awaiting a signature")
        except sa.exc.IntegrityError:
            holder = self.is_issued(row.case_id, row.document) or "?"
            raise AlreadyIssued(row.case_id, [(row.document, holder)]) from None
        return _session(done)

    # -- reading ----------------------------------------------------------------------------

    def get(self, job_id: str) -> Job | None:
        with self._tx() as conn:
            row = conn.execute(sa.select(t.jobs).where(t.jobs.c.id == job_id)).first()
        return _job(row) if row is not None else None

    def stored_requests(self, key_id: str | None, kind: str = "render") -> Iterator[bytes]:
        """The requests of the succeeded jobs of a key (None: every key), oldest first."""
        c = t.jobs.c
        query = sa.select(c.request).where(c.kind == kind, c.state == JobState.SUCCEEDED)
        if key_id is not None:
            query = query.where(c.key_id == key_id)
        with self._tx() as conn:
            rows = conn.execute(query.order_by(c.created_at, c.id)).scalars().all()
        for raw in rows:
            yield bytes(raw)

    def request_of(self, job_id: str) -> bytes | None:
        with self._tx() as conn:
            raw = conn.execute(sa.select(t.jobs.c.request).where(t.jobs.c.id == job_id)).scalar()
        return bytes(raw) if raw is not None else None

    def outputs(self, job_id: str) -> list[Output]:
        o = t.outputs.c
        with self._tx() as conn:
            rows = conn.execute(
                sa.select(o.name, o.media_type, o.sha256, o.size).where(o.job_id == job_id).order_by(o.position)
            ).all()
        return [Output(r.name, r.media_type, r.sha256, r.size) for r in rows]

    def content(self, sha256: str) -> bytes:
        """A stored file by its digest, checked again on the way out."""
        with self._tx() as conn:
            raw = conn.execute(sa.select(t.blobs.c.content).where(t.blobs.c.sha256 == sha256)).scalar()
        content = bytes(raw) if raw is not None else b""
        if hashlib.sha256(content).hexdigest() != sha256:
            raise OutboxUnavailableError(f"stored file {sha256[:12]}… is missing or does not match its sha256")
        return content

    def issued(self, job_id: str) -> list[str]:
        with self._tx() as conn:
            return sorted(conn.execute(
                sa.select(t.issued.c.document).where(t.issued.c.job_id == job_id)
            ).scalars())  # fmt: skip

    def delete(self, job_id: str) -> Job | None:
        """Cancel a queued job (its reservations given back) or remove a finished one with its
        files (what it issued stays recorded: it is never issued again). None if there is no
        such job; :class:`JobBusy` if it is running."""
        now = self.clock()
        c = t.jobs.c
        with self._tx() as conn:
            row = conn.execute(sa.select(t.jobs).where(c.id == job_id)).first()
            if row is None:
                return None
            job = _job(row)
            if job.state == JobState.RUNNING:
                raise JobBusy(f"job {job_id} is running; delete it when it has finished")
            if job.state == JobState.QUEUED:
                done = conn.execute(
                    sa.update(t.jobs).where(c.id == job_id, c.state == JobState.QUEUED)
                    .values(state=JobState.CANCELLED, finished_at=now, updated_at=now)
                ).rowcount  # fmt: skip
                if done != 1:
                    raise JobBusy(f"job {job_id} started meanwhile; delete it when it has finished")
                conn.execute(sa.delete(t.issued).where(t.issued.c.job_id == job_id))
                return job
            names = conn.execute(sa.select(t.outputs.c.sha256).where(t.outputs.c.job_id == job_id)).scalars().all()
            if job.kind in ("journal", "protocol"):  # its cases too, unless another register job holds them
                cases = _cases_blob(conn.execute(sa.select(c.request).where(c.id == job_id)).scalar())
                others = conn.execute(sa.select(c.request).where(c.kind.in_(["journal", "protocol"]), c.id != job_id))
                if cases and all(_cases_blob(r) != cases for (r,) in others):
                    conn.execute(sa.delete(t.blobs).where(t.blobs.c.sha256 == cases))
            conn.execute(sa.delete(t.outputs).where(t.outputs.c.job_id == job_id))
            conn.execute(sa.delete(t.callbacks).where(t.callbacks.c.job_id == job_id))
            conn.execute(sa.delete(t.jobs).where(c.id == job_id))
            still = sa.select(t.outputs.c.sha256).where(t.outputs.c.sha256.in_(list(names)))
            conn.execute(sa.delete(t.blobs).where(t.blobs.c.sha256.in_(list(names)), t.blobs.c.sha256.not_in(still)))
        return job


def _cases_blob(request: Any) -> str | None:
    try:
        return str(json.loads(bytes(request))["cases_sha256"])
    except (ValueError, KeyError, TypeError):
        return None


class JobGone(InputError):
    """The idempotency key names a job that was deleted since."""

    def __init__(self, job_id: str) -> None:
        super().__init__(f"the job {job_id} of this Idempotency-Key was deleted; its response cannot be replayed")
        self.job_id = job_id


def _worker_lost() -> dict[str, Any]:
    return {
        "type": "/v1/problems/worker-lost",
        "title": "The job's workers stopped while rendering it",
        "status": 500,
        "detail": f"the job was claimed {MAX_ATTEMPTS} times and each worker stopped before finishing it; "
        "nothing was issued",
    }
