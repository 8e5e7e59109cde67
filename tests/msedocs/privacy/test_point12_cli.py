"""Point 12 on the command line: sign and record a decision, reveal, refusals; all through msedocs.cli.main."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import sqlalchemy as sa

from msedocs.cli import main
from msedocs.referrals import schema as t
from msedocs.referrals import synth
from msedocs.referrals.store import ReferralStore

from .conftest import generated


@pytest.fixture
def cli(tmp_path: Path, semd_pkg, monkeypatch, capsys):  # type: ignore[no-untyped-def]
    """A database with bureaus and three ingested referrals, through the CLI; run(args) -> (code, out, err)."""
    monkeypatch.setenv("MSEDOCS_AUDIT_KEY", str(tmp_path / "audit.pem"))
    monkeypatch.setenv("MSEDOCS_DB", f"sqlite:///{tmp_path / 'r.db'}")
    monkeypatch.setenv("MSEDOCS_KEK_SPEC", f"file:{tmp_path / 'kek'}")
    monkeypatch.setenv("MSEDOCS_SEMD_DIR", str(semd_pkg.root))
    (tmp_path / "kek").write_bytes(b"K" * 32)

    def run(*args: str) -> tuple[int, str, str]:
        capsys.readouterr()
        code = main(list(args))
        out, err = capsys.readouterr()
        return code, out, err

    assert run("bureaus", "add", "gb1", "--name", "Главное бюро 1")[0] == 0
    areas = [f"--area={r[3]}" for r in synth.REGIONS]
    assert run("bureaus", "add", "addr", "--name", "Бюро по адресу", "--kind", "address", *areas)[0] == 0
    docs = tmp_path / "docs"
    docs.mkdir()
    refs = []
    for i in range(200):  # three referrals of the order's own kind: without presence, Mintrud's route
        r = generated(i)
        if r.in_absentia and not r.special_route:
            refs.append(r)
            (docs / f"r{len(refs)}.xml").write_bytes(synth.to_cda(r))
        if len(refs) == 3:
            break
    code, out, _ = run("referrals", "ingest", str(docs))
    assert code == 0
    ids = [line.split("referral ")[1].split()[0] for line in out.splitlines() if " -> bureau gb1 " in line]
    assert len(ids) == 3
    run.ids = ids  # type: ignore[attr-defined]
    run.refs = refs  # type: ignore[attr-defined]
    run.tmp = tmp_path  # type: ignore[attr-defined]
    return run


def _audit(tmp_path: Path) -> list[tuple[str, str | None, str, dict]]:
    store = ReferralStore(f"sqlite:///{tmp_path / 'r.db'}")
    with store.tx() as conn:
        rows = [(r.event, r.referral_id, r.actor, json.loads(r.details))
                for r in conn.execute(sa.select(t.audit_log).order_by(t.audit_log.c.seq))]  # fmt: skip
    store.close()
    return rows


def _values(r: synth.SyntheticReferral) -> list[str]:
    return [r.patient.last, r.patient.first, r.snils, r.oms, r.registration.line, r.passport[1]]


def test_decide_then_reveal_only_what_the_purpose_allows(cli) -> None:
    rid, ref, tmp = cli.ids[0], cli.refs[0], cli.tmp
    assert cli("bureaus", "keygen", "gb1", "--out", str(tmp / "gb1.pem"))[0] == 0
    assert (tmp / "gb1.pem").stat().st_mode & 0o077 == 0

    # before any decision: refused, nothing on stdout
    code, out, err = cli("referrals", "reveal", rid, "--bureau", "gb1", "--purpose", "in-person")
    assert (code, out) == (2, "") and "reveal refused: no signed decision of in_person" in err

    # the bureau signs; the operator records; a signature for another decision is refused and audited
    dec = tmp / "decision.json"
    assert cli("referrals", "sign-decision", rid, "--decision", "in-person", "--bureau", "gb1",
               "--key", str(tmp / "gb1.pem"), "--out", str(dec), "--date", "2026-10-02")[0] == 0  # fmt: skip
    assert json.loads(dec.read_text())["decision"] == "in_person"
    code, out, err = cli("referrals", "decide", rid, "--decision", "additional-programme", "--signed-by", "gb1",
                         "--signature", str(dec))  # fmt: skip
    assert code == 2 and "does not verify" in err
    code, out, err = cli("referrals", "decide", rid, "--decision", "in-person", "--signed-by", "gb1",
                         "--signature", str(dec))  # fmt: skip
    assert code == 0 and "restriction lifted -> bureau addr (point12-in_person)" in out

    refusals = [
        (["--bureau", "gb1", "--purpose", "in-person"], "only the bureau of the citizen's address"),
        (["--bureau", "addr", "--purpose", "in-person", "--category", "8"], "categories [8] are not needed"),
        (["--bureau", "addr", "--purpose", "additional-programme"], "no signed decision of exam_programme"),
        (["--bureau", "addr", "--purpose", "curiosity"], "unknown purpose 'curiosity'"),
        (["--delivery", "--purpose", "extract-delivery"], "has not decided yet"),
    ]
    for args, reason in refusals:
        code, out, err = cli("referrals", "reveal", rid, *args)
        assert code == 2 and out == "" and reason in err, (args, err)
        assert not any(v in err for v in _values(ref))

    code, out, err = cli("referrals", "reveal", rid, "--bureau", "addr", "--purpose", "in-person",
                         "--category", "1", "--category", "4")  # fmt: skip
    assert code == 0, err
    got = json.loads(out)
    assert set(got["categories"]) == {"1", "4"} and got["requester"] == "bureau:addr"
    assert got["categories"]["4"][0]["value"] == ref.snils
    assert ref.patient.last in got["categories"]["1"][0]["value"]
    assert ref.registration.line not in out and ref.oms not in out  # categories 2 and 5 were not asked for

    code, out, _ = cli("referrals", "reveal", rid, "--bureau", "addr", "--purpose", "in-person")
    assert code == 0 and set(json.loads(out)["categories"]) <= {"1", "2", "3", "4", "5", "6", "7"}

    log = _audit(tmp)
    mine = [e for e in log if e[1] == rid]
    assert [e[0] for e in mine if e[0] != "identifier-issued"] == [
        "routed", "reveal-refused", "decision-refused", "restriction-lifted",
        *["reveal-refused"] * len(refusals), "reveal", "reveal"]
    refused = [e for e in mine if e[0] == "reveal-refused"]
    assert [e[2] for e in refused] == ["bureau:gb1", "bureau:gb1", "bureau:addr", "bureau:addr", "bureau:addr",
                                       "platform:delivery"]  # fmt: skip
    assert all(e[3]["reason"] for e in refused)
    granted = [e for e in mine if e[0] == "reveal"]
    assert granted[0][3]["categories"] == [1, 4] and granted[0][3]["purpose"] == "in_person"
    text = json.dumps(log, ensure_ascii=False)
    assert not any(v in text for v in _values(ref))
    assert cli("audit", "verify")[0] == 0


def test_decide_with_the_key_and_extract_delivery(cli) -> None:
    tmp = cli.tmp
    assert cli("bureaus", "keygen", "gb1", "--out", str(tmp / "gb1.pem"))[0] == 0
    code, out, err = cli("referrals", "decide", cli.ids[1], "--decision", "additional-programme", "--signed-by", "gb1",
                         "--key", str(tmp / "gb1.pem"))  # fmt: skip
    assert code == 0 and "exam_programme decided by bureau gb1" in out
    code, out, _ = cli("referrals", "reveal", cli.ids[1], "--bureau", "addr", "--purpose", "additional-programme")
    assert code == 0 and set(json.loads(out)["categories"]) <= {"1", "2", "3", "7"}

    # a key that is not the bureau's: refused and audited
    other = tmp / "other.pem"
    assert cli("bureaus", "keygen", "addr", "--out", str(other))[0] == 0
    code, out, err = cli("referrals", "decide", cli.ids[2], "--decision", "in-person", "--signed-by", "gb1",
                         "--key", str(other))  # fmt: skip
    assert code == 2 and out == "" and "does not verify" in err

    # the bureau decided the case itself: the extract's delivery (internal) may see its categories, no one else
    code, out, err = cli("referrals", "reveal", cli.ids[2], "--delivery", "--purpose", "extract-delivery")
    assert code == 2 and out == "" and "not decided yet" in err
    assert cli("referrals", "close", cli.ids[2], "--bureau", "gb1")[0] == 0
    code, out, _ = cli("referrals", "reveal", cli.ids[2], "--bureau", "gb1", "--purpose", "extract-delivery")
    assert code == 2 and out == ""
    code, out, _ = cli("referrals", "reveal", cli.ids[2], "--delivery", "--purpose", "extract-delivery")
    assert code == 0 and set(json.loads(out)["categories"]) == {"1", "2", "4"}

    # unknown referrals and erased data: refused, audited, nothing printed
    code, out, err = cli("referrals", "reveal", "f" * 32, "--bureau", "addr", "--purpose", "in-person")
    assert code == 2 and out == "" and "no such referral" in err
    code, out, err = cli("referrals", "reveal", "Иванов", "--bureau", "addr", "--purpose", "in-person")
    assert code == 2 and out == ""
    code, out, err = cli("referrals", "reveal", cli.ids[2], "--bureau", "Петров П.П.", "--purpose", "Сидоров")
    assert code == 2 and out == "" and "unknown purpose 'Сидоров'" in err
    assert cli("referrals", "erase", cli.ids[1])[0] == 0
    code, out, err = cli("referrals", "reveal", cli.ids[1], "--bureau", "addr", "--purpose", "additional-programme")
    assert code == 2 and out == "" and "erased" in err
    log = _audit(tmp)
    tail = [(e[0], e[1], e[3].get("reason")) for e in log[-5:]]
    assert tail[0] == ("reveal-refused", "f" * 32, "no such referral")
    assert tail[1] == ("reveal-refused", None, "not a referral id")  # what was typed is not logged
    assert tail[2] == ("reveal-refused", cli.ids[2], "unknown purpose")
    assert log[-3][2] == "(unknown: 18 characters)" and log[-3][3]["purpose"] == "(unknown)"
    text = json.dumps(log, ensure_ascii=False)
    assert "Иванов" not in text and "Петров" not in text and "Сидоров" not in text
    assert tail[3][0] == "erased" and tail[4][0] == "reveal-refused" and "erased" in (tail[4][2] or "")
    assert [e[0] for e in log if e[1] == cli.ids[2]].count("decision-refused") == 1
    assert cli("audit", "verify")[0] == 0


def test_decide_needs_one_signature_and_a_known_decision(cli) -> None:
    code, _, err = cli("referrals", "decide", cli.ids[0], "--decision", "in-person", "--signed-by", "gb1")
    assert code == 2 and "--signature FILE" in err
    code, _, err = cli("referrals", "decide", cli.ids[0], "--decision", "maybe", "--signed-by", "gb1", "--key", "x")
    assert code == 2 and "in-person or additional-programme" in err
    code, _, err = cli("referrals", "decide", cli.ids[0], "--decision", "in-person", "--signed-by", "gb1",
                       "--key", str(cli.tmp / "missing.pem"))  # fmt: skip
    assert code == 2 and "cannot read" in err
    # no key registered for the bureau: refused with the way to register one, and audited
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    from msedocs.referrals import decisions

    decisions.write_private_key(cli.tmp / "k.pem", Ed25519PrivateKey.generate())
    code, out, err = cli("referrals", "decide", cli.ids[0], "--decision", "in-person", "--signed-by", "gb1",
                         "--key", str(cli.tmp / "k.pem"))  # fmt: skip
    assert code == 2 and "bureaus keygen" in err
    assert _audit(cli.tmp)[-1][3]["reason"] == "the bureau has no public key registered"
