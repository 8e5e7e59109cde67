"""The sender of registered mail is the case's bureau (``commission``: name and address), stored
with the outbox item when it is queued and printed on the cover letter, the envelope and the
form-103 list (one list per sender); the environment's sender (``MSEDOCS_SENDER_*``) is only the
fall-back of items queued without one. Read back from the print pack's PDFs with pdftotext."""

from __future__ import annotations

import datetime as dt
import json
import subprocess
from pathlib import Path

import pytest
import sqlalchemy as sa

from msedocs.cli import main
from msedocs.delivery import Outbox, Sender, TrackingRange
from msedocs.delivery import schema as t
from tests.conftest import CASES_DIR, require_tool

from .conftest import extract_documents, postal_recipient

SAMARA = ("Бюро медико-социальной экспертизы № 3 — филиал ФКУ «ГБ МСЭ по Самарской области» Минтруда России",
          "443001", "г. Самара, ул. Экспертная, д. 3")  # fmt: skip
OMSK = ("Бюро медико-социальной экспертизы № 12 — филиал ФКУ «ГБ МСЭ по Омской области» Минтруда России",
        "644043", "г. Омск, ул. Экспертная, д. 12")  # fmt: skip
ENV_SENDER = ("ФКУ «ГБ МСЭ по городу Тестовому» (из окружения)", "190000", "г. Тестовый, ул. Окружная, д. 5")


def _text(path: Path) -> str:
    out = subprocess.run([require_tool("pdftotext"), "-raw", str(path), "-"], capture_output=True, check=True)
    return " ".join(out.stdout.decode().split())


def _two_bureaus(tmp_path: Path) -> Path:
    """Two paper cases of two bureaus: the Samara sample, and the Omsk sample sent on paper."""
    folder = tmp_path / "cases"
    folder.mkdir()
    (folder / "samara.json").write_bytes((CASES_DIR / "ru_not_recognised_paper_mail.json").read_bytes())
    omsk = json.loads((CASES_DIR / "ru_not_recognised_portal.json").read_text(encoding="utf-8"))
    omsk["delivery"] = {
        "channel": "paper",
        "postal_address": {"postcode": "644099", "line": "г. Омск, ул. Ленина, д. 1"},
    }
    (folder / "omsk.json").write_text(json.dumps(omsk, ensure_ascii=False), encoding="utf-8")
    return folder


def _has(text: str, sender: tuple[str, str, str]) -> bool:
    """Every part of the sender in the text (spaces aside: the envelope spaces the postcode out)."""
    flat = "".join(text.split())
    return all("".join(part.split()) in flat for part in sender)


def test_print_pack_sender_is_the_cases_bureau(tmp_path, capsys, monkeypatch):
    for var, value in zip(("NAME", "POSTCODE", "ADDRESS"), (ENV_SENDER[0], ENV_SENDER[1], ENV_SENDER[2]), strict=True):
        monkeypatch.setenv(f"MSEDOCS_SENDER_{var}", value)
    url = f"sqlite:///{tmp_path / 'outbox.sqlite3'}"
    assert main(["queue", "init", "--db", url]) == 0
    assert main(["render", str(_two_bureaus(tmp_path)), "--form", "ru-extract", "--format", "xml,pdf", "--sign",
                 "--queue", "--db", url, "--pki", str(tmp_path / "pki"),
                 "--out", str(tmp_path / "out")]) == 0  # fmt: skip
    with Outbox(url) as ob:  # an item queued without a sender (before revision 0003, or by the API without one)
        ob.enqueue(extract_documents(9), "OLD-9", "post", postal_recipient(9), dt.date(2026, 11, 20))
        senders = {i.case_ref: i.sender for i in ob.list_items()}
    assert senders["OLD-9"] is None
    assert {k: (s.name, s.postcode, s.address) for k, s in senders.items() if s} == {
        "RU-2026-000612": SAMARA,  # ru_not_recognised_paper_mail.json
        "RU-2026-000611": OMSK,  # ru_not_recognised_portal.json, sent on paper
    }
    capsys.readouterr()
    post = tmp_path / "post"
    assert main(["post", "batch", "--date", "2026-12-01", "--db", url, "--out", str(post),
                 "--range", "101000:11:1-99999"]) == 0  # fmt: skip
    lists = sorted(post.glob("list-*"))
    assert len(lists) == 3, capsys.readouterr().out  # one form-103 list per sender
    seen = []
    for folder in lists:
        listing = _text(folder / "f103.pdf")
        [pack] = [p for p in folder.iterdir() if p.is_dir()]
        letter, envelope = _text(pack / "1-cover-letter.pdf"), _text(pack / "3-envelope.pdf")
        [sender] = [s for s in (SAMARA, OMSK, ENV_SENDER) if _has(letter, s)]
        assert _has(envelope, sender) and _has(listing, sender), (folder, envelope, listing)
        for other in {SAMARA, OMSK, ENV_SENDER} - {sender}:
            assert other[0] not in letter + envelope + listing and other[2] not in letter + envelope + listing
        csv = (folder / "f103.csv").read_text("utf-8-sig")
        assert (sender is ENV_SENDER) == ("Петрова" in csv)
        seen.append(sender)
    assert sorted(seen) == sorted([SAMARA, OMSK, ENV_SENDER])


