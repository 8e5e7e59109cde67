"""Delivery throughput: the outbox with 2 worker processes against a plain httpx loop.

    python bench/bench_delivery.py [--items 10000] [--workers 2] [--repeat 3] [--pg URL]

Runs, side by side in one process tree and against one portal stub (its own process):

- ``httpx loop``: one client posting the same payloads, one after another (the ceiling of what
  one sender gets out of the stub);
- ``sqlite``: items queued in a fresh SQLite outbox, delivered by N ``--once`` worker processes;
- ``postgresql``: the same with a fresh PostgreSQL database (skipped if the server is not there).

Worker timings run from starting the processes to the last one exiting, start-up included.
Each variant is repeated and the median is printed; the issue asks for a ratio of at least 0.5.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import secrets
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
import psycopg
import sqlalchemy as sa

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from msedocs.delivery import EnqueueRequest, Outbox, OutboxDocument, Recipient  # noqa: E402
from msedocs.delivery.portal import PortalClient  # noqa: E402

PG_ADMIN = os.environ.get("MSEDOCS_BENCH_PG", "postgresql://postgres@127.0.0.1:5432/postgres")
DOC_SIZE = 3000  # bytes of a small signed document


def start_stub() -> tuple[subprocess.Popen[str], str]:
    p = subprocess.Popen(
        [sys.executable, "-m", "msedocs.delivery.stub", "--port", "0"], stdout=subprocess.PIPE, text=True
    )
    assert p.stdout is not None
    return p, p.stdout.readline().split()[-1]


def stub_stats(url: str) -> dict[str, int]:
    return dict(httpx.get(f"{url}/stats").json())


def requests(n: int, run: str) -> list[EnqueueRequest]:
    out = []
    for i in range(n):
        doc = OutboxDocument(f"extract-{run}-{i}.xml", os.urandom(DOC_SIZE), "application/xml")
        out.append(EnqueueRequest([doc], f"BENCH-{run}-{i}", "portal", Recipient(f"ACC-{i}"), dt.date(2025, 11, 5)))
    return out


def enqueue(ob: Outbox, reqs: list[EnqueueRequest]) -> float:
    t0 = time.perf_counter()
    for k in range(0, len(reqs), 1000):
        ob.enqueue_many(reqs[k : k + 1000])
    return time.perf_counter() - t0


def baseline(url: str, n: int, run: str) -> float:
    """The same kind of payloads, already built, posted by one httpx client in a loop."""
    ob = Outbox("sqlite://", run_migrations=True)  # only to build items exactly as the worker does
    try:
        ids = ob.enqueue_many(requests(n, f"base{run}"))
        claims = ob.claim_due("bench", limit=n)
        assert len(claims) == len(ids)
        payloads = [(c.item.key, PortalClient.payload(c.item, c.documents)) for c in claims]
    finally:
        ob.close()
    with httpx.Client(base_url=url, timeout=30) as client:
        t0 = time.perf_counter()
        for key, body in payloads:
            r = client.post(
                "/deliveries", content=body, headers={"Idempotency-Key": key, "Content-Type": "application/json"}
            )
            r.raise_for_status()
        return time.perf_counter() - t0


def workers(db_url: str, url: str, n: int, count: int, run: str, extra: list[str]) -> tuple[float, float]:
    """Queue n items, then time ``count`` worker processes draining them."""
    with Outbox(db_url, create=True) as ob:
        enq = enqueue(ob, requests(n, run))
    before = stub_stats(url)
    cmd = [sys.executable, "-m", "msedocs.delivery.worker", "--db", db_url, "--portal-url", url, "--once", *extra]
    t0 = time.perf_counter()
    procs = [subprocess.Popen(cmd, stderr=subprocess.DEVNULL) for _ in range(count)]
    for p in procs:
        if p.wait() != 0:
            raise SystemExit(f"worker failed with exit code {p.returncode}")
    elapsed = time.perf_counter() - t0
    after = stub_stats(url)
    with Outbox(db_url) as ob:
        delivered = ob.counts()["delivered"]
    assert after["unique"] - before["unique"] == n, (before, after)
    assert after["duplicates"] == before["duplicates"], "duplicates!"
    assert delivered >= n
    return elapsed, enq


class PgDatabase:
    def __init__(self) -> None:
        self.name = f"msedocs_bench_{secrets.token_hex(4)}"

    def __enter__(self) -> str:
        with psycopg.connect(PG_ADMIN, autocommit=True, connect_timeout=5) as c:
            c.execute(f'CREATE DATABASE "{self.name}"')
        return sa.make_url(PG_ADMIN).set(database=self.name).render_as_string(hide_password=False)

    def __exit__(self, *exc: object) -> None:
        with psycopg.connect(PG_ADMIN, autocommit=True, connect_timeout=5) as c:
            c.execute(f'DROP DATABASE IF EXISTS "{self.name}" WITH (FORCE)')


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--items", type=int, default=10_000)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--no-pg", action="store_true", help="skip PostgreSQL")
    ap.add_argument("--batch", type=int, default=None, help="worker --batch (default: the worker's own)")
    a = ap.parse_args()

    try:
        if a.no_pg:
            raise psycopg.OperationalError("skipped by --no-pg")
        psycopg.connect(PG_ADMIN, connect_timeout=3).close()
        have_pg = True
    except psycopg.Error as exc:
        print(f"PostgreSQL not available ({exc}); only SQLite is measured", file=sys.stderr)
        have_pg = False

    extra = ["--batch", str(a.batch)] if a.batch else []
    stub, url = start_stub()
    times: dict[str, list[float]] = {"httpx loop": [], "sqlite": [], "postgresql": []}
    enq: dict[str, list[float]] = {"sqlite": [], "postgresql": []}
    try:
        with tempfile.TemporaryDirectory() as tmp:
            for r in range(a.repeat):
                # interleaved, so that background load hits every variant alike
                times["httpx loop"].append(baseline(url, a.items, str(r)))
                el, en = workers(f"sqlite:///{tmp}/outbox-{r}.sqlite3", url, a.items, a.workers, f"s{r}", extra)
                times["sqlite"].append(el)
                enq["sqlite"].append(en)
                if have_pg:
                    with PgDatabase() as pg_url:
                        el, en = workers(pg_url, url, a.items, a.workers, f"p{r}", extra)
                    times["postgresql"].append(el)
                    enq["postgresql"].append(en)
                print(f"run {r + 1}/{a.repeat} done", file=sys.stderr, flush=True)
        stats = stub_stats(url)
    finally:
        stub.terminate()
        stub.communicate(timeout=10)

    base = a.items / statistics.median(times["httpx loop"])
    print(f"\n{a.items} items, {a.workers} worker processes, {a.repeat} run(s), median of each; cpus={os.cpu_count()}")
    print(f"{'variant':<30} {'median s':>9} {'items/s':>9} {'ratio':>7}   runs (s)")
    for name, runs in times.items():
        if not runs:
            print(f"{name:<30} {'-':>9} {'-':>9} {'-':>7}   not measured")
            continue
        med = statistics.median(runs)
        label = name if name == "httpx loop" else f"outbox {name}, {a.workers} workers"
        print(
            f"{label:<30} {med:>9.2f} {a.items / med:>9.0f} {a.items / med / base:>7.2f}   "
            + " ".join(f"{x:.2f}" for x in runs)
        )
    for name, runs in enq.items():
        if runs:
            print(f"enqueue ({name}): median {a.items / statistics.median(runs):.0f} items/s")
    print(f"stub: {stats}")
    ok = all(a.items / statistics.median(v) / base >= 0.5 for k, v in times.items() if v and k != "httpx loop")
    print("ratio >= 0.5 on every store:", "yes" if ok else "NO")
    return 0


if __name__ == "__main__":
    sys.exit(main())
