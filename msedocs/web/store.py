"""The clerk pages' store: users, sessions, failed sign-ins, the access log, clerks' actions on
items, print batches, and the document numbers found in items (for the search).

The outbox's database (SQLite by default, PostgreSQL by URL) and its engine setup
(:func:`msedocs.delivery.store.make_engine`), with tables of its own under their own Alembic
chain (``web_alembic_version``). Passwords are kept as Argon2id hashes (argon2-cffi, RFC 9106
parameters); a session id is a random token whose SHA-256 alone is stored, so a copy of the
database opens no session. Timestamps are naive UTC, as in the outbox.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets
import unicodedata
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from importlib.resources import files
from typing import Any

import sqlalchemy as sa
from sqlalchemy import Connection, Engine

from generators.resources import as_path
from msedocs import tables
from msedocs.delivery.store import (
    OutboxUnavailableError,
    connect_error,
    make_engine,
    normalise_url,
    utcnow,
)
from msedocs.errors import InputError
from msedocs.web import schema as t

MIGRATIONS = as_path(files("msedocs.web") / "migrations")
HEAD_REVISION = "w0002"
ROLES = ("clerk", "head", "admin")
ROLE_TITLES = {"clerk": "делопроизводитель", "head": "руководитель", "admin": "администратор"}
#: Failed sign-ins of one user name within :data:`LOCKOUT_WINDOW` that close it for the rest of it.
MAX_FAILURES = 5
LOCKOUT_WINDOW = dt.timedelta(minutes=15)
SESSION_IDLE = dt.timedelta(minutes=30)
SESSION_MAX = dt.timedelta(hours=10)
MIN_PASSWORD = 10
MAX_PASSWORD = 256


class UserError(InputError):
    """A user name, role or password that cannot be used (exit 2)."""


@dataclass(frozen=True)
class User:
    id: int
    name: str
    full_name: str | None
    role: str
    active: bool
    created_at: dt.datetime
    last_login_at: dt.datetime | None

    @property
    def shown(self) -> str:
        return self.full_name or self.name

    @property
    def role_title(self) -> str:
        return ROLE_TITLES.get(self.role, self.role)


@dataclass(frozen=True)
class Session:
    user: User
    csrf: str
    expires_at: dt.datetime


@dataclass(frozen=True)
class SignIn:
    """The outcome of a sign-in: a user, or why not (``locked_until`` when locked out)."""

    user: User | None
    locked_until: dt.datetime | None = None


@dataclass(frozen=True)
class Event:
    item_id: int
    at: dt.datetime
    user: str
    action: str
    detail: str


@dataclass(frozen=True)
class Access:
    at: dt.datetime
    user: str
    item_id: int
    action: str


@dataclass(frozen=True)
class AdminAction:
    at: dt.datetime
    user: str
    action: str
    subject: str
    detail: str


@dataclass(frozen=True)
class Batch:
    id: int
    created_at: dt.datetime
    user: str
    list_date: dt.date
    lists: list[int]
    state: str
    """``pending`` (waiting for a builder), ``building``, ``ready`` or ``failed``."""
    error: str | None
    pages: int | None
    duplex: bool = False
    done: int | None = None
    """Items rendered so far while ``building``, of :attr:`total`."""
    total: int | None = None
    lease_until: dt.datetime | None = None
    attempts: int = 0


@dataclass(frozen=True)
class BatchFile:
    name: str
    media_type: str
    size: int


def _user(row: Any) -> User:
    return User(row.id, row.name, row.full_name, row.role, bool(row.active), row.created_at, row.last_login_at)


def check_name(name: str) -> str:
    name = unicodedata.normalize("NFC", name.strip())
    if not 1 <= len(name) <= 64 or not all(ch.isalnum() or ch in "._-@" for ch in name):
        raise UserError("user name: 1-64 letters, digits or . _ - @")
    return name


def check_role(role: str) -> str:
    if role not in ROLES:
        raise UserError(f"--role: one of {', '.join(ROLES)} (got {len(role)} characters)")
    return role


def check_password(password: str) -> str:
    if not MIN_PASSWORD <= len(password) <= MAX_PASSWORD:
        raise UserError(f"password: {MIN_PASSWORD}-{MAX_PASSWORD} characters (got {len(password)})")
    if not password.isprintable():
        raise UserError("password: printable characters only")
    return password


def _hasher() -> Any:
    from argon2 import PasswordHasher

    return PasswordHasher()


def token_sha256(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()


def migrate(engine: Engine) -> None:
    """Bring the clerk pages' tables to the newest revision (serialised between processes)."""
    tables.upgrade(engine, MIGRATIONS, 7152046695)


