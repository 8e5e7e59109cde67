"""A key issued to a bureau (order 692n): ``api_keys.bureau_id`` (revision 0004), set by
``msedocs keys create NAME --scope referrals --bureau ID``; the upgrade from 0003 keeps every key
and binds a key named ``bureau:<id>`` to its bureau. On SQLite and PostgreSQL."""

from __future__ import annotations

import datetime as dt
import secrets
from pathlib import Path

import pytest
import sqlalchemy as sa

from msedocs import tables
from msedocs.api import store as api_store
from msedocs.api.store import JobStore, token_sha256

from .conftest import msedocs


def _at_0003(url: str) -> None:
    """The service's tables as revision 0003 made them."""
    from alembic import command
    from alembic.config import Config

    engine = sa.create_engine(url)
    cfg = Config()
    cfg.set_main_option("script_location", str(api_store.MIGRATIONS))
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "0003")
    engine.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
def url(request, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'store.sqlite3'}"
    return str(request.getfixturevalue("fresh_pg"))


def test_upgrade_from_0003_keeps_the_keys_and_binds_bureau_names(url: str):
    _at_0003(url)
    engine = sa.create_engine(url)
    tokens = {}
    with engine.begin() as conn:
        assert "bureau_id" not in {c["name"] for c in sa.inspect(conn).get_columns("api_keys")}
        for name, scopes in (("bureau:gb7", "referrals"), ("gateway", "referrals"), ("his", "render sign"),
                             ("bureau:", "referrals")):  # fmt: skip
            key_id = secrets.token_hex(6)
            tokens[name] = f"msk_{key_id}_{secrets.token_urlsafe(32)}"
            conn.execute(sa.text("INSERT INTO api_keys (id, name, token_sha256, scopes, created_at) VALUES "
                                 "(:id, :name, :sha, :scopes, :at)"),
                         {"id": key_id, "name": name, "sha": token_sha256(tokens[name]), "scopes": scopes,
                          "at": dt.datetime(2026, 12, 1)})  # fmt: skip
    engine.dispose()
    with JobStore(url) as store:  # upgrades to the head
        assert tables.schema_version(store.engine, "api_alembic_version") == api_store.HEAD_REVISION == "0005"
        keys = {name: store.authenticate(token) for name, token in tokens.items()}
    assert all(k is not None for k in keys.values())
    assert {name: k.bureau for name, k in keys.items() if k} == {"bureau:gb7": "gb7", "gateway": None, "his": None,
                                                                 "bureau:": None}  # fmt: skip
    assert keys["his"] is not None and keys["his"].scopes == {"render", "sign"}


def test_create_key_with_a_bureau_and_its_rules(url: str):
    with JobStore(url) as store:
        key, token = store.create_key("clerk of gb2", ["referrals"], bureau="gb2")
        assert key.bureau == "gb2" and store.authenticate(token) == key
        named, named_token = store.create_key("bureau:gb3", ["referrals"])  # a name binds nothing now
        assert named.bureau is None and store.authenticate(named_token).bureau is None  # type: ignore[union-attr]
        for bureau, scopes in (("x y", ["referrals"]), ("", ["referrals"]), ("g" * 65, ["referrals"]),
                               ("gb2", ["render"])):  # fmt: skip
            with pytest.raises(ValueError, match="--bureau"):
                store.create_key("k", scopes, bureau=bureau)


def test_keys_create_cli_bureau(tmp_path: Path):
    db = f"sqlite:///{tmp_path / 'store.sqlite3'}"
    done = msedocs("keys", "create", "clerk", "--scope", "referrals", "--bureau", "gb1", "--db", db, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert "bureau gb1" in done.stderr
    with JobStore(db) as store:
        key = store.authenticate(done.stdout.strip())
    assert key is not None and key.bureau == "gb1" and key.scopes == {"referrals"}
    refused = msedocs("keys", "create", "clerk", "--scope", "render", "--bureau", "gb1", "--db", db, cwd=tmp_path)
    assert refused.returncode == 2 and "--bureau" in refused.stderr and not refused.stdout


def test_the_migrations_head_is_the_tables_schema(url: str):
    """Revision 0004 makes what schema.py declares (no difference Alembic's comparison finds)."""
    from alembic.autogenerate import compare_metadata
    from alembic.config import Config
    from alembic.migration import MigrationContext
    from alembic.script import ScriptDirectory

    from msedocs.api import schema

    cfg = Config()
    cfg.set_main_option("script_location", str(api_store.MIGRATIONS))
    assert ScriptDirectory.from_config(cfg).get_current_head() == api_store.HEAD_REVISION
    with JobStore(url) as store, store.engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), schema.metadata)
    assert [d for d in diff if "api_keys" in repr(d)] == []
