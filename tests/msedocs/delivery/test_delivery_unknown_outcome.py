"""A portal item whose outcome is unknown never goes out on paper too (issue 18).

A POST that timed out, or a worker killed between its POST and the commit, leaves the portal's
outcome unknown; a status probe that fails (times out, answers 5xx) does not make it known. Such
an item is retried (every retry asks the portal first) and, when paper would be due, it goes to
``unresolved`` for a person: ``msedocs queue resolve ID --delivered | --paper``. Paper only when
the probe answers 404 (the portal has positively not received the item).
"""

from __future__ import annotations

import datetime as dt
import json
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from msedocs.delivery import Outbox, PortalClient, PortalConfig, PortalStub, RetryPolicy, Worker, WorkerConfig

from .conftest import FakeClock, extract_documents, portal_recipient


@pytest.fixture
def stub() -> Iterator[PortalStub]:
    with PortalStub() as s:
        yield s


def msedocs(*args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "msedocs", *args], capture_output=True, text=True, timeout=timeout, check=False
    )


def ok(*args: str, timeout: float = 120) -> str:
    r = msedocs(*args, timeout=timeout)
    assert r.returncode == 0, (args, r.stdout, r.stderr)
    return r.stdout


def sqlite_outbox(tmp_path: Path) -> str:
    url = f"sqlite:///{tmp_path}/outbox.sqlite3"
    Outbox(url, create=True).close()
    return url


def enqueue_with_fallback(db: str, decision: dt.date | None = None) -> int:
    """A portal item with a postal address: a paper fall-back is configured."""
    with Outbox(db) as ob:
        return ob.enqueue(
            extract_documents(1),
            "CASE-1",
            "portal",
            portal_recipient(1, with_address=True),
            decision or dt.date.today(),
        )


def portal_stub_process(*args: str) -> tuple[subprocess.Popen[str], str]:
    p = subprocess.Popen(
        [sys.executable, "-m", "msedocs", "portal-stub", "--port", "0", *args], stdout=subprocess.PIPE, text=True
    )
    assert p.stdout is not None
    line = p.stdout.readline()
    assert "listening on" in line, line
    return p, line.split()[-1]


def test_slow_portal_item_is_not_sent_on_paper_too(tmp_path: Path) -> None:
    """`msedocs portal-stub --mode slow` (answers after 2 s, but records the delivery) and a worker
    with `--timeout 1`: the POST times out, then every status probe times out as well. Before the
    fix the failed probe counted as «not delivered» and the item fell back to registered mail
    while the portal had it."""
    db = sqlite_outbox(tmp_path)
    item_id = enqueue_with_fallback(db)
    p, url = portal_stub_process("--mode", "slow", "--delay", "2")
    try:
        ok(
            "worker", "--once", "--db", db, "--portal-url", url, "--timeout", "1", "--connect-timeout", "1",
            "--base-delay", "0", "--max-attempts", "3", "--fallback-after", "2",
        )  # fmt: skip
        time.sleep(1.5)  # the slow portal records the first POST after its 2 s
        stats = httpx.get(f"{url}/stats", timeout=10).json()
    finally:
        p.terminate()
        p.communicate(timeout=10)
    assert stats["unique"] == 1 and stats["duplicates"] == 0  # the portal has it
    status = json.loads(ok("queue", "status", "--json", "--db", db))
    assert status["unresolved"] == 1 and status["queued"] == 0, status
    listed = json.loads(ok("queue", "list", "--state", "unresolved", "--json", "--db", db))
    assert [(i["id"], i["channel"], i["state"]) for i in listed] == [(item_id, "portal", "unresolved")]
    shown = ok("queue", "show", str(item_id), "--db", db)
    assert "-> unresolved" in shown and "outcome unknown" in shown, shown
    # nothing for the post office
    batch = ok("post", "batch", "--db", db, "--out", str(tmp_path / "post"), "--range", "101000:11:1-99")
    assert "nothing queued for registered mail" in batch
    # a person checked the portal: it has the extract
    assert f"item {item_id}: delivered" in ok("queue", "resolve", str(item_id), "--delivered", "--db", db)
    with Outbox(db) as ob:
        item = ob.get(item_id)
        assert (item.channel, item.state) == ("portal", "delivered")
        assert "resolved by hand" in ob.history(item_id)[-1].reason


