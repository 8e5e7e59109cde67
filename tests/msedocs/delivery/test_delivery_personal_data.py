"""The outbox keeps only the personal data its channel needs (issue 18).

A portal item keeps the portal account (the СНИЛС) and no name or postal address, unless a paper
fall-back is configured: the case's ``delivery.postal_address`` given with channel ``portal``.
A paper item keeps the addressee and the address, not the portal account. Checked by reading
the database rows themselves.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import sqlite3
from pathlib import Path

import pytest

import msedocs
from generators.common import RenderedDocument
from msedocs.cli import main
from msedocs.delivery import Outbox, PortalClient, PortalConfig, PortalStub, Worker, WorkerConfig
from msedocs.queueing import queue_case

from .conftest import SMALL_PDF

FIXTURES = Path(__file__).resolve().parents[3] / "fixtures" / "cases"
ADDRESS = {"postcode": "644099", "line": "г. Омск, ул. Тестовая, д. 3, кв. 14"}


def load(name: str, **delivery: object) -> msedocs.Case:
    data = json.loads((FIXTURES / name).read_text(encoding="utf-8"))
    data["delivery"].update(delivery)
    return msedocs.load_case(data)


def documents() -> tuple[list[RenderedDocument], list[RenderedDocument]]:
    signed = [
        RenderedDocument("ru-extract", "xml", b"<extract/>", "application/xml", "ru-extract.xml"),
        RenderedDocument("ru-extract", "pdf", SMALL_PDF, "application/pdf", "ru-extract.pdf"),
    ]
    paper = [RenderedDocument("ru-extract", "pdf", SMALL_PDF + b"%paper\n", "application/pdf", "ru-extract.pdf")]
    return signed, paper


def rows(path: Path, item_id: int) -> tuple[dict[str, object], bool, list[str]]:
    """The stored recipient, fall-back flag and document roles of an item, read with sqlite3."""
    con = sqlite3.connect(path)
    try:
        recipient, fallback = con.execute(
            "SELECT recipient, fallback_to_paper FROM outbox_items WHERE id = ?", (item_id,)
        ).fetchone()
        roles = [r for (r,) in con.execute("SELECT role FROM outbox_documents WHERE item_id = ?", (item_id,))]
    finally:
        con.close()
    return json.loads(recipient), bool(fallback), roles


def queue(tmp_path: Path, case: msedocs.Case) -> tuple[Path, int]:
    path = tmp_path / "outbox.sqlite3"
    signed, paper = documents()
    return path, queue_case(case, signed, paper, f"sqlite:///{path}")


def test_a_portal_item_without_fall_back_keeps_no_name_or_address(tmp_path: Path) -> None:
    case = load("ru_not_recognised_portal.json")
    path, item_id = queue(tmp_path, case)
    recipient, fallback, roles = rows(path, item_id)
    assert recipient["portal_account"] == case.patient.insurance.snils
    assert recipient["name"] is None and recipient["address"] is None and recipient["postcode"] is None
    assert fallback is False
    assert roles == ["electronic", "electronic"]  # no paper variant to print: it names and addresses
    con = sqlite3.connect(path)
    try:
        dump = "\n".join(con.iterdump())
    finally:
        con.close()
    assert case.patient.name.last not in dump and case.patient.name.first not in dump


def test_a_portal_item_with_a_postal_address_keeps_it_for_the_fall_back(tmp_path: Path) -> None:
    case = load("ru_not_recognised_portal.json", postal_address=ADDRESS)
    path, item_id = queue(tmp_path, case)
    recipient, fallback, roles = rows(path, item_id)
    assert recipient["portal_account"] == case.patient.insurance.snils
    assert recipient["name"] == case.patient.name.full
    assert (recipient["postcode"], recipient["address"]) == (ADDRESS["postcode"], ADDRESS["line"])
    assert fallback is True
    assert sorted(roles) == ["electronic", "electronic", "paper"]


def test_a_paper_item_keeps_no_portal_account(tmp_path: Path) -> None:
    case = load("ru_not_recognised_paper_mail.json")
    path, item_id = queue(tmp_path, case)
    recipient, fallback, roles = rows(path, item_id)
    assert recipient["portal_account"] is None
    assert recipient["name"] == case.patient.name.full and recipient["postcode"]
    assert "paper" in roles
    with Outbox(f"sqlite:///{path}") as ob:
        assert ob.get(item_id).channel == "post"


def test_the_store_itself_drops_what_the_channel_does_not_need(tmp_path: Path) -> None:
    """Callers of the Python API get the same minimisation as queue_case."""
    from msedocs.delivery import Recipient

    from .conftest import extract_documents

    url = f"sqlite:///{tmp_path}/o.sqlite3"
    full = Recipient(portal_account="ACC-1", name="Тестова Тест", postcode="101000", address="ул. Тестовая, 1")
    with Outbox(url, create=True) as ob:
        day = dt.date(2025, 10, 31)
        portal_only = ob.enqueue(extract_documents(1), "C-1", "portal", full, day, fallback_to_paper=False)
        post = ob.enqueue(extract_documents(2), "C-2", "post", full, day)
    r1, f1, roles1 = rows(tmp_path / "o.sqlite3", portal_only)
    assert (r1["portal_account"], r1["name"], r1["address"], f1) == ("ACC-1", None, None, False)
    assert roles1 == ["electronic"]
    r2, _f2, _roles2 = rows(tmp_path / "o.sqlite3", post)
    assert (r2["portal_account"], r2["name"]) == (None, "Тестова Тест")


def test_no_name_address_or_snils_in_logs_and_output(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    portal = load("ru_not_recognised_portal.json", postal_address=ADDRESS)
    paper = load("ru_not_recognised_paper_mail.json")
    signed, printed = documents()
    db = f"sqlite:///{tmp_path}/outbox.sqlite3"
    ids = [queue_case(c, signed, printed, db) for c in (portal, paper)]
    with PortalStub() as stub, Outbox(db) as ob:
        stub.configure(mode="fail")
        client = PortalClient(PortalConfig(stub.url, timeout=1, connect_timeout=1))
        Worker(ob, client, WorkerConfig(lease=60)).run(once=True)
        client.close()
    outputs = []
    for args in (
        ["queue", "list", "--db", db],
        ["queue", "list", "--json", "--db", db],
        ["queue", "dead", "--db", db],
        *(["queue", "show", str(i), "--db", db] for i in ids),
        ["post", "batch", "--db", db, "--out", str(tmp_path / "post"), "--range", "101000:11:1-99"],
        ["deadlines", "--json", "--db", db],
        ["queue", "retry", "999", "--db", db],
        ["queue", "resolve", str(ids[0]), "--paper", "--db", db],
    ):
        main(args)
        out, err = capsys.readouterr()
        outputs.append(out + err)
    text = "\n".join(outputs) + caplog.text
    for case in (portal, paper):
        p = case.patient
        snils = p.insurance.snils
        assert snils is not None
        for secret in (p.name.last, p.name.first, snils, snils.replace("-", "").replace(" ", "")):
            assert secret not in text, secret
    for secret in (ADDRESS["line"], ADDRESS["postcode"], "Оренбург"):
        assert secret not in text, secret
