"""The outbox: a table of items to deliver, each moved between states by one transaction.

SQLite (one file, WAL, ``synchronous=FULL``) is the default; PostgreSQL is used when
``MSEDOCS_DB`` (or ``--db``) is a ``postgresql://`` URL, so that several workers on several
machines can share one queue. Workers claim items with ``UPDATE … WHERE id IN (SELECT … FOR
UPDATE SKIP LOCKED) RETURNING …`` on PostgreSQL; on SQLite every transaction starts with
``BEGIN IMMEDIATE`` and the same ``UPDATE … RETURNING`` claims atomically.

A claim is a lease: an item in ``sending`` whose lease has run out (its worker was killed, or
lost the database) is claimed again by the next worker. The worker then asks the portal
whether the delivery under the item's idempotency key already arrived before sending it again.

Documents are kept in the database itself (table ``outbox_blobs``, content-addressed by
sha256): the item and its documents are committed in one transaction, so there is never an item
without its documents nor a file without its item, and the database's own durability (WAL +
fsync on SQLite, WAL on PostgreSQL) covers both. The sha256 is checked again on every read.

Timestamps are naive UTC, taken from the outbox's clock (so workers' clocks must be in sync, as
with any lease); due dates are calendar dates of the production calendar.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
import os
import random
import sqlite3
import time
import uuid
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass, field
from importlib.resources import files
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy import Connection, Engine, event
from sqlalchemy.dialects import postgresql as pg_dialect
from sqlalchemy.dialects import sqlite as sqlite_dialect

from generators.resources import as_path
from msedocs import tables
from msedocs.delivery import schema as t
from msedocs.delivery.calendar import check_country, extract_due_date
from msedocs.delivery.models import (
    TRANSITIONS,
    Channel,
    DocumentLike,
    HistoryEntry,
    Item,
    OutboxDocument,
    Recipient,
    RetryPolicy,
    Sender,
    State,
    StoredDocument,
)
from msedocs.delivery.tracking import TrackingRange, make_tracking_number
from msedocs.errors import DeliveryError, InputError

log = logging.getLogger("msedocs.delivery")

MIGRATIONS = as_path(files("msedocs.delivery") / "migrations")  # a real folder, as Alembic wants
DEFAULT_SQLITE_PATH = Path(".msedocs") / "outbox.sqlite3"


class OutboxUnavailableError(DeliveryError):
    """The outbox database cannot be reached or is busy; retrying later may succeed (exit code 1)."""


class BadOutboxError(InputError):
    """``--db`` / ``MSEDOCS_DB`` names no usable outbox: no such file or folder (and no
    ``create``), a folder, a read-only file, a file that is not a SQLite database, a database
    without the outbox's tables, a PostgreSQL database or role the server does not know, an
    unsupported URL. The user can fix it (exit code 2)."""


class AlreadyQueuedError(InputError):
    """A statutory document of a case is already in the outbox: each is issued once, whatever
    door it came in by (exit code 2). A person looks at the item (``queue show``) and retries it
    there (``queue retry``) instead of queueing the document again."""

    def __init__(self, case_ref: str, clashes: Sequence[tuple[str, int]]) -> None:
        listed = ", ".join(f"{name} (item {item})" for name, item in clashes)
        super().__init__(
            f"case {case_ref}: already in the outbox: {listed}; a document is issued once, nothing queued "
            f"(see `msedocs queue show {clashes[0][1]}`)"
        )
        self.case_ref = case_ref
        self.clashes = list(clashes)


class InvalidTransitionError(DeliveryError):
    """An item is not in a state from which the asked transition is allowed."""


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC).replace(tzinfo=None)


def default_db_url() -> str:
    """``MSEDOCS_DB`` if set, else a SQLite file ``.msedocs/outbox.sqlite3`` in the working folder."""
    return os.environ.get("MSEDOCS_DB") or f"sqlite:///{DEFAULT_SQLITE_PATH.resolve()}"


def normalise_url(url: str) -> str:
    """Use psycopg 3 for ``postgresql://`` / ``postgres://`` URLs."""
    for prefix in ("postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url


def _enable_wal(cur: Any, *, timeout: float) -> None:
    """Put the SQLite file in WAL mode (it stays so). Connections opening a new file at once
    race for the switch, and SQLite answers the losers «database is locked» at once, without
    its busy handler: retry until the file is in WAL mode, for at most ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            if cur.execute("PRAGMA journal_mode").fetchone()[0].lower() != "wal":
                cur.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() > deadline:
                raise
            time.sleep(0.01)


def shown_url(url: str) -> str:
    """The URL as the user gave it, without its password: what error messages name."""
    try:
        return sa.make_url(url).render_as_string(hide_password=True)
    except sa.exc.ArgumentError:
        return url


SQLITE_HEADER = b"SQLite format 3\x00"
INIT_HINT = "create one with `msedocs queue init --db URL` (a worker also creates it with --create)"


def _sqlite_path(url: str) -> Path | None:
    parsed = sa.make_url(url)
    if parsed.get_backend_name() != "sqlite" or not parsed.database or parsed.database == ":memory:":
        return None
    if parsed.database.startswith("file:"):  # a SQLite URI: SQLite itself checks it
        return None
    return Path(parsed.database)


#: SQLite files whose header this process has read. A file is never opened with ``open()`` again
#: once it is known: closing any descriptor of a file drops every POSIX lock the process holds on
#: it, SQLite's own included, so a second look while the process has connections to the file (a
#: store opened after another on the same database, as ``msedocs serve`` does) breaks their
#: locking: another process may then checkpoint and delete the WAL index under them ("disk I/O
#: error").
_SQLITE_HEADERS_READ: set[Path] = set()


def check_sqlite_file(url: str, *, create: bool) -> None:
    """Refuse, before SQLite touches anything, a SQLite ``url`` that is no usable outbox; with
    ``create``, make the folder of a new one. Raises :class:`BadOutboxError`."""
    path = _sqlite_path(url)
    if path is None:
        return
    where = f"--db {shown_url(url)}"
    if path.is_dir():
        raise BadOutboxError(f"{where}: {path} is a folder, not an outbox file")
    if not path.exists():
        if not path.parent.is_dir():
            if not create:
                raise BadOutboxError(f"{where}: the folder {path.parent} does not exist; {INIT_HINT}")
            try:
                path.parent.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise BadOutboxError(f"{where}: cannot create the folder {path.parent}: {exc.strerror}") from exc
        elif not create:
            raise BadOutboxError(f"{where}: {path} does not exist; {INIT_HINT}")
        if not os.access(path.parent, os.W_OK | os.X_OK):
            raise BadOutboxError(f"{where}: the folder {path.parent} is read-only; the outbox cannot be created there")
        return
    if not os.access(path, os.R_OK | os.W_OK):
        raise BadOutboxError(f"{where}: {path} is read-only; the outbox needs write access to it")
    if not os.access(path.parent, os.W_OK | os.X_OK):
        raise BadOutboxError(
            f"{where}: the folder {path.parent} is read-only; the outbox needs to write its journal files there"
        )
    known = path.resolve() in _SQLITE_HEADERS_READ
    try:
        if known:
            head = SQLITE_HEADER
        else:
            with path.open("rb") as f:
                head = f.read(len(SQLITE_HEADER))
    except OSError as exc:
        raise BadOutboxError(f"{where}: cannot read {path}: {exc.strerror}") from exc
    if head == SQLITE_HEADER:
        _SQLITE_HEADERS_READ.add(path.resolve())
    if not head:
        if not create:
            raise BadOutboxError(f"{where}: {path} holds no msedocs outbox (an empty file); {INIT_HINT}")
        return
    if head != SQLITE_HEADER:
        raise BadOutboxError(f"{where}: {path} is not a SQLite database")
    if create:
        return
    # Read-only look, so that a SQLite file of something else is never switched to WAL or migrated.
    try:
        con = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True, timeout=60)
        try:
            found = con.execute(
                "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'outbox_alembic_version'"
            ).fetchone()
        finally:
            con.close()
    except sqlite3.DatabaseError as exc:
        raise BadOutboxError(f"{where}: {path} is not a usable SQLite database ({exc})") from exc
    if found is None:
        raise BadOutboxError(f"{where}: {path} holds no msedocs outbox (no outbox tables); {INIT_HINT}")


def connect_error(url: str, exc: sa.exc.DBAPIError) -> BadOutboxError | OutboxUnavailableError:
    """What a failure to open the outbox means for the user: a server that cannot be reached
    (exit 1, try again later) or a database, role or file that is wrong (exit 2)."""
    where = f"--db {shown_url(url)}"
    text = str(exc.orig) if exc.orig is not None else str(exc)
    first = text.strip().splitlines()[0] if text.strip() else type(exc.orig).__name__
    if "FATAL:" in first:  # the server answered: the database, role or password is wrong
        return BadOutboxError(f"{where}: the PostgreSQL server refused: {first.split('FATAL:', 1)[1].strip()}")
    if "not a database" in first or "malformed" in first:
        return BadOutboxError(f"{where}: not a usable SQLite database ({first})")
    if "readonly" in first or "read-only" in first:
        return BadOutboxError(f"{where}: the outbox is read-only ({first})")
    parsed = sa.make_url(url)
    if parsed.get_backend_name() == "postgresql":
        reason = first.rsplit("failed:", 1)[-1].strip() if "failed:" in first else first
        host = f"{parsed.host or 'localhost'}:{parsed.port or 5432}"
        return OutboxUnavailableError(
            f"{where}: cannot connect to the PostgreSQL server at {host} ({reason}); is it running?"
        )
    return OutboxUnavailableError(f"{where}: the outbox database is unavailable ({first})")


def make_engine(url: str, *, sqlite_synchronous: str = "FULL") -> Engine:
    """An engine for the outbox. SQLite gets WAL, a busy timeout and ``BEGIN IMMEDIATE``.
    Checks nothing on disk: :class:`Outbox` does (``check_sqlite_file``)."""
    url = normalise_url(url)
    try:
        parsed = sa.make_url(url)
    except sa.exc.ArgumentError as exc:
        raise BadOutboxError(f"--db / MSEDOCS_DB: not a SQLAlchemy URL: {exc}") from exc
    if parsed.get_backend_name() == "sqlite":
        engine = sa.create_engine(url, connect_args={"timeout": 60})

        @event.listens_for(engine, "connect")
        def _on_connect(dbapi_connection: Any, _record: Any) -> None:
            dbapi_connection.isolation_level = None  # we issue BEGIN ourselves
            cur = dbapi_connection.cursor()
            cur.execute("PRAGMA busy_timeout=60000")
            _enable_wal(cur, timeout=60.0)
            cur.execute(f"PRAGMA synchronous={sqlite_synchronous}")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.close()

        @event.listens_for(engine, "begin")
        def _on_begin(conn: Connection) -> None:
            conn.exec_driver_sql("BEGIN IMMEDIATE")

        return engine
    if parsed.get_backend_name() == "postgresql":
        return sa.create_engine(url, pool_pre_ping=True, connect_args={"connect_timeout": 10})
    raise BadOutboxError(
        f"--db / MSEDOCS_DB: unsupported database {parsed.get_backend_name()!r}; use sqlite or postgresql"
    )


#: Newest Alembic revision in migrations/versions; checked first so that a worker starts fast.
HEAD_REVISION = "0003"


def _version(engine: Engine) -> str | None:
    """The outbox's Alembic revision; None if the database has no outbox tables yet."""
    return tables.schema_version(engine, "outbox_alembic_version")


def _at_head(engine: Engine) -> bool:
    return _version(engine) == HEAD_REVISION


def migrate(engine: Engine) -> None:
    """Bring the schema to the newest Alembic revision (serialised between processes)."""
    if _at_head(engine):
        return
    tables.upgrade(engine, MIGRATIONS, 7152046692)


@dataclass(frozen=True)
class Claim:
    """An item claimed by a worker, with the documents it has to send."""

    item: Item
    documents: list[StoredDocument] = field(repr=False)


@dataclass(frozen=True)
class EnqueueRequest:
    documents: Sequence[OutboxDocument | DocumentLike]
    case_ref: str
    channel: str
    recipient: Recipient
    decision_date: dt.date
    country: str = "RU"
    due_date: dt.date | None = None
    fallback_to_paper: bool = True
    sender: Sender | None = None
    """The bureau sending it by registered mail (None: the configured sender is printed)."""


@dataclass(frozen=True)
class DeadlineReport:
    today: dt.date
    due: list[Item]
    overdue: list[Item]
    delivered_late: list[Item]

    def to_json(self) -> dict[str, Any]:
        def rows(items: list[Item]) -> list[dict[str, Any]]:
            out = []
            for it in items:
                row = it.summary()
                done = it.completed_on
                row["completed_on"] = done.isoformat() if done else None
                out.append(row)
            return out

        return {
            "date": self.today.isoformat(),
            "due": rows(self.due),
            "overdue": rows(self.overdue),
            "delivered_late": rows(self.delivered_late),
        }


@dataclass(frozen=True)
class PostalList:
    number: int
    list_date: dt.date
    items: list[Item]


def _item(row: Any) -> Item:
    m = dict(row._mapping)
    m["recipient"] = Recipient.from_json(m["recipient"])
    m["sender"] = Sender.from_json(m.get("sender"))
    return Item(**m)


def _as_document(doc: OutboxDocument | DocumentLike) -> OutboxDocument:
    if isinstance(doc, OutboxDocument):
        return doc
    return OutboxDocument.from_rendered(doc)


class Outbox(AbstractContextManager["Outbox"]):
    """The delivery queue. Open one per process; it is safe to share between threads."""

    def __init__(
        self,
        url: str | None = None,
        *,
        clock: Callable[[], dt.datetime] = utcnow,
        run_migrations: bool = True,
        sqlite_synchronous: str = "FULL",
        rng: random.Random | None = None,
        create: bool = False,
    ) -> None:
        """Open the outbox at ``url`` (default :func:`default_db_url`). An outbox that does not
        exist yet is created only with ``create`` (``msedocs queue init``, ``--create``,
        ``render --queue``); without it, a missing or unusable one raises
        :class:`BadOutboxError` (exit 2), and a server that cannot be reached
        :class:`OutboxUnavailableError` (exit 1). Never reads a wrong path as an empty outbox."""
        self.url = normalise_url(url or default_db_url())
        self.engine = make_engine(self.url, sqlite_synchronous=sqlite_synchronous)
        self.clock = clock
        self.rng = rng or random.Random()
        self.is_postgresql = self.engine.dialect.name == "postgresql"
        try:
            check_sqlite_file(self.url, create=create)
            if run_migrations:
                self._open(create)
        except BaseException:
            self.engine.dispose()
            raise

    def _open(self, create: bool) -> None:
        try:
            version = _version(self.engine)
            if version is None and not create and self.is_postgresql:  # SQLite: checked by check_sqlite_file
                raise BadOutboxError(
                    f"--db {shown_url(self.url)}: holds no msedocs outbox (no outbox tables); {INIT_HINT}"
                )
            if version != HEAD_REVISION:
                migrate(self.engine)
        except sa.exc.DBAPIError as exc:
            raise connect_error(self.url, exc) from exc

    def close(self) -> None:
        self.engine.dispose()

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- plumbing ---------------------------------------------------------------------------

    @contextmanager
    def _unavailable_as_error(self) -> Iterator[None]:
        try:
            yield
        except (sa.exc.OperationalError, sa.exc.InterfaceError) as exc:
            raise OutboxUnavailableError(connect_error(self.url, exc).message) from exc

    @contextmanager
    def _tx(self) -> Iterator[Connection]:
        with self._unavailable_as_error(), self.engine.begin() as conn:
            yield conn

    def _insert(self, table: sa.Table) -> Any:
        return (pg_dialect.insert if self.is_postgresql else sqlite_dialect.insert)(table)

    def _transition(
        self,
        conn: Connection,
        item_id: int,
        to_state: str,
        reason: str,
        *,
        expect: Iterable[str],
        worker: str | None = None,
        where: Sequence[Any] = (),
        values: dict[str, Any] | None = None,
        now: dt.datetime | None = None,
    ) -> Item | None:
        """Move one item ``expect → to_state`` and write its history row. None if it was not in ``expect``."""
        now = now or self.clock()
        stmt = (
            sa.update(t.items)
            .where(t.items.c.id == item_id, t.items.c.state.in_(list(expect)), *where)
            .values(state=to_state, prev_state=t.items.c.state, updated_at=now, **(values or {}))
            .returning(*t.items.c)
        )
        row = conn.execute(stmt).first()
        if row is None:
            return None
        self._check_and_log(conn, [row], to_state, reason, worker, now)
        return _item(row)

    def _from_sending(
        self, conn: Connection, item_id: int, worker_id: str, to_state: str, reason: str, values: dict[str, Any],
        now: dt.datetime | None = None,
    ) -> Item | None:
        """Move an item that ``worker_id`` holds (``sending``, claimed by it) to ``to_state``; None if
        the claim was lost."""
        return self._transition(conn, item_id, to_state, reason, expect=[State.SENDING], worker=worker_id,
                                where=[t.items.c.claimed_by == worker_id], values=values, now=now)  # fmt: skip

    def _check_and_log(
        self,
        conn: Connection,
        rows: Sequence[Any],
        to_state: str,
        reason: str,
        worker: str | None,
        now: dt.datetime,
    ) -> None:
        entries = []
        for row in rows:
            old_channel = row.channel
            if (
                row.prev_state in (State.SENDING, State.UNRESOLVED)
                and to_state == State.QUEUED
                and row.channel == Channel.POST
            ):
                old_channel = Channel.PORTAL  # fallback from portal to paper
            if row.prev_state is not None and to_state not in TRANSITIONS.get((old_channel, row.prev_state), ()):
                raise InvalidTransitionError(
                    f"item {row.id}: {old_channel} item cannot go from {row.prev_state} to {to_state}"
                )
            entries.append(
                {
                    "item_id": row.id,
                    "at": now,
                    "from_state": row.prev_state,
                    "to_state": to_state,
                    "channel": row.channel,
                    "reason": reason,
                    "worker": worker,
                }
            )
            log.info("item %s: %s -> %s", row.id, row.prev_state, to_state)
        if entries:
            conn.execute(sa.insert(t.history), entries)

    # -- enqueue ----------------------------------------------------------------------------

    def enqueue(
        self,
        documents: Sequence[OutboxDocument | DocumentLike],
        case_ref: str,
        channel: str,
        recipient: Recipient,
        decision_date: dt.date,
        country: str = "RU",
        *,
        due_date: dt.date | None = None,
        fallback_to_paper: bool = True,
        sender: Sender | None = None,
    ) -> int:
        """Queue documents for one recipient; return the item id.

        ``channel`` is ``portal``, ``post`` or ``auto`` (paper if the citizen asked for it or has
        no portal account). The due date is 3 working days after ``decision_date`` by the
        ``country``'s production calendar unless given.
        """
        req = EnqueueRequest(
            documents, case_ref, channel, recipient, decision_date, country, due_date, fallback_to_paper, sender
        )
        return self.enqueue_many([req])[0]

    def enqueue_many(self, requests: Iterable[EnqueueRequest]) -> list[int]:
        """Queue several items in one transaction (all or none). ``requests`` may be a generator:
        each request is prepared and written before the next is drawn, so a batch whose documents
        are read from files one case at a time never holds them all in memory."""
        ids: list[int] = []
        now = self.clock()
        with self._tx() as conn:
            for request in requests:
                values, docs = self._prepare(request)
                names = issued_names(docs)
                issued = self._issued(conn, values["case_ref"], names)
                if issued:
                    raise AlreadyQueuedError(values["case_ref"], issued)
                blobs = {d.sha256: {"sha256": d.sha256, "size": len(d.content), "content": d.content} for d in docs}
                conn.execute(self._insert(t.blobs).on_conflict_do_nothing(), list(blobs.values()))
                values.update(created_at=now, updated_at=now, next_attempt_at=now)
                item_id = conn.execute(sa.insert(t.items).values(**values).returning(t.items.c.id)).scalar_one()
                ids.append(item_id)
                conn.execute(
                    sa.insert(t.documents),
                    [
                        {
                            "item_id": item_id,
                            "position": i,
                            "name": d.name,
                            "media_type": d.media_type,
                            "role": d.role,
                            "sha256": d.sha256,
                            "size": len(d.content),
                        }
                        for i, d in enumerate(docs)
                    ],
                )
                conn.execute(
                    sa.insert(t.history).values(
                        item_id=item_id,
                        at=now,
                        from_state=None,
                        to_state=State.QUEUED,
                        channel=values["channel"],
                        reason="enqueued",
                        worker=None,
                    )
                )
                try:  # the primary key settles a race between two callers queueing the same document
                    with conn.begin_nested():
                        conn.execute(
                            sa.insert(t.issued),
                            [{"case_ref": values["case_ref"], "document": n, "item_id": item_id} for n in names],
                        )
                except sa.exc.IntegrityError:
                    raise AlreadyQueuedError(
                        values["case_ref"], self._issued(conn, values["case_ref"], names) or [(n, 0) for n in names]
                    ) from None
        for item_id in ids:
            log.info("item %s: -> queued", item_id)
        return ids

    @staticmethod
    def _issued(conn: Connection, case_ref: str, names: Sequence[str]) -> list[tuple[str, int]]:
        c = t.issued.c
        rows = conn.execute(
            sa.select(c.document, c.item_id).where(c.case_ref == case_ref, c.document.in_(list(names)))
        ).all()
        return sorted((row.document, row.item_id) for row in rows)

    def issued(self, case_ref: str, names: Sequence[str]) -> list[tuple[str, int]]:
        """The documents of ``names`` already issued for ``case_ref``, with the item carrying each."""
        with self._tx() as conn:
            return self._issued(conn, case_ref, names)

    def _prepare(self, r: EnqueueRequest) -> tuple[dict[str, Any], list[OutboxDocument]]:
        docs = [_as_document(d) for d in r.documents]
        if not docs:
            raise InputError("enqueue: an item needs at least one document")
        for d in docs:
            if d.role not in ("electronic", "paper"):
                raise InputError(f"enqueue: document {d.name!r}: role must be electronic or paper, not {d.role!r}")
        if not r.case_ref or len(r.case_ref) > 200:
            raise InputError("enqueue: case_ref must be 1-200 characters")
        channel = r.channel
        if channel == "auto":
            wants_paper = r.recipient.paper_requested or not r.recipient.portal_account
            channel = Channel.POST if wants_paper else Channel.PORTAL
        if channel not in Channel.ALL:
            raise InputError(f"enqueue: channel must be portal, post or auto, not {channel!r}")
        if channel == Channel.PORTAL and not r.recipient.portal_account:
            raise InputError("enqueue: recipient.portal_account is required for the portal channel")
        if channel == Channel.POST and not r.recipient.has_postal_address:
            raise InputError("enqueue: recipient.name, postcode and address are required for registered mail")
        # Keep only the personal data the channel needs: no name or address for a portal item
        # without a paper fall-back, and then no paper variant either (it prints both).
        fallback = channel == Channel.PORTAL and r.fallback_to_paper and r.recipient.has_postal_address
        recipient = r.recipient.for_channel(channel, fallback)
        if channel == Channel.PORTAL and not fallback:
            docs = [d for d in docs if d.role != "paper"]
            if not docs:
                raise InputError("enqueue: a portal item needs an electronic document")
        country = check_country(r.country)
        due = r.due_date or extract_due_date(r.decision_date, country)
        values = {
            "key": uuid.uuid4().hex,
            "case_ref": r.case_ref,
            "channel": channel,
            "state": State.QUEUED,
            "country": country,
            "decision_date": r.decision_date,
            "due_date": due,
            "recipient": recipient.to_json(),
            "sender": r.sender.to_json() if r.sender is not None else None,
            "fallback_to_paper": fallback,
            "attempts": 0,
        }
        return values, docs

    # -- portal worker side -----------------------------------------------------------------

    def _due_condition(self, now: dt.datetime) -> Any:
        c = t.items.c
        return sa.or_(
            sa.and_(c.state.in_([State.QUEUED, State.RETRY_WAIT]), c.next_attempt_at <= now),
            sa.and_(c.state == State.SENDING, c.lease_until < now),
        )

    def claim_due(self, worker_id: str, limit: int = 16, lease: float = 60.0) -> list[Claim]:
        """Claim up to ``limit`` portal items that are due, for ``lease`` seconds; one transaction."""
        now = self.clock()
        c = t.items.c
        sub = (
            sa.select(c.id)
            .where(c.channel == Channel.PORTAL, self._due_condition(now))
            .order_by(c.due_date, c.id)
            .limit(limit)
        )
        if self.is_postgresql:
            sub = sub.with_for_update(skip_locked=True)
        stmt = (
            sa.update(t.items)
            .where(c.id.in_(sub.scalar_subquery()))
            .values(
                state=State.SENDING,
                prev_state=c.state,
                claimed_by=worker_id,
                lease_until=now + dt.timedelta(seconds=lease),
                attempts=c.attempts + 1,
                updated_at=now,
            )
            .returning(*t.items.c)
        )
        with self._tx() as conn:
            rows = conn.execute(stmt).all()
            if not rows:
                return []
            fresh = [r for r in rows if r.prev_state != State.SENDING]
            reclaimed = [r for r in rows if r.prev_state == State.SENDING]
            self._check_and_log(conn, fresh, State.SENDING, "claimed", worker_id, now)
            self._check_and_log(conn, reclaimed, State.SENDING, "reclaimed after its lease ran out", worker_id, now)
            docs = self._documents(conn, [r.id for r in rows], role="electronic")
        return [Claim(_item(r), docs.get(r.id, [])) for r in sorted(rows, key=lambda r: (r.due_date, r.id))]

    def _documents(
        self, conn: Connection, item_ids: list[int], role: str | None = None
    ) -> dict[int, list[StoredDocument]]:
        d, b = t.documents, t.blobs
        q = (
            sa.select(d.c.item_id, d.c.name, d.c.media_type, d.c.role, d.c.sha256, d.c.size, b.c.content)
            .join(b, b.c.sha256 == d.c.sha256)
            .where(d.c.item_id.in_(item_ids))
            .order_by(d.c.item_id, d.c.position)
        )
        if role is not None:
            q = q.where(d.c.role == role)
        out: dict[int, list[StoredDocument]] = {}
        for row in conn.execute(q):
            content = bytes(row.content)
            if hashlib.sha256(content).hexdigest() != row.sha256:
                raise DeliveryError(f"item {row.item_id}: stored document {row.name!r} does not match its sha256")
            out.setdefault(row.item_id, []).append(
                StoredDocument(row.name, row.media_type, row.role, row.sha256, row.size, content)
            )
        return out

    def documents(self, item_id: int, role: str | None = None) -> list[StoredDocument]:
        with self._tx() as conn:
            return self._documents(conn, [item_id], role).get(item_id, [])

    def mark_delivered(self, item_id: int, worker_id: str, reason: str = "accepted by the portal") -> bool:
        """``sending → delivered`` if ``worker_id`` still holds the claim. False if it does not."""
        now = self.clock()
        with self._tx() as conn:
            values = {"completed_at": now, "lease_until": None, "last_reason": None}
            item = self._from_sending(conn, item_id, worker_id, State.DELIVERED, reason, values, now)
        return item is not None

    def mark_delivered_many(
        self, item_ids: Sequence[int], worker_id: str, reason: str = "accepted by the portal"
    ) -> list[int]:
        """``sending → delivered`` for several items in one transaction (group commit); each item's
        transition and history row are still atomic. Returns the ids whose claim was still held."""
        if not item_ids:
            return []
        now = self.clock()
        c = t.items.c
        stmt = (
            sa.update(t.items)
            .where(c.id.in_(list(item_ids)), c.state == State.SENDING, c.claimed_by == worker_id)
            .values(
                state=State.DELIVERED,
                prev_state=c.state,
                updated_at=now,
                completed_at=now,
                lease_until=None,
                last_reason=None,
            )
            .returning(c.id, c.channel, c.prev_state)
        )
        with self._tx() as conn:
            rows = conn.execute(stmt).all()
            self._check_and_log(conn, rows, State.DELIVERED, reason, worker_id, now)
        return [r.id for r in rows]

    def mark_failed(
        self,
        item_id: int,
        worker_id: str,
        reason: str,
        policy: RetryPolicy | None = None,
        *,
        permanent: bool = False,
        ambiguous: bool = False,
        probe_failed: bool = False,
    ) -> str | None:
        """Record a failed attempt: ``retry_wait`` with backoff, ``dead`` after the last attempt, or a
        fall back to registered mail. Returns the new state, or None if the claim was lost.

        An ``ambiguous`` failure (the portal may have got the item: a POST without an answer, or a
        status probe that failed) never falls back to paper: the next attempt asks the portal
        first. When the paper fall-back would be due by the deadline rule — the last attempt, or
        a ``probe_failed`` (the portal was asked and could not say) within
        ``fallback_margin_days`` of the due date — the item goes to ``unresolved`` for a person
        to decide, instead of ``dead`` or paper."""
        policy = policy or RetryPolicy()
        now = self.clock()
        c = t.items.c
        with self._tx() as conn:
            q = sa.select(t.items).where(c.id == item_id, c.state == State.SENDING, c.claimed_by == worker_id)
            if self.is_postgresql:
                q = q.with_for_update()
            row = conn.execute(q).first()
            if row is None:
                return None
            item = _item(row)
            last = permanent or item.attempts >= policy.max_attempts
            near_deadline = (item.due_date - now.date()).days <= policy.fallback_margin_days
            paper_possible = policy.fallback_to_paper and item.fallback_to_paper and item.recipient.has_postal_address
            fallback = (
                not ambiguous
                and paper_possible
                and (last or near_deadline or item.attempts >= policy.fallback_after_attempts)
            )
            common: dict[str, Any] = {"claimed_by": None, "lease_until": None, "last_reason": reason}
            if ambiguous and paper_possible and (last or (probe_failed and near_deadline)):
                to, values = State.UNRESOLVED, common
                why = (f"{reason}; portal outcome unknown, paper would be due: a person decides "
                       "(msedocs queue resolve ID --delivered | --paper)")  # fmt: skip
            elif fallback:
                to, why = State.QUEUED, f"portal failed ({reason}); falling back to registered mail"
                values = {**common, "channel": Channel.POST, "next_attempt_at": now}
            elif last:
                to, why, values = State.DEAD, reason, common
            else:
                wait = policy.delay(item.attempts, self.rng)
                to, why = State.RETRY_WAIT, f"{reason}; retry in {wait:.1f} s"
                values = {**common, "next_attempt_at": now + dt.timedelta(seconds=wait)}
            self._from_sending(conn, item_id, worker_id, to, why, values, now)
            return to

    def release(self, item_id: int, worker_id: str, reason: str = "released by a stopping worker") -> bool:
        """Give back a claimed item that was not attempted (``sending → queued``)."""
        with self._tx() as conn:
            values = {"claimed_by": None, "lease_until": None, "attempts": t.items.c.attempts - 1}
            item = self._from_sending(conn, item_id, worker_id, State.QUEUED, reason, values)
        return item is not None

    def retry(self, item_id: int, reason: str = "retry requested", *, worker: str | None = None) -> Item:
        """Queue a dead, waiting or returned item again now (attempts start over); ``worker``
        names who asked (a clerk's ``web:NAME``) in the history."""
        now = self.clock()
        with self._tx() as conn:
            found = conn.execute(
                sa.select(t.items.c.channel, t.items.c.tracking_number).where(t.items.c.id == item_id)
            ).first()
            if found is None:
                raise InputError(f"item {item_id}: no such item")
            current, old_tracking = found
            if old_tracking:  # the number stays in the history; it is never given out again
                reason = f"{reason} (was tracking number {old_tracking})"
            values: dict[str, Any] = {
                "attempts": 0,
                "next_attempt_at": now,
                "claimed_by": None,
                "lease_until": None,
            }
            if current == Channel.POST:
                expect = [State.DEAD, State.RETURNED, State.PRINTED]
                values.update(tracking_number=None, list_number=None, list_date=None, handed_over_on=None)
            else:
                expect = [State.DEAD, State.RETRY_WAIT, State.UNRESOLVED]
            item = self._transition(
                conn, item_id, State.QUEUED, reason, expect=expect, values=values, now=now, worker=worker
            )
            if item is None:
                raise InvalidTransitionError(f"item {item_id}: only {', '.join(expect)} items can be retried")
        return item

    def resolve(self, item_id: int, *, delivered: bool, reason: str = "resolved by hand") -> Item:
        """A person's decision on an ``unresolved`` portal item: the portal has it (``delivered``),
        or it has not (``delivered=False``: queued for registered mail)."""
        now = self.clock()
        with self._tx() as conn:
            row = conn.execute(sa.select(t.items).where(t.items.c.id == item_id)).first()
            if row is None:
                raise InputError(f"item {item_id}: no such item")
            current = _item(row)
            if current.state != State.UNRESOLVED:
                raise InvalidTransitionError(
                    f"item {item_id}: only an unresolved item can be resolved (it is {current.state})"
                )
            if delivered:
                item = self._transition(conn, item_id, State.DELIVERED, f"{reason}: the portal has it",
                                        expect=[State.UNRESOLVED], values={"completed_at": now, "last_reason": None},
                                        now=now)  # fmt: skip
            else:
                if not current.recipient.has_postal_address:
                    raise InputError(f"item {item_id}: no postal address is kept for it; it cannot go on paper")
                values = {"channel": Channel.POST, "next_attempt_at": now, "attempts": 0}
                why = f"{reason}: the portal does not have it; registered mail"
                item = self._transition(conn, item_id, State.QUEUED, why, expect=[State.UNRESOLVED], values=values,
                                        now=now)  # fmt: skip
            if item is None:  # changed in between
                raise InvalidTransitionError(f"item {item_id}: only an unresolved item can be resolved")
        return item

    # -- reading ----------------------------------------------------------------------------

    def get(self, item_id: int) -> Item:
        with self._tx() as conn:
            row = conn.execute(sa.select(t.items).where(t.items.c.id == item_id)).first()
        if row is None:
            raise InputError(f"item {item_id}: no such item")
        return _item(row)

    def history(self, item_id: int) -> list[HistoryEntry]:
        h = t.history.c
        with self._tx() as conn:
            rows = conn.execute(
                sa.select(h.at, h.from_state, h.to_state, h.channel, h.reason, h.worker)
                .where(h.item_id == item_id)
                .order_by(h.id)
            ).all()
        return [HistoryEntry(*r) for r in rows]

    def counts(self) -> dict[str, int]:
        """Number of items per state (every state, zeros included)."""
        c = t.items.c
        with self._tx() as conn:
            rows = conn.execute(sa.select(c.state, sa.func.count()).group_by(c.state)).all()
        out = dict.fromkeys(State.ALL, 0)
        out.update({state: n for state, n in rows})
        return out

    def list_items(
        self,
        state: str | None = None,
        channel: str | None = None,
        *,
        list_number: int | None = None,
        limit: int | None = None,
    ) -> list[Item]:
        c = t.items.c
        q = sa.select(t.items).order_by(c.id)
        if state is not None:
            q = q.where(c.state == state)
        if channel is not None:
            q = q.where(c.channel == channel)
        if list_number is not None:
            q = q.where(c.list_number == list_number)
        if limit is not None:
            q = q.limit(limit)
        with self._tx() as conn:
            return [_item(r) for r in conn.execute(q)]

    def find_items(
        self,
        *,
        channel: str | None = None,
        states: Sequence[str] | None = None,
        due_from: dt.date | None = None,
        due_to: dt.date | None = None,
        search: str | None = None,
        ids: Sequence[int] | None = None,
        limit: int = 1000,
    ) -> list[Item]:
        """Items by channel, states, due date (inclusive) and a search text (a case reference it
        contains, a tracking number it starts with, or the item's id), by due date then id."""
        c = t.items.c
        q = sa.select(t.items).order_by(c.due_date, c.id).limit(limit)
        if channel is not None:
            q = q.where(c.channel == channel)
        if states is not None:
            q = q.where(c.state.in_(list(states)))
        if due_from is not None:
            q = q.where(c.due_date >= due_from)
        if due_to is not None:
            q = q.where(c.due_date <= due_to)
        if ids is not None:
            q = q.where(c.id.in_(list(ids)))
        if search:
            pattern = search.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
            found: list[Any] = [
                c.case_ref.ilike(f"%{pattern}%", escape="\\"),
                c.tracking_number.like(f"{pattern}%", escape="\\"),
            ]
            if search.isdigit() and len(search) <= 18:
                found.append(c.id == int(search))
            q = q.where(sa.or_(*found))
        with self._tx() as conn:
            return [_item(r) for r in conn.execute(q)]

    def find_tracking(self, tracking_number: str) -> Item | None:
        """The item carrying ``tracking_number``, None if none does."""
        with self._tx() as conn:
            row = conn.execute(sa.select(t.items).where(t.items.c.tracking_number == tracking_number)).first()
        return _item(row) if row is not None else None

    def tracking_ranges(self) -> list[tuple[str, int, int, int]]:
        """Registered ranges: (prefix, first serial, last serial, next serial), oldest first."""
        r = t.tracking_ranges.c
        with self._tx() as conn:
            rows = conn.execute(
                sa.select(r.prefix, r.first_serial, r.last_serial, r.next_serial).order_by(r.created_at, r.prefix)
            ).all()
        return [(row.prefix, row.first_serial, row.last_serial, row.next_serial) for row in rows]

    def dead(self) -> list[Item]:
        return self.list_items(State.DEAD)

    def deadline_report(self, today: dt.date) -> DeadlineReport:
        """Open items due today or later, open items past their due date, and items completed late."""
        due: list[Item] = []
        overdue: list[Item] = []
        late: list[Item] = []
        c = t.items.c
        with self._tx() as conn:
            rows = conn.execute(sa.select(t.items).order_by(c.due_date, c.id)).all()
        for item in map(_item, rows):
            done = item.completed_on
            if done is None:
                (due if item.due_date >= today else overdue).append(item)
            elif done > item.due_date:
                late.append(item)
        return DeadlineReport(today, due, overdue, late)

    # -- registered mail --------------------------------------------------------------------

    def add_tracking_range(self, rng: TrackingRange) -> None:
        """Register a range of tracking numbers; adding the same range again does nothing."""
        with self._tx() as conn:
            row = conn.execute(sa.select(t.tracking_ranges).where(t.tracking_ranges.c.prefix == rng.prefix)).first()
            if row is None:
                conn.execute(
                    sa.insert(t.tracking_ranges).values(
                        prefix=rng.prefix,
                        first_serial=rng.first_serial,
                        last_serial=rng.last_serial,
                        next_serial=rng.first_serial,
                        created_at=self.clock(),
                    )
                )
            elif (row.first_serial, row.last_serial) != (rng.first_serial, rng.last_serial):
                raise InputError(
                    f"tracking range {rng.prefix}: already registered as {row.first_serial}-{row.last_serial}"
                )

    def _next_tracking_number(self, conn: Connection) -> str:
        r = t.tracking_ranges.c
        pick = (
            sa.select(r.prefix)
            .where(r.next_serial <= r.last_serial)
            .order_by(r.created_at, r.prefix)
            .limit(1)
            .scalar_subquery()
        )
        row = conn.execute(
            sa.update(t.tracking_ranges)
            .where(r.prefix == pick, r.next_serial <= r.last_serial)
            .values(next_serial=r.next_serial + 1)
            .returning(r.prefix, r.next_serial)
        ).first()
        if row is None:
            raise DeliveryError(
                "no tracking numbers left: register a range (msedocs post batch --range INDEX:MM:FIRST-LAST)"
            )
        prefix, next_serial = row
        return make_tracking_number(prefix[:6], int(prefix[6:]), next_serial - 1)

    def prepare_postal_batch(self, list_date: dt.date, worker_id: str | None = None) -> PostalList | None:
        """Put every queued postal item on a new list (see :meth:`prepare_postal_lists`); the first
        list made, None if nothing was queued."""
        lists = self.prepare_postal_lists(list_date, worker_id)
        return lists[0] if lists else None

    def prepare_postal_lists(
        self, list_date: dt.date, worker_id: str | None = None, *, item_ids: Sequence[int] | None = None
    ) -> list[PostalList]:
        """Put every queued postal item (or only those of ``item_ids`` still queued) on a new list,
        one list per sender (a form-103 list has one sender): give each a tracking number and mark
        it ``printed``. One transaction; the lists in order (items without a sender last), none if
        nothing was queued."""
        now = self.clock()
        c = t.items.c
        with self._tx() as conn:
            q = (
                sa.select(c.id, c.sender)
                .where(c.channel == Channel.POST, c.state == State.QUEUED)
                .order_by(c.due_date, c.id)
            )
            if item_ids is not None:
                q = q.where(c.id.in_(list(item_ids)))
            if self.is_postgresql:
                q = q.with_for_update(skip_locked=True)
            groups: dict[str | None, list[int]] = {}
            for item_id, sender in conn.execute(q).all():
                groups.setdefault(sender, []).append(item_id)
            made = []
            for sender in sorted(groups, key=lambda s: (s is None, s or "")):
                made.append(self._postal_list(conn, list_date, groups[sender], worker_id, now))
        return made

    def _postal_list(
        self, conn: Connection, list_date: dt.date, ids: list[int], worker_id: str | None, now: dt.datetime
    ) -> PostalList:
        """One new list holding ``ids`` (items of one sender), in that order."""
        number = conn.execute(
            sa.insert(t.postal_lists).values(list_date=list_date, created_at=now).returning(t.postal_lists.c.number)
        ).scalar_one()
        out = []
        for item_id in ids:
            tracking = self._next_tracking_number(conn)
            values = {"tracking_number": tracking, "list_number": number, "list_date": list_date}
            item = self._transition(conn, item_id, State.PRINTED, f"put on list {number}", expect=[State.QUEUED],
                                    worker=worker_id, values=values, now=now)  # fmt: skip
            assert item is not None
            out.append(item)
        return PostalList(number, list_date, out)

    def postal_lists(self, list_date: dt.date) -> list[int]:
        p = t.postal_lists.c
        with self._tx() as conn:
            return list(conn.execute(sa.select(p.number).where(p.list_date == list_date).order_by(p.number)).scalars())

    def _post_item_id(self, conn: Connection, tracking_number: str) -> int:
        item_id = conn.execute(sa.select(t.items.c.id).where(t.items.c.tracking_number == tracking_number)).scalar()
        if item_id is None:
            raise InputError(f"tracking number {tracking_number}: no such item")
        return int(item_id)

    def mark_handed_over(
        self, tracking_number: str, on: dt.date, reason: str = "handed over to the post", *, worker: str | None = None
    ) -> Item:
        with self._tx() as conn:
            item_id = self._post_item_id(conn, tracking_number)
            item = self._transition(conn, item_id, State.HANDED_OVER, f"{reason} on {on.isoformat()}",
                                    expect=[State.PRINTED], values={"handed_over_on": on}, worker=worker)  # fmt: skip
        if item is None:
            raise InvalidTransitionError(f"tracking number {tracking_number}: item is not printed")
        return item

    def mark_post_outcome(
        self, tracking_number: str, outcome: str, on: dt.date, reason: str = "", *, worker: str | None = None
    ) -> Item:
        """Record ``delivered`` or ``returned`` for a handed-over postal item (``worker``: who, in
        the history)."""
        if outcome not in (State.DELIVERED, State.RETURNED):
            raise InputError(f"postal outcome must be delivered or returned, not {outcome!r}")
        with self._tx() as conn:
            item_id = self._post_item_id(conn, tracking_number)
            values = {"completed_at": dt.datetime.combine(on, dt.time())}
            item = self._transition(conn, item_id, outcome, f"{reason or outcome} on {on.isoformat()}",
                                    expect=[State.HANDED_OVER], values=values, worker=worker)  # fmt: skip
        if item is None:
            raise InvalidTransitionError(f"tracking number {tracking_number}: item was not handed over")
        return item


def issued_names(documents: Iterable[OutboxDocument]) -> list[str]:
    """What identifies a statutory document within its case: the file name of each electronic
    document (``ru-extract.pdf``); paper variants are the same documents printed."""
    return sorted({d.name for d in documents if d.role != "paper"})


def queue_documents(
    documents: Sequence[OutboxDocument | DocumentLike],
    case_ref: str,
    recipient: Recipient,
    decision_date: dt.date,
    country: str = "RU",
    *,
    channel: str = "auto",
    db_url: str | None = None,
    fallback_to_paper: bool = True,
) -> int:
    """Queue signed documents for delivery in one call (what ``msedocs render --sign --queue``
    uses): opens the outbox at ``db_url`` (default ``MSEDOCS_DB`` or the SQLite file), enqueues,
    closes. Give the extract's paper variant as an :class:`OutboxDocument` with ``role="paper"``."""
    with Outbox(db_url, create=True) as ob:
        return ob.enqueue(
            documents, case_ref, channel, recipient, decision_date, country, fallback_to_paper=fallback_to_paper
        )


def open_outbox(url: str | None = None, *, create: bool = False) -> Outbox:
    """Open the outbox at ``url`` (default ``MSEDOCS_DB`` or the SQLite file), creating it only
    with ``create``. Raises :class:`BadOutboxError` (an :class:`~msedocs.errors.InputError`,
    exit 2) when ``url`` names no usable outbox, :class:`OutboxUnavailableError` (a
    :class:`~msedocs.errors.DeliveryError`, exit 1) when its server cannot be reached."""
    return Outbox(url, create=create)
