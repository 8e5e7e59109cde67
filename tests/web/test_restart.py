"""A big print batch is built in the background and survives the server being killed mid-build:
``msedocs serve`` is killed (SIGKILL to it and its rendering processes) while the batch is
being built; the batch is left ``building`` with no files, and the server started again claims
it once its builder's lease has run out and builds it whole, before anyone opens a page.
Progress is shown meanwhile."""

from __future__ import annotations

import io
import os
import re
import signal
import sqlite3
import time
from pathlib import Path

import pikepdf
import pytest

from msedocs.delivery.models import OutboxDocument, Recipient
from msedocs.delivery.store import Outbox
from msedocs.delivery.tracking import TrackingRange
from tests.api.conftest import Serve

from .conftest import PASSWORDS, Site, bureau_today, make_cases, run

ITEMS = 60


def batch_row(folder: Path, batch_id: int) -> tuple[str, int | None, int | None, int]:
    with sqlite3.connect(folder / "data" / "outbox.sqlite3") as db:
        row = db.execute("SELECT state, done, total, attempts FROM web_batches WHERE id = ?", (batch_id,)).fetchone()
        files = db.execute("SELECT count(*) FROM web_batch_files WHERE batch_id = ?", (batch_id,)).fetchone()[0]
    return row[0], row[1], row[2], files


def test_batch_survives_a_killed_server(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    folder = tmp_path
    (folder / "data").mkdir()
    today = bureau_today()
    cases = make_cases(folder / "cases", today)[:1]
    (folder / "cases" / "RU-2026-000701.json").unlink()
    (folder / "cases" / "RU-2026-000702.json").unlink()
    run("queue", "init", cwd=folder)
    run("render", str(folder / "cases"), "--all", "--format", "xml,pdf", "--sign", "--queue", "--pki",
        str(folder / "data" / "pki"), "--out", str(folder / "out"), cwd=folder)  # fmt: skip
    run("users", "create", "anna", "--role", "clerk", cwd=folder, stdin=PASSWORDS["anna"] + "\n")
    url = f"sqlite:///{folder / 'data' / 'outbox.sqlite3'}"
    with Outbox(url) as outbox:  # a big day: the one item's documents to many more addressees
        first = outbox.find_items()[0]
        docs = [OutboxDocument(d.name, d.content, d.media_type, d.role) for d in outbox.documents(first.id)]
        for n in range(ITEMS - 1):
            outbox.enqueue(docs, f"RU-2026-9{n:05d}", "post", Recipient(name=f"Адресат {n}", address="ул. Тестовая, 1",
                           postcode="460014"), today, due_date=today)  # fmt: skip
        outbox.add_tracking_range(TrackingRange("443001", 12, 1, 900))

    monkeypatch.setenv("MSEDOCS_PRINT_LEASE", "6")
    serve = Serve(folder, "--data", "data", "--workers", "1")
    try:
        serve.wait_ready()
        site = Site(serve.url, folder, cases, serve)
        client, csrf = site.sign_in("anna")
        answer = client.post("/clerk/print", data={"csrf_token": csrf, "all": "1", "duplex": "1"})
        assert answer.status_code == 303, answer.text
        batch_id = int(answer.headers["location"].rsplit("/", 1)[1])
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:  # wait until it is well under way
            state, done, total, _files = batch_row(folder, batch_id)
            if state == "building" and done and done >= 3:
                break
            assert state in ("pending", "building"), state
            time.sleep(0.1)
        else:
            raise AssertionError("the batch did not get under way")
        shown = client.get(f"/clerk/batches/{batch_id}/state").text
        assert re.search(rf"готово \d+ из {ITEMS} отправлений", shown), shown
        page = client.get(f"/clerk/batches/{batch_id}").text
        assert '<meta http-equiv="refresh"' in page and "Пакет формируется" in page  # JavaScript off: refreshes
        os.killpg(serve.proc.pid, signal.SIGKILL)  # the server and its rendering processes, mid-build
        serve.proc.wait(30)
        site.close_clients()
    finally:
        serve.stop()
    state, done, total, files = batch_row(folder, batch_id)
    assert state == "building" and files == 0 and total == ITEMS and done is not None and done < ITEMS, (state, done)

    again = Serve(folder, "--data", "data", "--workers", "1")
    try:
        again.wait_ready()
        deadline = time.monotonic() + 240
        while time.monotonic() < deadline:  # no page is opened: the builder starts with the server
            state, done, total, files = batch_row(folder, batch_id)
            if state != "building" and state != "pending":
                break
            time.sleep(0.5)
        assert state == "ready", state
        site = Site(again.url, folder, cases, again)
        client, _csrf = site.sign_in("anna")
        with sqlite3.connect(folder / "data" / "outbox.sqlite3") as db:
            attempts = db.execute("SELECT attempts FROM web_batches WHERE id = ?", (batch_id,)).fetchone()[0]
        assert attempts == 2
        page = client.get(f"/clerk/batches/{batch_id}").text
        assert "Пакет готов" in page
        pack = client.get(f"/clerk/batches/{batch_id}/files/pack.pdf")
        assert pack.status_code == 200
        with pikepdf.Pdf.open(io.BytesIO(pack.content)) as pdf:
            pages = len(pdf.pages)
        assert f"Пакет готов: {pages} стр." in page
        assert pages >= ITEMS * 3  # every item's cover letter, extract and envelope, and the list
        site.close_clients()
    finally:
        again.stop()