def test_resolve_paper_sends_an_unresolved_item_by_registered_mail(tmp_path: Path, stub: PortalStub) -> None:
    db = sqlite_outbox(tmp_path)
    item_id = enqueue_with_fallback(db)
    stub.configure(mode="timeout", hang=1.5)
    ok("worker", "--once", "--db", db, "--portal-url", stub.url, "--timeout", "0.5", "--connect-timeout", "0.5",
       "--max-attempts", "1")  # fmt: skip
    assert json.loads(ok("queue", "status", "--json", "--db", db))["unresolved"] == 1
    # neither flag, both flags: refused
    for flags in ((), ("--delivered", "--paper")):
        r = msedocs("queue", "resolve", str(item_id), *flags, "--db", db)
        assert r.returncode == 2 and "--delivered or --paper" in r.stderr, r.stderr
    out = ok("queue", "resolve", str(item_id), "--paper", "--db", db)
    assert f"item {item_id}: queued for registered mail" in out
    batch = ok("post", "batch", "--db", db, "--out", str(tmp_path / "post"), "--range", "101000:11:1-99")
    assert "list 1 (new): 1 item(s)" in batch
    # resolving again is refused: the item is no longer unresolved
    r = msedocs("queue", "resolve", str(item_id), "--delivered", "--db", db)
    assert r.returncode == 1 and "only an unresolved item" in r.stderr, r.stderr
    assert stub.stats()["unique"] == 0


def test_probe_404_is_the_only_road_to_paper(outbox: Outbox, stub: PortalStub, clock: FakeClock) -> None:
    item_id = outbox.enqueue(
        extract_documents(1), "CASE-1", "portal", portal_recipient(1, with_address=True), dt.date(2025, 10, 31)
    )
    policy = RetryPolicy(max_attempts=4, base_delay=1, jitter=0, fallback_after_attempts=1)
    client = PortalClient(PortalConfig(stub.url, timeout=0.2, connect_timeout=0.2))
    worker = Worker(outbox, client, WorkerConfig(batch_size=4, lease=60, policy=policy))
    stub.configure(mode="timeout", hang=0.5)  # the POST may have arrived
    worker.run(once=True)
    assert (outbox.get(item_id).channel, outbox.get(item_id).state) == ("portal", "retry_wait")
    stub.configure(mode="fail", probe_status=503)  # the status endpoint fails too: still unknown
    for _ in range(2):
        clock.advance(10)
        worker.run(once=True)
        item = outbox.get(item_id)
        assert (item.channel, item.state) == ("portal", "retry_wait"), item.last_reason
        assert item.last_reason == "status check answered HTTP 503"
    stub.configure(probe_status=404)  # the portal says it never got it: now paper is safe
    clock.advance(10)
    worker.run(once=True)
    client.close()
    item = outbox.get(item_id)
    assert (item.channel, item.state) == ("post", "queued")
    assert item.last_reason == "portal answered HTTP 503"
    assert stub.stats()["unique"] == 0


