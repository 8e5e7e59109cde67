"""Batch intake: the same choices as one referral at a time, per-file results, what a batch guarantees."""

from __future__ import annotations

import datetime as dt
import itertools
import json
import types
from pathlib import Path

import pytest
import sqlalchemy as sa
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from msedocs.cli import main
from msedocs.privacy.kek import FileKek
from msedocs.referrals import intake, synth
from msedocs.referrals import schema as t
from msedocs.referrals import store as store_mod
from msedocs.referrals.store import Ingested, ReferralStore
from msedocs.routing.router import NoBureauError

from .conftest import add_bureaus, incoming


def _ids(monkeypatch: pytest.MonkeyPatch) -> None:
    counter = itertools.count(1)
    monkeypatch.setattr(store_mod, "uuid", types.SimpleNamespace(uuid4=lambda: types.SimpleNamespace(
        hex=f"{next(counter):032x}")))  # fmt: skip


def _new_store(tmp_path: Path, name: str, clock) -> ReferralStore:  # type: ignore[no-untyped-def]
    s = ReferralStore(f"sqlite:///{tmp_path / name}", kek=FileKek.create(tmp_path / f"{name}.kek"),
                      audit_key=Ed25519PrivateKey.generate(), clock=clock)  # fmt: skip
    add_bureaus(s)
    return s


def test_a_batch_routes_as_one_referral_after_another(tmp_path: Path, semd_pkg, monkeypatch) -> None:
    refs = [incoming(semd_pkg, i) for i in range(24)]
    refs[3] = refs[3].model_copy(update={"special_route": True})
    refs[7] = refs[7].model_copy(update={"in_absentia": False})
    start = dt.datetime(2026, 10, 1, 9, 0)
    ticks = itertools.count()
    one = _new_store(tmp_path, "one.db", lambda: start + dt.timedelta(seconds=next(ticks)))
    many = _new_store(tmp_path, "many.db", lambda: start)
    _ids(monkeypatch)
    single = [one.ingest(r) for r in refs]
    _ids(monkeypatch)
    batch = many.ingest_many(refs[:10]) + many.ingest_many(refs[10:])
    assert [r.assignment.bureau_id for r in single] == [r.assignment.bureau_id for r in batch]  # type: ignore[union-attr]
    loads = [{b.id: (b.load, b.open_count) for b in s.bureaus()} for s in (one, many)]
    assert loads[0] == loads[1]
    for s in (one, many):
        report = s.verify_audit(s.audit.key.public_key())
        assert report.ok and report.entries == sum(len(v) for r in single for v in r.identifiers.values()) + 24
    with many.tx() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(t.routing_log)).scalar() == 24
        assert conn.execute(sa.select(sa.func.count()).select_from(t.audit_checkpoints)).scalar() == 2
    one.close()
    many.close()


def test_a_referral_no_bureau_can_take_is_left_out_and_the_others_stored(store: ReferralStore, semd_pkg) -> None:
    store.set_bureau("fmba", active=False)
    refs = [incoming(semd_pkg, i) for i in range(4)]
    refs[1] = refs[1].model_copy(update={"special_route": True})  # point 9 paragraph 2: no active federal bureau
    out = store.ingest_many(refs)
    assert isinstance(out[1], NoBureauError) and all(isinstance(out[i], Ingested) for i in (0, 2, 3))
    with store.tx() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(t.referrals)).scalar() == 3
        assert conn.execute(sa.select(sa.func.count()).select_from(t.vault_keys)).scalar() == 3
    assert store.verify_audit(store.audit.key.public_key()).ok
    with pytest.raises(NoBureauError):
        store.ingest(refs[1])


def _folder(tmp_path: Path, n: int) -> tuple[Path, list[Path]]:
    docs = tmp_path / "docs"
    synth.write(n, 3, docs)
    files = sorted(docs.glob("*.xml"))
    bad = files[2]
    bad.write_bytes(bad.read_bytes().replace(b'<realmCode code="RU"/>', b'<realmCode code="BY"/>'))
    (docs / "broken.xml").write_bytes(b"<ClinicalDocument")
    (docs / "notes.txt").write_text("not read: neither .xml nor .json")
    return docs, [bad, docs / "broken.xml"]


@pytest.mark.parametrize("workers", [1, 2])
def test_cli_batch_reports_each_file_and_stores_the_valid_ones(tmp_path: Path, semd_pkg, capsys, workers: int) -> None:
    db = f"sqlite:///{tmp_path / 'r.db'}"
    (tmp_path / "kek").write_bytes(b"k" * 32)
    docs, bad = _folder(tmp_path, 9)
    for args in (["gb1", "--name", "ГБ"], ["fmba", "--name", "Ф", "--kind", "federal"],
                 ["a1", "--name", "А", "--kind", "address", *[f"--area={a[3]}" for a in synth.REGIONS]]):  # fmt: skip
        assert main(["bureaus", "add", *args, "--db", db]) == 0
    capsys.readouterr()
    common = ["--db", db, "--semd-dir", str(semd_pkg.root), "--kek", f"file:{tmp_path / 'kek'}"]
    code = main(["referrals", "ingest", str(docs), "--workers", str(workers), "--batch-size", "3", *common])
    out, err = capsys.readouterr()
    assert code == 2
    assert f"{bad[0]}:3: У1-9#33: У1-9." in err and f"{bad[1]}:1: not well-formed XML" in err
    assert "ingest: 10 file(s): 8 stored, 2 invalid (not stored), 0 failed (not stored)" in err
    stored = [line.split(":")[0] for line in out.splitlines() if " -> bureau " in line]
    assert stored == [str(f) for f in sorted(docs.glob("*.xml")) if f not in bad]  # in the order of the files
    assert main(["bureaus", "list", "--json", "--db", db]) == 0
    assert sum(b["open_count"] for b in json.loads(capsys.readouterr().out)) == 8
    store = ReferralStore(db)
    with store.tx() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(t.referrals)).scalar() == 8
        assert conn.execute(sa.select(sa.func.count()).select_from(t.audit_checkpoints)).scalar() == 3  # 8 in 3s
    store.close()
    assert main(["audit", "verify", "--db", db]) == 0


def test_a_failed_batch_leaves_the_others_stored(store: ReferralStore, semd_pkg, tmp_path: Path, monkeypatch) -> None:
    docs, bad = _folder(tmp_path, 7)
    real = store.ingest_many
    calls = itertools.count()

    def flaky(prepared, actor="platform:intake"):  # type: ignore[no-untyped-def]
        if next(calls) == 1:
            raise sa.exc.OperationalError("INSERT", {}, Exception("disk I/O error"))
        return real(prepared, actor)

    monkeypatch.setattr(store, "ingest_many", flaky)
    summary = intake.ingest_files(store, intake.expand([docs]), semd_dir=str(semd_pkg.root), batch_size=2)
    assert (summary.stored, summary.invalid, summary.failed) == (4, 2, 2)
    failed = [r for r in summary.results if r.error and not r.invalid]
    assert all("the batch's transaction failed" in (r.error or "") for r in failed)
    with store.tx() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(t.referrals)).scalar() == 4
    assert store.verify_audit(store.audit.key.public_key()).ok
    # the failed files, ingested again, are stored: nothing of them was
    again = intake.ingest_files(store, [Path(r.file) for r in failed], semd_dir=str(semd_pkg.root))
    assert again.stored == 2 and again.ok
