"""What each Alembic revision of the service's and the outbox's chains does to a database stays
what it was when the revision was released: a revision's code may be tidied (helpers shared by
the revisions and the schema), never its effect.

The effect is read on SQLite, revision by revision, as the database describes itself: the
``CREATE TABLE`` and ``CREATE INDEX`` statements it keeps in ``sqlite_master`` (column names,
types, NULL, defaults, keys, constraint names). ``migration_effects.json`` beside this file holds
them as the released revisions made them; ``MSEDOCS_WRITE_MIGRATION_EFFECTS=1`` writes it anew
(only for a new revision: an old revision's entry must never change)."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from alembic.script import ScriptDirectory

from msedocs.api.store import MIGRATIONS as API_MIGRATIONS
from msedocs.delivery.store import MIGRATIONS as OUTBOX_MIGRATIONS
from msedocs.delivery.store import make_engine

EFFECTS = Path(__file__).with_name("migration_effects.json")
CHAINS = {"api": API_MIGRATIONS, "outbox": OUTBOX_MIGRATIONS}


def _config(migrations: Path) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(migrations))
    return cfg


def _schema(conn: sa.Connection) -> dict[str, str]:
    rows = conn.execute(sa.text(
        "SELECT name, sql FROM sqlite_master WHERE sql IS NOT NULL AND name NOT LIKE '%alembic_version%' ORDER BY name"
    ))  # fmt: skip
    return {name: " ".join(sql.split()) for name, sql in rows}


def _effects(migrations: Path, database: Path) -> dict[str, dict[str, str]]:
    """The schema after each revision of the chain, upgraded one step at a time."""
    cfg = _config(migrations)
    revisions = [s.revision for s in reversed(list(ScriptDirectory.from_config(cfg).walk_revisions()))]
    engine = make_engine(f"sqlite:///{database}")
    out = {}
    try:
        for revision in revisions:
            with engine.begin() as conn:
                cfg.attributes["connection"] = conn
                command.upgrade(cfg, revision)
                out[revision] = _schema(conn)
    finally:
        engine.dispose()
    return out


@pytest.mark.parametrize("chain", sorted(CHAINS))
def test_every_revision_does_what_it_did_when_released(chain: str, tmp_path: Path) -> None:
    found = _effects(CHAINS[chain], tmp_path / "store.sqlite3")
    if os.environ.get("MSEDOCS_WRITE_MIGRATION_EFFECTS") == "1":
        known = json.loads(EFFECTS.read_text(encoding="utf-8")) if EFFECTS.exists() else {}
        known[chain] = found
        EFFECTS.write_text(json.dumps(known, ensure_ascii=False, indent=1, sort_keys=True) + "\n", encoding="utf-8")
    released = json.loads(EFFECTS.read_text(encoding="utf-8"))[chain]
    assert sorted(found) == sorted(released), "a revision was added or removed: record the new one's effect"
    for revision, schema in released.items():
        assert found[revision] == schema, f"{chain} revision {revision} no longer does what it did"

