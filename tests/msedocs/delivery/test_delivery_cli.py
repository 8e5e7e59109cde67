"""The delivery commands as the lead mounts them into ``msedocs``."""

from __future__ import annotations

import datetime as dt
import json
import subprocess
import sys
from pathlib import Path

import httpx
import pytest
import typer
from typer.testing import CliRunner

from msedocs.delivery import Outbox, PortalStub
from msedocs.delivery.cli import deadlines_cmd, portal_stub_cmd, post_app, queue_app, worker_cmd
from msedocs.errors import InputError

from .conftest import extract_documents, portal_recipient, postal_recipient

app = typer.Typer()
app.add_typer(queue_app, name="queue")
app.add_typer(post_app, name="post")
app.command("deadlines")(deadlines_cmd)
app.command("worker")(worker_cmd)
app.command("portal-stub")(portal_stub_cmd)
runner = CliRunner()


def run(*args: str) -> str:
    result = runner.invoke(app, list(args), catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result.output


def test_queue_worker_deadlines_and_post(db_url: str, tmp_path: Path) -> None:
    with Outbox(db_url) as ob:
        portal_ids = [
            ob.enqueue(extract_documents(n), f"CASE-{n}", "portal", portal_recipient(n), dt.date(2025, 10, 31))
            for n in range(3)
        ]
        post_id = ob.enqueue(extract_documents(7), "CASE-7", "post", postal_recipient(7), dt.date(2025, 10, 31))
    status = json.loads(run("queue", "status", "--db", db_url, "--json"))
    assert status["queued"] == 4 and status["delivered"] == 0

    with PortalStub() as stub:
        stub.configure(fail_next=1, fail_status=400)  # the first item is refused for good
        out = run("worker", "--db", db_url, "--portal-url", stub.url, "--once", "--no-fallback")
        assert "delivered 2" in out
        assert stub.stats()["unique"] == 2
    status = json.loads(run("queue", "status", "--db", db_url, "--json"))
    assert (status["delivered"], status["dead"], status["queued"]) == (2, 1, 1)
    dead = json.loads(run("queue", "dead", "--db", db_url, "--json"))
    assert [d["id"] for d in dead] == [portal_ids[0]]
    assert dead[0]["last_reason"] == "portal answered HTTP 400"
    assert "Петрова" not in run("queue", "list", "--db", db_url)  # no personal data on screen
    assert "queued" in run("queue", "retry", str(portal_ids[0]), "--db", db_url)
    assert "-> queued (retry requested)" in run("queue", "show", str(portal_ids[0]), "--db", db_url)

    # deadlines: due 6 Nov 2025; on the 7th the open items are overdue
    report = json.loads(run("deadlines", "--db", db_url, "--date", "2025-11-07", "--json"))
    assert {r["id"] for r in report["overdue"]} == {portal_ids[0], post_id}
    assert {r["id"] for r in report["delivered_late"]} == set(portal_ids[1:])  # delivered today, in 2026
    assert "overdue: 2" in run("deadlines", "--db", db_url, "--date", "2025-11-07")

    # registered mail
    out = run(
        "post", "batch", "--db", db_url, "--date", "2025-11-05", "--out", str(tmp_path), "--range", "101000:11:1-99"
    )
    assert "list 1 (new): 1 item(s)" in out
    assert (tmp_path / "list-1" / "f103.csv").exists()
    assert "10100011000017: handed over on 2025-11-05" in run(
        "post", "handed-over", "--list", "1", "--date", "2025-11-05", "--db", db_url
    )
    assert "returned" in run("post", "returned", "10100011000017", "--date", "2025-11-20", "--db", db_url)
    with Outbox(db_url) as ob:
        item = ob.get(post_id)
        assert (item.state, item.handed_over_on) == ("returned", dt.date(2025, 11, 5))
        assert item.completed_on == dt.date(2025, 11, 5)  # the deadline counts the hand-over


def test_bad_input_is_an_input_error(tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path}/o.sqlite3"
    for args in (
        ["deadlines", "--db", db, "--date", "5.11.2025"],
        ["queue", "list", "--db", db, "--state", "lost"],
        ["worker", "--db", db],
        ["post", "batch", "--db", db, "--out", str(tmp_path), "--range", "nonsense"],
        ["queue", "retry", "42", "--db", db],
        ["queue", "status", "--db", "mysql://x/y"],
    ):
        result = runner.invoke(app, args)
        assert isinstance(result.exception, InputError), (args, result.output)


def test_portal_stub_entry_point() -> None:
    p = subprocess.Popen(
        [sys.executable, "-m", "msedocs.delivery.stub", "--port", "0", "--mode", "fail"],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert p.stdout is not None
        url = p.stdout.readline().split()[-1]
        r = httpx.post(f"{url}/deliveries", json={"documents": []}, headers={"Idempotency-Key": "k"})
        assert r.status_code == 503
        assert httpx.get(f"{url}/stats").json()["failed"] == 1
    finally:
        p.terminate()
        p.communicate(timeout=10)


@pytest.mark.parametrize("cmd", ["queue", "post"])
def test_help(cmd: str) -> None:
    assert "Usage" in run(cmd, "--help")
