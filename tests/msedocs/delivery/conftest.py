"""Fixtures of the delivery tests: every store test runs on SQLite and on PostgreSQL.

PostgreSQL: a fresh database ``msedocs_test_<random>`` is created on the server at
``MSEDOCS_TEST_PG`` (default ``postgresql://postgres@127.0.0.1:5432/postgres``) for the test
session and dropped afterwards. If the server cannot be reached, the PostgreSQL variants are
skipped with the reason in the summary.

Every PostgreSQL test holds a shared lock on a file for its duration; the database-restart test
takes it exclusively, so that under pytest-xdist (or a second test session) no other
PostgreSQL test of this suite is running while the server restarts.
"""

from __future__ import annotations

import datetime as dt
import os
import secrets
import tempfile
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
import sqlalchemy as sa

from msedocs.delivery import Outbox, OutboxDocument, Recipient
from msedocs.delivery.store import make_engine, migrate
from tests import pglock

PG_ADMIN_URL = os.environ.get("MSEDOCS_TEST_PG", "postgresql://postgres@127.0.0.1:5432/postgres")
TABLES = "outbox_history, outbox_documents, outbox_items, outbox_blobs, tracking_ranges, postal_lists"

# A small but real PDF: what the lead's generator will hand over as the extract's paper variant.
SMALL_PDF = (
    b"%PDF-1.4\n1 0 obj<</Type/Catalog/Pages 2 0 R>>endobj\n"
    b"2 0 obj<</Type/Pages/Kids[3 0 R]/Count 1>>endobj\n"
    b"3 0 obj<</Type/Page/Parent 2 0 R/MediaBox[0 0 595 842]>>endobj\n"
    b"trailer<</Root 1 0 R>>\n%%EOF\n"
)


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "slow: long-running delivery tests (still part of the default run)")


class FakeClock:
    """A clock the test moves by hand (naive UTC, like the outbox's own)."""

    def __init__(self, start: dt.datetime = dt.datetime(2025, 10, 31, 9, 0)) -> None:
        self.now = start

    def __call__(self) -> dt.datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += dt.timedelta(seconds=seconds)


PG_LOCK_PATH = Path(tempfile.gettempdir()) / f"msedocs-delivery-tests-pg-{os.getuid()}.lock"


@pytest.fixture(scope="session")
def pg_database() -> Iterator[str]:
    name = f"msedocs_test_{secrets.token_hex(4)}"
    try:
        admin = psycopg.connect(PG_ADMIN_URL, autocommit=True, connect_timeout=5)
    except psycopg.Error as exc:
        pytest.skip(f"!!! PostgreSQL at {PG_ADMIN_URL} unreachable ({exc}); PostgreSQL outbox tests SKIPPED !!!")
    with admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    url = sa.make_url(PG_ADMIN_URL).set(database=name).render_as_string(hide_password=False)
    try:
        yield url
    finally:
        with pglock.shared(), psycopg.connect(PG_ADMIN_URL, autocommit=True, connect_timeout=5) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest, tmp_path: os.PathLike[str]) -> Iterator[str]:
    """An empty, migrated outbox database: a SQLite file, or the session's PostgreSQL database."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path}/outbox.sqlite3"
        Outbox(url, create=True).close()
        yield url
        return
    with pglock.shared():
        url: str = request.getfixturevalue("pg_database")  # created under the lock, too
        engine = make_engine(url)
        try:
            migrate(engine)
            with engine.begin() as conn:
                conn.execute(sa.text(f"TRUNCATE {TABLES} RESTART IDENTITY CASCADE"))
        finally:
            engine.dispose()
        yield url


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def outbox(db_url: str, clock: FakeClock) -> Iterator[Outbox]:
    with Outbox(db_url, clock=clock) as ob:
        yield ob


def portal_recipient(n: int = 1, with_address: bool = False) -> Recipient:
    if with_address:
        return Recipient(
            portal_account=f"ACC-{n:06d}",
            name="Иванов Иван Иванович",
            postcode="101000",
            address="г. Москва\nул. Мясницкая, д. 1, кв. 2",
        )
    return Recipient(portal_account=f"ACC-{n:06d}")


def postal_recipient(n: int = 1) -> Recipient:
    return Recipient(
        name=f"Петрова Анна Сергеевна {n}",
        postcode="220030",
        address="г. Минск\nпр-т Независимости, д. 10, кв. 5",
        paper_requested=True,
    )


def extract_documents(n: int = 1) -> list[OutboxDocument]:
    """A signed electronic extract and its paper variant."""
    return [
        OutboxDocument(f"extract-{n}.xml", f"<extract n='{n}'/>".encode(), "application/xml", "electronic"),
        OutboxDocument(f"extract-{n}.pdf", SMALL_PDF, "application/pdf", "paper"),
    ]
