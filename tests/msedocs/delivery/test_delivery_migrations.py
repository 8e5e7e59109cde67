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
