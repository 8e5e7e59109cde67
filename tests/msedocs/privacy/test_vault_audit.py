"""The vault (KEK from a file, the environment, SoftHSM; rewrap; erase) and the audit log."""

from __future__ import annotations

import base64
import datetime as dt
import os
from pathlib import Path

import pytest
import sqlalchemy as sa
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from msedocs.privacy import vault
from msedocs.privacy.kek import EnvKek, FileKek, Pkcs11Kek
from msedocs.referrals import schema as t
from msedocs.referrals.store import ReferralStore

from .conftest import incoming


def _values(store: ReferralStore, rid: str) -> dict[str, str]:
    with store.tx() as conn:
        return {v.token: v.value for v in vault.open_values(conn, store.kek, rid, range(1, 9))}


def test_rotating_the_kek_rewraps_without_changing_identifiers(store, semd_pkg, tmp_path, monkeypatch) -> None:
    ref = incoming(semd_pkg, 0)
    res = store.ingest(ref)
    before = _values(store, res.referral_id)
    assert ref.patient.insurance.snils in before.values()
    monkeypatch.setenv("TEST_KEK", base64.b64encode(os.urandom(32)).decode())
    new = EnvKek("TEST_KEK")
    assert store.rotate_kek(new) == 1
    assert _values(store, res.referral_id) == before  # same identifiers, same values, new wrapping
    with store.tx() as conn:
        assert conn.execute(sa.select(t.vault_keys.c.kek_id)).scalar() == new.kek_id
        with pytest.raises(Exception, match="wrapped by"):
            vault.open_values(conn, FileKek(tmp_path / "kek.bin"), res.referral_id, [1])


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_rotation_beside_concurrent_ingests_leaves_no_key_under_the_old_kek(backend, request, semd_pkg, tmp_path,
                                                                            monkeypatch) -> None:  # fmt: skip
    import threading

    from msedocs.referrals.store import prepare

    store = request.getfixturevalue("store" if backend == "sqlite" else "pg_store")
    old = store.kek
    prepared = [prepare(incoming(semd_pkg, i)) for i in range(36)]
    started = threading.Barrier(5)
    errors: list[BaseException] = []

    def intake(part: list) -> None:
        started.wait()
        try:
            for p in part:
                store.ingest(p)
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=intake, args=(prepared[i::4],)) for i in range(4)]
    for th in threads:
        th.start()
    started.wait()
    monkeypatch.setenv("TEST_KEK", base64.b64encode(os.urandom(32)).decode())
    new = EnvKek("TEST_KEK")
    store.rotate_kek(new)
    for th in threads:
        th.join()
    assert not errors, errors
    with store.tx() as conn:
        kek_ids = conn.execute(sa.select(t.vault_keys.c.kek_id, sa.func.count()).group_by(t.vault_keys.c.kek_id)).all()
        rids = conn.execute(sa.select(t.vault_keys.c.referral_id)).scalars().all()
    assert dict(kek_ids) == {new.kek_id: 36} and old.kek_id != new.kek_id
    for rid in rids:  # every one opens with the KEK in use
        assert _values(store, rid)


def test_erasing_destroys_the_personal_data(store, semd_pkg) -> None:
    ref = incoming(semd_pkg, 1)
    res = store.ingest(ref)
    assert store.erase(res.referral_id)
    with store.tx() as conn:
        with pytest.raises(vault.ErasedError):
            vault.open_values(conn, store.kek, res.referral_id, [1, 2, 4])
        key = conn.execute(sa.select(t.vault_keys)).first()
        assert key.wrapped_key is None and key.destroyed_at is not None
        assert conn.execute(sa.select(sa.func.count()).select_from(t.vault_values)).scalar() == 0
        row = conn.execute(sa.select(t.referrals)).first()
        assert row.sealed is None and row.bureau_view is None
    db = Path(store.engine.url.database)
    raw = b"".join(p.read_bytes() for p in (db, db.with_name(db.name + "-wal")) if p.exists())
    for value in (ref.patient.insurance.snils, ref.patient.name.last, ref.patient.addresses.registration.line):
        assert value.encode() not in raw


def test_softhsm_kek(store, semd_pkg, softhsm) -> None:
    hsm = Pkcs11Kek.generate(softhsm["module"], softhsm["token"], "kek-1", softhsm["pin"])
    res = store.ingest(incoming(semd_pkg, 2))
    before = _values(store, res.referral_id)
    assert store.rotate_kek(hsm) == 1  # file KEK -> HSM
    assert _values(store, res.referral_id) == before
    hsm2 = Pkcs11Kek.generate(softhsm["module"], softhsm["token"], "kek-2", softhsm["pin"])
    assert store.rotate_kek(hsm2) == 1  # HSM -> HSM
    assert _values(store, res.referral_id) == before
    hsm.close()
    hsm2.close()


def _tamper(store: ReferralStore, sql: str) -> None:
    with store.tx() as conn:
        conn.execute(sa.text(sql))


@pytest.fixture
def logged(store, semd_pkg) -> ReferralStore:
    for i in range(3):
        store.ingest(incoming(semd_pkg, i))
    assert store.verify_audit(store.audit.key.public_key()).ok
    return store


def _problems(store: ReferralStore) -> list[str]:
    return store.verify_audit(store.audit.key.public_key()).problems


@pytest.mark.parametrize(("tampering", "found"), [
    pytest.param(["UPDATE audit_log SET details = replace(details, 'PD', 'XX') WHERE seq = 2"], "entry 2: its content",
                 id="edited"),
    pytest.param(["DELETE FROM audit_log WHERE seq = 5"], "entry 6", id="deleted"),
    pytest.param(["UPDATE audit_log SET seq = -1 WHERE seq = 3", "UPDATE audit_log SET seq = 3 WHERE seq = 4",
                  "UPDATE audit_log SET seq = 4 WHERE seq = -1"], "", id="reordered"),
    pytest.param(["DELETE FROM audit_log WHERE seq > 10"], "truncated", id="truncated"),
    pytest.param(["DELETE FROM audit_log WHERE seq > 10", "DELETE FROM audit_checkpoints WHERE seq > 10"],
                 "witness", id="truncated-with-its-checkpoints"),
])  # fmt: skip
def test_audit_detects_tampering(logged, tampering: list[str], found: str) -> None:
    for statement in tampering:
        _tamper(logged, statement)
    problems = _problems(logged)
    assert problems and any(found in p for p in problems), problems
    if found == "witness":  # the checkpoints gone too: only the witness file tells
        assert any(p.startswith("witness") and "truncated" in p for p in problems), problems


def test_audit_detects_a_forged_checkpoint(logged) -> None:
    other = Ed25519PrivateKey.generate()
    assert any("bad signature" in p for p in logged.verify_audit(other.public_key()).problems)


def test_audit_holds_no_personal_data(store, semd_pkg) -> None:
    refs = [incoming(semd_pkg, i) for i in range(3)]
    ids = [store.ingest(r).referral_id for r in refs]
    store.erase(ids[0])
    with store.tx() as conn:
        text = " ".join(f"{r.details} {r.actor}" for r in conn.execute(sa.select(t.audit_log)))
        events = {r.event for r in conn.execute(sa.select(t.audit_log))}
    assert {"identifier-issued", "routed", "erased"} <= events
    for r in refs:
        for value in (r.patient.name.last, r.patient.insurance.snils, r.patient.addresses.registration.line):
            assert value not in text
    assert dt.date.today()
