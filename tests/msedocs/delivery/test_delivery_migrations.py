"""The outbox schema comes from Alembic revisions, on SQLite and PostgreSQL alike."""

from __future__ import annotations

import threading

import sqlalchemy as sa
from alembic.config import Config
from alembic.script import ScriptDirectory

from msedocs.delivery import Outbox
from msedocs.delivery import schema as t
from msedocs.delivery.store import HEAD_REVISION, MIGRATIONS


def test_head_revision_constant_matches_the_scripts() -> None:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    assert ScriptDirectory.from_config(cfg).get_current_head() == HEAD_REVISION


def test_migrated_schema_matches_the_tables(db_url: str) -> None:
    with Outbox(db_url) as ob:
        insp = sa.inspect(ob.engine)
        for table in t.metadata.tables.values():
            assert {c["name"] for c in insp.get_columns(table.name)} == set(table.columns.keys())
        with ob.engine.connect() as conn:
            assert conn.execute(sa.text("SELECT version_num FROM outbox_alembic_version")).scalar() == HEAD_REVISION


def test_concurrent_first_opens_migrate_once(tmp_path: object) -> None:
    """Four threads open the same new file at the same instant (a barrier), fifty times over:
    they race for the WAL switch and the migration, and none may fail (SQLite answered a loser
    of the WAL switch «database is locked» at once: about one round in twenty-five)."""
    for round_ in range(50):
        url = f"sqlite:///{tmp_path}/fresh-{round_}.sqlite3"
        errors: list[BaseException] = []
        start = threading.Barrier(4)

        def open_it(url: str = url, errors: list[BaseException] = errors, start: threading.Barrier = start) -> None:
            start.wait()
            try:
                Outbox(url, create=True).close()
            except BaseException as exc:  # noqa: BLE001 - collected for the assertion
                errors.append(exc)

        threads = [threading.Thread(target=open_it) for _ in range(4)]
        for th in threads:
            th.start()
        for th in threads:
            th.join()
        assert errors == [], f"round {round_}: {errors!r}"
        with Outbox(url) as ob:
            assert ob.counts()["queued"] == 0


def test_upgrade_from_0001_counts_queued_documents_as_issued(tmp_path: object) -> None:
    """An outbox made before revision 0002 keeps its items, and the documents they carry count as
    issued (the earliest item of a case wins), so a document queued then is not queued again now."""
    import datetime as dt

    import pytest
    from alembic import command

    from msedocs.delivery import AlreadyQueuedError
    from msedocs.delivery.store import make_engine

    from .conftest import extract_documents, portal_recipient

    url = f"sqlite:///{tmp_path}/old.sqlite3"
    engine = make_engine(url)
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "0001")
        now = dt.datetime(2025, 11, 5, 9)
        for item_id in (1, 2):  # the same extract queued twice before 0002 could refuse it
            conn.execute(sa.insert(t.items).values(
                id=item_id, key=f"k{item_id}", case_ref="C-1", channel="portal", state="queued", country="RU",
                decision_date=dt.date(2025, 11, 5), due_date=dt.date(2025, 11, 10), recipient="{}",
                fallback_to_paper=False, attempts=0, next_attempt_at=now, created_at=now, updated_at=now,
            ))  # fmt: skip
            conn.execute(sa.insert(t.blobs).prefix_with("OR IGNORE").values(sha256="0" * 64, size=1, content=b"x"))
            conn.execute(sa.insert(t.documents).values(
                item_id=item_id, position=0, name="extract-1.xml", media_type="application/xml", role="electronic",
                sha256="0" * 64, size=1,
            ))  # fmt: skip
    engine.dispose()
    with Outbox(url) as ob:
        assert ob.issued("C-1", ["extract-1.xml"]) == [("extract-1.xml", 1)]
        with pytest.raises(AlreadyQueuedError):
            ob.enqueue(extract_documents(1), "C-1", "portal", portal_recipient(1), dt.date(2025, 11, 5))
        assert ob.counts()["queued"] == 2
