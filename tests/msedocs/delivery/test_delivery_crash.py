"""Crash safety: a worker killed with SIGKILL at random points, and a database restart.

The issue's numbers: 1,000 items, 50 kills, on SQLite and on PostgreSQL. Afterwards every item
is delivered exactly once: the stub's ``unique`` equals the number delivered, ``duplicates``
is 0, and nothing is lost.
"""

from __future__ import annotations

import datetime as dt
import os
import random
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from msedocs.delivery import EnqueueRequest, Outbox, PortalStub
from msedocs.delivery import schema as t
from tests import pglock

from .conftest import extract_documents, portal_recipient

ITEMS = 1000
KILLS = 50
LEASE = 3.0  # seconds before a killed worker's items are claimed again


@pytest.fixture
def stub() -> Iterator[PortalStub]:
    with PortalStub() as s:
        yield s


def fill(ob: Outbox, n: int) -> None:
    ob.enqueue_many(
        [
            EnqueueRequest(extract_documents(i), f"CASE-{i}", "portal", portal_recipient(i), dt.date(2025, 10, 31))
            for i in range(n)
        ]
    )


def worker_process(db_url: str, portal_url: str, *extra: str) -> subprocess.Popen[str]:
    cmd = [
        sys.executable,
        "-m",
        "msedocs.delivery.worker",
        "--db",
        db_url,
        "--portal-url",
        portal_url,
        "--lease",
        str(LEASE),
        "--timeout",
        "0.3",
        "--batch",
        "8",
        "--base-delay",
        "0.2",
        "--announce",
        *extra,
    ]
    return subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)


def drain(db_url: str, portal_url: str, ob: Outbox, expected: int, deadline: float) -> None:
    """Run ``--once`` workers until everything is delivered (stranded leases run out meanwhile)."""
    while ob.counts()["delivered"] < expected:
        assert time.monotonic() < deadline, f"not drained: {ob.counts()}"
        p = worker_process(db_url, portal_url, "--once")
        try:
            p.communicate(timeout=60)
        finally:
            p.kill()
            p.communicate()
        assert p.returncode == 0
        if ob.counts()["delivered"] < expected:
            time.sleep(0.5)


def _requests(stub: PortalStub) -> int:
    stats = stub.stats()
    return stats["deliveries"] + stats["probes"]


def kill_after(p: subprocess.Popen[str], stub: PortalStub, requests: int, extra: float, wait: float = 0.6) -> int:
    """SIGKILL ``p`` ``extra`` seconds after the stub has seen ``requests`` more requests, or after
    ``wait`` seconds if the worker has nothing to do (its items' leases have not run out yet).
    Returns how many requests the worker made."""
    start = _requests(stub)
    deadline = time.monotonic() + wait
    try:
        while _requests(stub) - start < requests and p.poll() is None and time.monotonic() < deadline:
            time.sleep(0.0005)
        time.sleep(extra)
    finally:
        p.send_signal(signal.SIGKILL)
        p.communicate()
    return _requests(stub) - start


@pytest.mark.slow
def test_sigkill_at_random_points_loses_nothing_and_delivers_nothing_twice(db_url: str, stub: PortalStub) -> None:
    seed = int(os.environ.get("MSEDOCS_KILL_SEED", random.randrange(10**6)))
    rng = random.Random(seed)
    print(f"kill test seed {seed} (MSEDOCS_KILL_SEED to repeat)")
    with Outbox(db_url) as ob:
        fill(ob, ITEMS)
        mid_run_kills = 0
        for k in range(KILLS):
            remaining = ITEMS - stub.stats()["unique"]
            per_run = max(1, remaining // (KILLS - k))
            p = worker_process(db_url, stub.url)
            assert p.stdout is not None
            assert p.stdout.readline().startswith("ready"), "worker did not start"
            # A random number of POSTs, then a random pause of up to a few items' time: the kill
            # lands before, during or after a POST, a claim or a commit.
            made = kill_after(p, stub, rng.randint(0, 2 * per_run), rng.uniform(0, 0.004))
            assert p.returncode == -signal.SIGKILL
            mid_run_kills += made > 0
        assert mid_run_kills >= KILLS // 2, "too few kills landed while items were being delivered"
        drain(db_url, stub.url, ob, ITEMS, time.monotonic() + 120)
        counts = ob.counts()
        stats = stub.stats()
        assert counts["delivered"] == ITEMS
        assert sum(counts.values()) == ITEMS
        assert stats["unique"] == counts["delivered"]
        assert stats["duplicates"] == 0
        assert stats["deliveries"] == ITEMS
        # The dangerous window was hit: items POSTed by a killed worker before it could record
        # them were found by the next worker's status check instead of being sent again.
        assert stats["probes"] > 0
        with ob.engine.connect() as conn:
            reclaimed = conn.execute(
                sa.select(sa.func.count()).select_from(t.history).where(t.history.c.reason.like("reclaimed%"))
            ).scalar()
        assert reclaimed and reclaimed > 0
        print(f"kills {KILLS}, of them mid-run {mid_run_kills}; reclaimed {reclaimed}; stub {stats}")


def _pg_restart_command() -> list[str] | None:
    versions = sorted(p.name for p in Path("/etc/postgresql").glob("*") if (p / "main").is_dir())
    if not versions or shutil.which("pg_ctlcluster") is None:
        return None
    return ["pg_ctlcluster", "--skip-systemctl-redirect", versions[-1], "main", "restart"]


def test_worker_survives_a_database_restart(db_url: str, stub: PortalStub) -> None:
    if not db_url.startswith("postgresql"):
        pytest.skip("SQLite has no server to restart (the SIGKILL test covers its crash safety)")
    cmd = _pg_restart_command()
    if cmd is None or os.geteuid() != 0:
        pytest.skip("!!! cannot restart PostgreSQL here (needs pg_ctlcluster and root): restart test SKIPPED !!!")
    # Wait until no other PostgreSQL test of this suite runs (other xdist workers, other sessions).
    n = 300
    stub.configure(delay=0.01)  # about 3 s of work, so the restart lands mid-run
    with pglock.exclusive(), Outbox(db_url) as ob:
        fill(ob, n)
        p = worker_process(db_url, stub.url)
        try:
            _restart_mid_run(p, ob, stub, cmd, n)
        finally:
            if p.poll() is None:
                p.kill()
            p.communicate()


def _restart_mid_run(p: subprocess.Popen[str], ob: Outbox, stub: PortalStub, cmd: list[str], n: int) -> None:
    assert p.stdout is not None and p.stdout.readline().startswith("ready")
    deadline = time.monotonic() + 30
    while ob.counts()["delivered"] < 30:
        assert time.monotonic() < deadline
        time.sleep(0.05)
    subprocess.run(cmd, check=True, capture_output=True, timeout=60)
    assert p.poll() is None, "the worker died with the database"
    deadline = time.monotonic() + 90
    while True:
        try:
            if ob.counts()["delivered"] == n:
                break
        except Exception:  # noqa: BLE001 - the database is still coming back
            pass
        assert time.monotonic() < deadline, "items not delivered after the restart"
        assert p.poll() is None, "the worker died after the restart"
        time.sleep(0.2)
    p.send_signal(signal.SIGTERM)
    p.communicate(timeout=30)
    assert p.returncode == 0
    stats = stub.stats()
    assert stats["unique"] == n
    assert stats["duplicates"] == 0
