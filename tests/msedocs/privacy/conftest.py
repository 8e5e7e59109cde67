"""Fixtures of the order-692n tests: the official СЭМД package, stores on SQLite and PostgreSQL, SoftHSM.

The СЭМД package is read from ``../shared/semd`` beside the checkout (or ``MSEDOCS_SEMD_DIR``); where
it is absent the tests that need it are skipped loudly, and fail under ``CI=true``. PostgreSQL: the
database ``msedocs_privacy_test`` on ``MSEDOCS_TEST_PG`` (default 127.0.0.1:5432), made afresh
for the session.
"""

from __future__ import annotations

import os
import random
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
import sqlalchemy as sa
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from msedocs.privacy.kek import FileKek
from msedocs.referrals import cda, semd, synth
from msedocs.referrals.store import ReferralStore
from tests import pglock

from .support import add_bureaus, missing, official_package

__all__ = ["add_bureaus"]  # for the tests that import it from here

PG_ADMIN = os.environ.get("MSEDOCS_TEST_PG", "postgresql://postgres@127.0.0.1:5432/postgres")
PG_DB = "msedocs_privacy_test"


@pytest.fixture(scope="session")
def semd_pkg() -> semd.Package:
    return official_package()


@pytest.fixture(scope="session", autouse=True)
def _cache(tmp_path_factory: pytest.TempPathFactory) -> None:
    os.environ["MSEDOCS_CACHE_DIR"] = str(tmp_path_factory.mktemp("cache"))


def generated(i: int) -> synth.SyntheticReferral:
    return synth.generate(random.Random(1000 + i))


def incoming(semd_pkg: semd.Package, i: int):
    tree, problems = semd.validate(synth.to_cda(generated(i)), f"gen{i}", semd_pkg)
    assert not problems, problems
    # the order's own case (point 4) unless a test says otherwise: without personal presence, Mintrud's route
    return cda.to_referral(tree).model_copy(update={"in_absentia": True, "special_route": False})


@pytest.fixture
def kek(tmp_path: Path) -> FileKek:
    return FileKek.create(tmp_path / "kek.bin")


@pytest.fixture
def audit_key() -> Ed25519PrivateKey:
    return Ed25519PrivateKey.generate()


@pytest.fixture
def store(tmp_path: Path, kek: FileKek, audit_key: Ed25519PrivateKey) -> Iterator[ReferralStore]:
    s = ReferralStore(f"sqlite:///{tmp_path / 'referrals.db'}", kek=kek, audit_key=audit_key,
                      audit_witness=tmp_path / "witness.jsonl", create=True)  # fmt: skip
    add_bureaus(s)
    yield s
    s.close()


@pytest.fixture(scope="session")
def pg_url() -> Iterator[str]:
    try:
        admin = psycopg.connect(PG_ADMIN, autocommit=True, connect_timeout=5)
    except psycopg.Error as exc:
        missing(f"PostgreSQL at {PG_ADMIN} unreachable ({exc})")
        raise
    with admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{PG_DB}" WITH (FORCE)')
        admin.execute(f'CREATE DATABASE "{PG_DB}"')
    with pglock.shared():  # the delivery tests' restart test waits for other processes' holds
        yield sa.make_url(PG_ADMIN).set(database=PG_DB).render_as_string(hide_password=False)


@pytest.fixture
def pg_store(pg_url: str, kek: FileKek, audit_key: Ed25519PrivateKey) -> Iterator[ReferralStore]:
    s = ReferralStore(pg_url, kek=kek, audit_key=audit_key, create=True)
    with s.tx() as conn:
        conn.execute(sa.text("TRUNCATE audit_checkpoints, audit_log, routing_log, vault_values, vault_keys, "
                             "referrals, routing_bureaus"))  # fmt: skip
    add_bureaus(s)
    yield s
    s.close()


@pytest.fixture
def softhsm(tmp_path: Path) -> dict[str, str]:
    util = shutil.which("softhsm2-util")
    module = next((p for p in ("/usr/lib/softhsm/libsofthsm2.so", "/usr/lib/x86_64-linux-gnu/softhsm/libsofthsm2.so")
                   if Path(p).exists()), None)  # fmt: skip
    if util is None or module is None:
        missing("softhsm2 is not installed (Debian package softhsm2; `python3 dev.py setup` as root)")
    tokens = tmp_path / "tokens"
    tokens.mkdir()
    conf = tmp_path / "softhsm2.conf"
    conf.write_text(f"directories.tokendir = {tokens}\nobjectstore.backend = file\n")
    os.environ["SOFTHSM2_CONF"] = str(conf)
    subprocess.run([util, "--init-token", "--free", "--label", "msedocs-kek", "--pin", "1234", "--so-pin", "5678"],
                   check=True, capture_output=True)  # fmt: skip
    return {"module": str(module), "token": "msedocs-kek", "pin": "1234"}