def _version(engine: Engine) -> str | None:
    return tables.schema_version(engine, "web_alembic_version")


class WebStore:
    """The clerk pages' tables. One per process; safe to share between threads."""

    def __init__(self, url: str, *, create: bool = True, clock: Callable[[], dt.datetime] = utcnow) -> None:
        self.url = normalise_url(url)
        self.engine = make_engine(self.url)
        self.clock = clock
        self._dummy_hash: str | None = None
        tables.open_at_head(self.engine, self.url, head=HEAD_REVISION, version=_version, migrate=migrate,
                            create=create, holds_none="holds no tables of the clerk's pages")  # fmt: skip

    def close(self) -> None:
        self.engine.dispose()

    def __enter__(self) -> WebStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @contextmanager
    def _tx(self) -> Iterator[Connection]:
        try:
            with self.engine.begin() as conn:
                yield conn
        except (sa.exc.OperationalError, sa.exc.InterfaceError) as exc:
            raise OutboxUnavailableError(connect_error(self.url, exc).message) from exc

    # -- users ------------------------------------------------------------------------------

    def create_user(self, name: str, role: str, password: str, full_name: str | None = None) -> User:
        name, role, password = check_name(name), check_role(role), check_password(password)
        if full_name is not None and not (1 <= len(full_name.strip()) <= 200 and full_name.isprintable()):
            raise UserError("--full-name: 1-200 printable characters")
        digest = _hasher().hash(password)
        with self._tx() as conn:
            if conn.execute(sa.select(t.users.c.id).where(t.users.c.name == name)).first() is not None:
                raise UserError(f"user {name}: already exists")
            row = conn.execute(
                sa.insert(t.users)
                .values(name=name, full_name=full_name.strip() if full_name else None, role=role,
                        password_hash=digest, active=True, created_at=self.clock())
                .returning(*t.users.c)
            ).one()  # fmt: skip
        return _user(row)

    def users(self) -> list[User]:
        with self._tx() as conn:
            return [_user(r) for r in conn.execute(sa.select(t.users).order_by(t.users.c.name))]

    def user(self, name: str) -> User:
        with self._tx() as conn:
            row = conn.execute(sa.select(t.users).where(t.users.c.name == name)).first()
        if row is None:
            raise UserError(f"user {name}: no such user")
        return _user(row)

    def _update_user(self, name: str, **values: Any) -> User:
        with self._tx() as conn:
            row = conn.execute(
                sa.update(t.users).where(t.users.c.name == name).values(**values).returning(*t.users.c)
            ).first()
            if row is None:
                raise UserError(f"user {name}: no such user")
            if "password_hash" in values or values.get("active") is False or "role" in values:
                conn.execute(sa.delete(t.sessions).where(t.sessions.c.user_id == row.id))  # signed out everywhere
        return _user(row)

    def set_password(self, name: str, password: str) -> User:
        return self._update_user(name, password_hash=_hasher().hash(check_password(password)))

    def set_active(self, name: str, active: bool) -> User:
        return self._update_user(name, active=active)

    def set_role(self, name: str, role: str) -> User:
        return self._update_user(name, role=check_role(role))

    def unlock(self, name: str) -> int:
        """Forget the failed sign-ins of ``name``; how many there were."""
        with self._tx() as conn:
            return int(conn.execute(sa.delete(t.login_failures).where(t.login_failures.c.name == name)).rowcount)

    def locked_until(self, name: str, now: dt.datetime | None = None) -> dt.datetime | None:
        """When ``name`` may sign in again, None if it is not locked out."""
        now = now or self.clock()
        f = t.login_failures.c
        with self._tx() as conn:
            recent = conn.execute(
                sa.select(f.at).where(f.name == name, f.at > now - LOCKOUT_WINDOW).order_by(f.at.desc())
                .limit(MAX_FAILURES)
            ).scalars().all()  # fmt: skip
        if len(recent) < MAX_FAILURES:
            return None
        return min(recent) + LOCKOUT_WINDOW

    def sign_in(self, name: str, password: str) -> SignIn:
        """Check a name and password. A user name with :data:`MAX_FAILURES` failures in
        :data:`LOCKOUT_WINDOW` is refused without looking at the password until the window has
        passed; unknown names count failures too, and cost a hash all the same."""
        from argon2.exceptions import InvalidHashError, VerificationError

        now = self.clock()
        key = unicodedata.normalize("NFC", name.strip())[:64]
        until = self.locked_until(key, now)
        if until is not None:
            return SignIn(None, until)
        with self._tx() as conn:
            row = conn.execute(sa.select(t.users).where(t.users.c.name == key)).first()
        hasher = _hasher()
        ok = False
        try:
            if row is None:
                if self._dummy_hash is None:
                    self._dummy_hash = hasher.hash(secrets.token_hex(16))
                hasher.verify(self._dummy_hash, password)
            else:
                ok = hasher.verify(row.password_hash, password)
        except (VerificationError, InvalidHashError):
            ok = False
        if not ok or row is None or not row.active:
            with self._tx() as conn:
                conn.execute(sa.insert(t.login_failures).values(name=key, at=now))
            return SignIn(None, self.locked_until(key, now))
        values: dict[str, Any] = {"last_login_at": now}
        if hasher.check_needs_rehash(row.password_hash):
            values["password_hash"] = hasher.hash(password)
        with self._tx() as conn:
            conn.execute(sa.delete(t.login_failures).where(t.login_failures.c.name == key))
            row = conn.execute(
                sa.update(t.users).where(t.users.c.id == row.id).values(**values).returning(*t.users.c)
            ).one()
        return SignIn(_user(row))

    # -- sessions ---------------------------------------------------------------------------

    def new_session(self, user: User) -> tuple[str, Session]:
        """A new session for ``user``: its token (for the cookie; only its digest is stored)."""
        now = self.clock()
        token = secrets.token_urlsafe(32)
        csrf = secrets.token_urlsafe(32)
        expires = min(now + SESSION_IDLE, now + SESSION_MAX)
        with self._tx() as conn:
            conn.execute(sa.delete(t.sessions).where(t.sessions.c.expires_at < now))
            conn.execute(sa.insert(t.sessions).values(
                id_sha256=token_sha256(token), user_id=user.id, csrf=csrf, created_at=now, last_seen_at=now,
                expires_at=expires,
            ))  # fmt: skip
        return token, Session(user, csrf, expires)

    def session(self, token: str) -> Session | None:
        """The live session of a cookie's token (its idle time renewed), None if none."""
        if not token or len(token) > 100:
            return None
        now = self.clock()
        s, u = t.sessions.c, t.users.c
        with self._tx() as conn:
            row = conn.execute(
                sa.select(t.users, s.id_sha256, s.csrf, s.expires_at, s.last_seen_at,
                          s.created_at.label("session_created_at"))
                .join(t.sessions, u.id == s.user_id).where(s.id_sha256 == token_sha256(token))
            ).first()  # fmt: skip
            if row is None:
                return None
            if row.expires_at <= now or not row.active:
                conn.execute(sa.delete(t.sessions).where(s.id_sha256 == row.id_sha256))
                return None
            expires = min(now + SESSION_IDLE, row.session_created_at + SESSION_MAX)
            if (now - row.last_seen_at).total_seconds() > 30:
                conn.execute(sa.update(t.sessions).where(s.id_sha256 == row.id_sha256)
                             .values(last_seen_at=now, expires_at=expires))  # fmt: skip
        return Session(_user(row), row.csrf, expires)

    def end_session(self, token: str) -> None:
        with self._tx() as conn:
            conn.execute(sa.delete(t.sessions).where(t.sessions.c.id_sha256 == token_sha256(token)))

    # -- access log and events ----------------------------------------------------------------

    def log_access(self, user_id: int, item_id: int, action: str) -> None:
        with self._tx() as conn:
            conn.execute(sa.insert(t.access_log).values(at=self.clock(), user_id=user_id, item_id=item_id,
                                                        action=action))  # fmt: skip

    def access_log(self, limit: int = 200, item_id: int | None = None) -> list[Access]:
        a, u = t.access_log.c, t.users.c
        q = (sa.select(a.at, u.name, a.item_id, a.action).join(t.users, u.id == a.user_id, isouter=True)
             .order_by(a.id.desc()).limit(limit))  # fmt: skip
        if item_id is not None:
            q = q.where(a.item_id == item_id)
        with self._tx() as conn:
            return [Access(r.at, r.name or "?", r.item_id, r.action) for r in conn.execute(q)]

    def log_admin(self, user_id: int, action: str, subject: str, detail: str = "") -> None:
        """An administrator's action on a user (``subject``): no password, no hash."""
        with self._tx() as conn:
            conn.execute(sa.insert(t.admin_log).values(at=self.clock(), user_id=user_id, action=action[:32],
                                                       subject=subject[:64], detail=detail[:200]))  # fmt: skip

    def admin_log(self, limit: int = 100) -> list[AdminAction]:
        a, u = t.admin_log.c, t.users.c
        q = (sa.select(a.at, u.name, a.action, a.subject, a.detail).join(t.users, u.id == a.user_id, isouter=True)
             .order_by(a.id.desc()).limit(limit))  # fmt: skip
        with self._tx() as conn:
            return [AdminAction(r.at, r.name or "?", r.action, r.subject, r.detail) for r in conn.execute(q)]

    def add_event(self, item_ids: Sequence[int], user_id: int, action: str, detail: str) -> None:
        if not item_ids:
            return
        now = self.clock()
        with self._tx() as conn:
            conn.execute(sa.insert(t.events), [
                {"item_id": i, "at": now, "user_id": user_id, "action": action, "detail": detail} for i in item_ids
            ])  # fmt: skip

    def events(self, item_id: int) -> list[Event]:
        e, u = t.events.c, t.users.c
        with self._tx() as conn:
            rows = conn.execute(
                sa.select(e.item_id, e.at, u.name, u.full_name, e.action, e.detail)
                .join(t.users, u.id == e.user_id, isouter=True).where(e.item_id == item_id).order_by(e.id)
            ).all()  # fmt: skip
        return [Event(r.item_id, r.at, r.full_name or r.name or "?", r.action, r.detail) for r in rows]

    # -- print batches ----------------------------------------------------------------------

    def create_batch(self, user_id: int, list_date: dt.date, lists: Sequence[int], *, duplex: bool = False) -> int:
        """A new batch of ``lists``, ``pending``: a builder (:mod:`msedocs.web.builder`) renders it."""
        with self._tx() as conn:
            return int(conn.execute(
                sa.insert(t.batches).values(created_at=self.clock(), user_id=user_id, list_date=list_date.isoformat(),
                                            lists=" ".join(map(str, lists)), state="pending", duplex=duplex,
                                            attempts=0)
                .returning(t.batches.c.id)
            ).scalar_one())  # fmt: skip

    def claim_batch(self, lease: float, max_attempts: int = 3) -> tuple[Batch, str] | None:
        """The oldest batch waiting to be built, or one whose builder stopped (its lease ran
        out: a server killed mid-build), claimed for ``lease`` seconds with a new token; None if
        there is none. A batch whose builder stopped ``max_attempts`` times fails instead."""
        now = self.clock()
        b = t.batches.c
        stale = sa.and_(b.state == "building", b.lease_until < now)
        with self._tx() as conn:
            conn.execute(sa.update(t.batches).where(stale, b.attempts >= max_attempts).values(
                state="failed", claim_token=None, lease_until=None,
                error="Формирование пакета прерывалось несколько раз. Сформируйте его заново; если не поможет, "
                      "сообщите администратору."))  # fmt: skip
            sub = sa.select(b.id).where(sa.or_(b.state == "pending", stale)).order_by(b.id).limit(1)
            if conn.dialect.name == "postgresql":
                sub = sub.with_for_update(skip_locked=True)
            token = secrets.token_hex(16)
            row = conn.execute(
                sa.update(t.batches).where(b.id == sub.scalar_subquery())
                .values(state="building", claim_token=token, lease_until=now + dt.timedelta(seconds=lease),
                        attempts=sa.func.coalesce(b.attempts, 0) + 1, done=0, error=None)
                .returning(t.batches.c.id)
            ).first()  # fmt: skip
        if row is None:
            return None
        batch = self.batch(int(row.id))
        assert batch is not None
        return batch, token

    def _held(self, batch_id: int, token: str) -> Any:
        b = t.batches.c
        return sa.and_(b.id == batch_id, b.claim_token == token, b.state == "building")

    def renew_batch(self, batch_id: int, token: str, lease: float) -> bool:
        """Extend a builder's claim; False if it was lost."""
        until = self.clock() + dt.timedelta(seconds=lease)
        with self._tx() as conn:
            return conn.execute(sa.update(t.batches).where(self._held(batch_id, token))
                                .values(lease_until=until)).rowcount == 1  # fmt: skip

    def batch_progress(self, batch_id: int, token: str, done: int, total: int) -> None:
        """Note how far the build has come (called by the rendering process)."""
        with self._tx() as conn:
            conn.execute(sa.update(t.batches).where(self._held(batch_id, token)).values(done=done, total=total))

    def release_batch(self, batch_id: int, token: str) -> bool:
        """Give a claimed batch back (its rendering process died): built again."""
        with self._tx() as conn:
            return conn.execute(sa.update(t.batches).where(self._held(batch_id, token))
                                .values(state="pending", claim_token=None, lease_until=None)).rowcount == 1  # fmt: skip

    def rebuild_batch(self, batch_id: int) -> bool:
        """Queue a failed batch (or one whose builder stopped) to be built again; False if it is
        ready, waiting or being built."""
        b = t.batches.c
        with self._tx() as conn:
            return conn.execute(
                sa.update(t.batches)
                .where(b.id == batch_id, sa.or_(b.state == "failed",
                                                sa.and_(b.state == "building", b.lease_until < self.clock())))
                .values(state="pending", claim_token=None, lease_until=None, error=None, attempts=0)
            ).rowcount == 1  # fmt: skip

    def finish_batch(self, batch_id: int, files: Sequence[tuple[str, str, bytes]], pages: int,
                     token: str | None = None) -> bool:  # fmt: skip
        """Store a batch's files (name, media type, content), replacing earlier ones, if
        ``token`` (when given) still holds its claim; False (nothing stored) if not."""
        b = t.batches.c
        held = self._held(batch_id, token) if token is not None else b.id == batch_id
        with self._tx() as conn:
            done = conn.execute(sa.update(t.batches).where(held).values(
                state="ready", error=None, pages=pages, claim_token=None, lease_until=None))  # fmt: skip
            if done.rowcount != 1:
                conn.rollback()
                return False
            conn.execute(sa.delete(t.batch_files).where(t.batch_files.c.batch_id == batch_id))
            conn.execute(sa.insert(t.batch_files), [
                {"batch_id": batch_id, "name": name, "position": n, "media_type": media, "size": len(content),
                 "content": content} for n, (name, media, content) in enumerate(files)
            ])  # fmt: skip
        return True

    def fail_batch(self, batch_id: int, error: str, token: str | None = None) -> bool:
        b = t.batches.c
        held = self._held(batch_id, token) if token is not None else b.id == batch_id
        with self._tx() as conn:
            return conn.execute(sa.update(t.batches).where(held).values(
                state="failed", error=error, claim_token=None, lease_until=None)).rowcount == 1  # fmt: skip

    def _batch_query(self) -> Any:
        b, u = t.batches.c, t.users.c
        return sa.select(t.batches, u.name, u.full_name).join(t.users, u.id == b.user_id, isouter=True)

    @staticmethod
    def _batch(row: Any) -> Batch:
        return Batch(row.id, row.created_at, row.full_name or row.name or "?", dt.date.fromisoformat(row.list_date),
                     [int(n) for n in row.lists.split()], row.state, row.error, row.pages, bool(row.duplex),
                     row.done, row.total, row.lease_until, row.attempts or 0)  # fmt: skip

    def batch(self, batch_id: int) -> Batch | None:
        with self._tx() as conn:
            row = conn.execute(self._batch_query().where(t.batches.c.id == batch_id)).first()
        return self._batch(row) if row is not None else None

    def batches(self, limit: int = 30) -> list[Batch]:
        with self._tx() as conn:
            rows = conn.execute(self._batch_query().order_by(t.batches.c.id.desc()).limit(limit)).all()
        return [self._batch(r) for r in rows]

    def batch_of_list(self, list_number: int) -> int | None:
        """The batch that printed list ``list_number`` (the newest, if several)."""
        b = t.batches.c
        with self._tx() as conn:
            rows = conn.execute(sa.select(b.id, b.lists).order_by(b.id.desc()).limit(500)).all()
        for row in rows:
            if str(list_number) in row.lists.split():
                return int(row.id)
        return None

    def batch_files(self, batch_id: int) -> list[BatchFile]:
        f = t.batch_files.c
        with self._tx() as conn:
            rows = conn.execute(
                sa.select(f.name, f.media_type, f.size).where(f.batch_id == batch_id).order_by(f.position)
            ).all()
        return [BatchFile(r.name, r.media_type, r.size) for r in rows]

    def batch_file(self, batch_id: int, name: str) -> tuple[str, bytes] | None:
        f = t.batch_files.c
        with self._tx() as conn:
            row = conn.execute(sa.select(f.media_type, f.content).where(f.batch_id == batch_id, f.name == name)).first()
        return (row.media_type, bytes(row.content)) if row is not None else None

    # -- document numbers (the search) ------------------------------------------------------

    def numbers(self, item_ids: Sequence[int]) -> dict[int, str]:
        """The document numbers known for ``item_ids`` (items not looked at yet are missing)."""
        if not item_ids:
            return {}
        n = t.item_numbers.c
        with self._tx() as conn:
            rows = conn.execute(sa.select(n.item_id, n.numbers).where(n.item_id.in_(list(item_ids)))).all()
        return {int(r.item_id): r.numbers for r in rows}

    def set_numbers(self, found: dict[int, str]) -> None:
        if not found:
            return
        n = t.item_numbers.c
        with self._tx() as conn:
            known = set(conn.execute(sa.select(n.item_id).where(n.item_id.in_(list(found)))).scalars())
            fresh = [{"item_id": i, "numbers": v} for i, v in found.items() if i not in known]
            if fresh:
                conn.execute(sa.insert(t.item_numbers), fresh)

    def items_with_number(self, text: str) -> list[int]:
        n = t.item_numbers.c
        pattern = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        with self._tx() as conn:
            return [int(i) for i in conn.execute(
                sa.select(n.item_id).where(n.numbers.ilike(f"%{pattern}%", escape="\\")).limit(1000)
            ).scalars()]  # fmt: skip