def test_sender_is_stored_with_the_item(outbox: Outbox) -> None:
    sender = Sender(name=OMSK[0], postcode=OMSK[1], address=OMSK[2])
    with_sender = outbox.enqueue(extract_documents(1), "C-1", "post", postal_recipient(1), dt.date(2025, 11, 3),
                                 sender=sender)  # fmt: skip
    without = outbox.enqueue(extract_documents(2), "C-2", "post", postal_recipient(2), dt.date(2025, 11, 3))
    assert outbox.get(with_sender).sender == sender
    assert outbox.get(without).sender is None
    outbox.add_tracking_range(TrackingRange.parse("101000:11:1-99999"))
    batch = outbox.prepare_postal_lists(dt.date(2025, 11, 5))
    assert [[i.case_ref for i in b.items] for b in batch] == [["C-1"], ["C-2"]]


def test_upgrade_to_0003_keeps_items_without_a_sender(tmp_path: Path) -> None:
    from alembic import command
    from alembic.config import Config

    from msedocs.delivery.store import MIGRATIONS, make_engine

    url = f"sqlite:///{tmp_path}/old.sqlite3"
    engine = make_engine(url)
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    now = dt.datetime(2025, 11, 5, 9)
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "0002")
        conn.execute(sa.insert(t.items).values(
            id=1, key="k1", case_ref="C-1", channel="post", state="queued", country="RU",
            decision_date=dt.date(2025, 11, 5), due_date=dt.date(2025, 11, 10),
            recipient=postal_recipient(1).to_json(), fallback_to_paper=False, attempts=0, next_attempt_at=now,
            created_at=now, updated_at=now,
        ))  # fmt: skip
    engine.dispose()
    with Outbox(url) as ob:
        assert ob.get(1).sender is None and ob.get(1).recipient == postal_recipient(1)


def test_a_paper_case_needs_its_bureaus_postcode(tmp_path, capsys):
    """The bureau's postcode is the sender's index on the envelope: required when the extract may go
    by registered mail (channel paper, or portal with a postal address for the fall-back)."""
    case = json.loads((CASES_DIR / "ru_not_recognised_paper_mail.json").read_text(encoding="utf-8"))
    del case["commission"]["address"]["postcode"]
    path = tmp_path / "case.json"
    path.write_text(json.dumps(case, ensure_ascii=False), encoding="utf-8")
    assert main(["render", str(path), "--form", "ru-extract", "--format", "xml", "--out", str(tmp_path / "o")]) == 2
    assert "commission.address.postcode: is required when the extract may go by registered mail" in (
        capsys.readouterr().err
    )
    case["delivery"] = {"channel": "portal"}  # no paper possible: no postcode needed
    path.write_text(json.dumps(case, ensure_ascii=False), encoding="utf-8")
    assert main(["render", str(path), "--form", "ru-extract", "--format", "xml", "--out", str(tmp_path / "o")]) == 0


@pytest.mark.parametrize("field", ["name", "address"])
def test_sender_fields_are_required(field):
    with pytest.raises(ValueError):
        Sender(**{"name": "Бюро", "postcode": "443001", "address": "г. Самара", field: ""})