def test_unknown_outcome_at_the_last_attempt_waits_for_a_person(
    outbox: Outbox, stub: PortalStub, clock: FakeClock
) -> None:
    item_id = outbox.enqueue(
        extract_documents(1), "CASE-1", "portal", portal_recipient(1, with_address=True), dt.date(2025, 10, 31)
    )
    policy = RetryPolicy(max_attempts=3, base_delay=1, jitter=0)
    client = PortalClient(PortalConfig(stub.url, timeout=0.2, connect_timeout=0.2))
    worker = Worker(outbox, client, WorkerConfig(batch_size=4, lease=60, policy=policy))
    stub.configure(mode="timeout", hang=0.5)
    for _ in range(3):
        worker.run(once=True)
        clock.advance(10)
    item = outbox.get(item_id)
    assert (item.channel, item.state) == ("portal", "unresolved")
    worker.run(once=True)  # the worker leaves it alone
    assert outbox.get(item_id).attempts == 3
    # a person asks for another try: the worker asks the portal first, then sends
    stub.configure(mode="ok")
    outbox.retry(item_id)
    worker.run(once=True)
    client.close()
    assert outbox.get(item_id).state == "delivered"
    assert stub.stats()["unique"] == 1 and stub.stats()["duplicates"] == 0 and stub.stats()["probes"] == 1


def test_an_unknown_item_close_to_its_due_date_goes_to_a_person(
    outbox: Outbox, stub: PortalStub, clock: FakeClock
) -> None:
    """The deadline rule: when paper would be due (here: one day before the due date) and the
    outcome is unknown, a person decides, in time to post it if the portal does not have it."""
    item_id = outbox.enqueue(
        extract_documents(1),
        "CASE-1",
        "portal",
        portal_recipient(1, with_address=True),
        dt.date(2025, 10, 31),
        due_date=dt.date(2025, 11, 1),
    )
    client = PortalClient(PortalConfig(stub.url, timeout=0.2, connect_timeout=0.2))
    worker = Worker(outbox, client, WorkerConfig(lease=60, policy=RetryPolicy(base_delay=1, jitter=0)))
    stub.configure(mode="timeout", hang=0.5)
    worker.run(once=True)
    assert outbox.get(item_id).state == "retry_wait"  # a POST that timed out: ask first
    clock.advance(5)
    stub.configure(mode="fail", probe_status=503)
    worker.run(once=True)
    client.close()
    item = outbox.get(item_id)
    assert (item.channel, item.state) == ("portal", "unresolved")


def test_a_worker_killed_after_its_post_never_leads_to_paper(tmp_path: Path, stub: PortalStub) -> None:
    """SIGKILL while the POST is at the portal (which records it), then a failing status
    endpoint: the next worker must not send the item on paper."""
    db = sqlite_outbox(tmp_path)
    item_id = enqueue_with_fallback(db)
    stub.configure(mode="slow", delay=1.0)
    worker_args = ["--db", db, "--portal-url", stub.url, "--timeout", "1", "--connect-timeout", "0.5",
                   "--fallback-after", "1", "--base-delay", "0.1"]  # fmt: skip
    p = subprocess.Popen(
        [sys.executable, "-m", "msedocs", "worker", *worker_args],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        with Outbox(db) as ob:
            deadline = time.monotonic() + 30
            while ob.get(item_id).state != "sending":
                assert time.monotonic() < deadline and p.poll() is None
                time.sleep(0.02)
            time.sleep(0.4)  # the POST is at the portal, which answers after 1 s
    finally:
        p.send_signal(signal.SIGKILL)
        p.communicate()
    time.sleep(1.0)
    assert stub.stats()["unique"] == 1  # the portal recorded it; the worker never knew
    stub.configure(mode="ok", delay=0.0, probe_status=503)
    with Outbox(db) as ob:
        lease_until = ob.get(item_id).lease_until
        assert lease_until is not None
        wait = (lease_until - ob.clock()).total_seconds()
    time.sleep(max(0.0, wait) + 0.2)
    ok("worker", "--once", *worker_args)
    with Outbox(db) as ob:
        item = ob.get(item_id)
    assert (item.channel, item.state) == ("portal", "retry_wait"), (item.state, item.last_reason)
    stub.configure(probe_status=0)  # the status endpoint is back
    time.sleep(0.2)
    ok("worker", "--once", *worker_args)
    with Outbox(db) as ob:
        item = ob.get(item_id)
    assert (item.channel, item.state) == ("portal", "delivered")
    stats = stub.stats()
    assert stats["unique"] == 1 and stats["duplicates"] == 0 and stats["deliveries"] == 1
