"""One batch split over 1, 2 and 4 `msedocs worker --jobs` processes coordinated by PostgreSQL
(not a test).

    .venv/bin/python bench/bench_distributed.py [--cases 60] [--seed 21] [--procs 1,2,4]
                                                [--engine typst] [--pg postgresql://postgres@127.0.0.1:5432/postgres]
                                                [--database msedocs_bench_dist] [--pg-jobs 300]

The batch: `msedocs fixtures generate --count N --seed S`, every form that applies, XML + PDF/A-3b +
DOCX, signed at B-T with the test PKI (`msedocs batch submit CASES --all --sign --engine E`). For
each P, in its own database (created here, dropped at the end):

1. cold: a fresh batch submitted, then P workers (`msedocs worker --jobs --workers 1`) started;
   the wall time from the submit's start until every job of the batch succeeded, start-up included;
2. warm: the same P workers, now warmed up (imports, fonts, keys, first documents), given a fresh
   batch of the same cases (another --batch-id): the same wall time without start-up;
3. `msedocs batch collect` of the warm batch into a folder (wall time).

Printed per run: PDF pages per second, speed-up against P=1, the workers' CPU seconds (their
process groups, from /proc), the load average before and after. Then PostgreSQL's own share: the
store's claim and complete (with one real case's outputs as the files) timed in this process for
--pg-jobs jobs, one after another and from 4 threads at once, so that the README can say how many
jobs a second one PostgreSQL takes before it, and not the renderers, is the limit; and the outputs'
size per case, which the store keeps as blobs until the jobs are deleted.

The machine's cores bound the speed-up (P workers on C cores cannot beat C); the load average is
printed beside each figure because the machine may be shared.
"""

from __future__ import annotations

import argparse
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import psycopg
import sqlalchemy as sa
from bench_national_day import pdf_pages  # this folder's: the same pages counted

BIN = Path(sys.executable).parent
MSEDOCS = str(BIN / "msedocs")
TICK = os.sysconf("SC_CLK_TCK")


def msedocs(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    done = subprocess.run([MSEDOCS, *args], cwd=cwd, capture_output=True, text=True, timeout=3600)
    if done.returncode != 0:
        raise SystemExit(f"msedocs {' '.join(args[:2])} failed ({done.returncode}): {done.stderr[-2000:]}")
    return done


def group_cpu(pgid: int) -> float:
    """CPU seconds of a process group's live processes and the children they waited for."""
    total = 0
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            fields = Path(f"/proc/{entry}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[2]) == pgid:  # pgrp; then utime, stime, cutime, cstime are fields 11-14
            total += sum(int(f) for f in fields[11:15])
    return total / TICK


class Workers:
    """P `msedocs worker --jobs --workers 1` processes, each in its own process group."""

    def __init__(self, count: int, db: str, pki: Path, logs: Path) -> None:
        self.procs = []
        for n in range(count):
            log = (logs / f"worker-{count}-{n}.log").open("wb")
            self.procs.append(subprocess.Popen(
                [MSEDOCS, "worker", "--jobs", "--db", db, "--workers", "1", "--pki", str(pki)],
                stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
            ))  # fmt: skip
        self.cpu_at_end: float | None = None

    def cpu(self) -> float:
        return sum(group_cpu(p.pid) for p in self.procs)

    def stop(self) -> None:
        self.cpu_at_end = self.cpu()
        for p in self.procs:
            if p.poll() is None:
                os.killpg(p.pid, signal.SIGTERM)
        for p in self.procs:
            try:
                p.wait(60)
            except subprocess.TimeoutExpired:
                os.killpg(p.pid, signal.SIGKILL)
                p.wait()
            try:
                os.killpg(p.pid, signal.SIGKILL)  # its rendering processes
            except ProcessLookupError:
                pass


def wait_batch(db: str, batch_id: str, jobs: int, timeout: float = 3600) -> None:
    """Until every job of the batch succeeded (polled every 50 ms; a failed job stops the run)."""
    deadline = time.monotonic() + timeout
    with psycopg.connect(db, autocommit=True) as conn:
        while time.monotonic() < deadline:
            counts = dict(conn.execute("SELECT state, count(*) FROM api_jobs WHERE batch_id = %s GROUP BY state",
                                       (batch_id,)).fetchall())  # fmt: skip
            if counts.get("failed") or counts.get("cancelled"):
                raise SystemExit(f"batch {batch_id}: {counts}")
            if counts.get("succeeded", 0) == jobs:
                return
            time.sleep(0.05)
    raise SystemExit(f"batch {batch_id} not finished in {timeout} s")


def submit(db: str, cases: Path, batch_id: str, engine: str, cwd: Path) -> tuple[int, float]:
    start = time.monotonic()
    done = msedocs("batch", "submit", str(cases), "--db", db, "--all", "--sign", "--engine", engine,
                   "--batch-id", batch_id, cwd=cwd)  # fmt: skip
    return int(done.stdout.split()[1]), time.monotonic() - start


def pg_cost(db: str, outputs: list[tuple[str, str, bytes]], jobs: int) -> dict[str, float]:
    """The store's claim + complete (with ``outputs`` as a job's files) for ``jobs`` queued jobs,
    one after another and then from 4 threads: ms a job, and jobs a second."""
    from msedocs.api.store import JobStore

    manifest = {"case_id": "bench", "forms": [], "files": []}
    out: dict[str, float] = {}
    with JobStore(db) as store:
        for label, threads in (("serial", 1), ("4 threads", 4)):
            batch = f"pgcost-{threads}-{time.time_ns()}"
            store.submit_batch(batch, batch, lambda b=batch: ((f"{b}-{n}", b"{}") for n in range(jobs)))
            claims: list[float] = []
            completes: list[float] = []
            lock = threading.Lock()

            def work(claims: list[float], completes: list[float], lock: threading.Lock) -> None:
                while True:
                    t0 = time.perf_counter()
                    claim = store.claim("bench-pg", 60)
                    t1 = time.perf_counter()
                    if claim is None:
                        return
                    unique = claim.job.id.encode()  # each job's own files, as real jobs have (no shared blob)
                    files = [(name, media, content + unique) for name, media, content in outputs]
                    store.complete(claim.job.id, claim.token, files, manifest, durable=True)
                    t2 = time.perf_counter()
                    with lock:
                        claims.append(t1 - t0)
                        completes.append(t2 - t1)

            start = time.perf_counter()
            pool = [threading.Thread(target=work, args=(claims, completes, lock)) for _ in range(threads)]
            for thread in pool:
                thread.start()
            for thread in pool:
                thread.join()
            wall = time.perf_counter() - start
            out[f"{label}: claim ms"] = statistics.median(claims) * 1000
            out[f"{label}: complete ms"] = statistics.median(completes) * 1000
            out[f"{label}: jobs/s"] = len(claims) / wall
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--cases", type=int, default=60)
    ap.add_argument("--seed", type=int, default=21)
    ap.add_argument("--procs", default="1,2,4")
    ap.add_argument("--engine", default="typst")
    ap.add_argument("--pg", default=os.environ.get("MSEDOCS_TEST_PG", "postgresql://postgres@127.0.0.1:5432/postgres"))
    ap.add_argument("--database", default="msedocs_bench_dist")
    ap.add_argument("--pg-jobs", type=int, default=300)
    args = ap.parse_args()
    procs = [int(p) for p in args.procs.split(",")]
    db = sa.make_url(args.pg).set(database=args.database).render_as_string(hide_password=False)
    with psycopg.connect(args.pg, autocommit=True) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{args.database}"')
        admin.execute(f'CREATE DATABASE "{args.database}"')
    rows = []
    try:
        with tempfile.TemporaryDirectory(prefix="bench-dist-") as tmp:
            work = Path(tmp)
            cases = work / "cases.jsonl"
            msedocs("fixtures", "generate", "--count", str(args.cases), "--seed", str(args.seed), "--out", str(cases),
                    cwd=work)  # fmt: skip
            pki = work / "pki"
            msedocs("pki", "init", str(pki), cwd=work)
            pages = None
            print(f"{args.cases} cases (seed {args.seed}), --all --sign (B-T, test PKI), engine {args.engine}; "
                  f"{os.cpu_count()} cores; PostgreSQL {args.database}", flush=True)  # fmt: skip
            for p in procs:
                for mode in ("cold", "warm"):
                    if mode == "cold":
                        load_before = os.getloadavg()[0]
                        t0 = time.monotonic()
                        jobs, submit_s = submit(db, cases, f"bench-p{p}-cold", args.engine, work)
                        workers = Workers(p, db, pki, work)
                        cpu0 = 0.0
                    else:
                        load_before = os.getloadavg()[0]
                        cpu0 = workers.cpu()
                        t0 = time.monotonic()
                        jobs, submit_s = submit(db, cases, f"bench-p{p}-warm", args.engine, work)
                    wait_batch(db, f"bench-p{p}-{mode}", jobs)
                    wall = time.monotonic() - t0
                    cpu = workers.cpu() - cpu0
                    load_after = os.getloadavg()[0]
                    collect_s = None
                    if mode == "warm":
                        workers.stop()
                        out = work / f"out-{p}"
                        c0 = time.monotonic()
                        msedocs("batch", "collect", f"bench-p{p}-warm", "--db", db, "--out", str(out), cwd=work)
                        collect_s = time.monotonic() - c0
                        if pages is None:
                            pages = pdf_pages(out)
                    rows.append({"P": p, "mode": mode, "jobs": jobs, "submit": submit_s, "wall": wall, "cpu": cpu,
                                 "load": (load_before, load_after), "collect": collect_s})  # fmt: skip
                    print(f"  P={p} {mode}: {wall:.1f} s wall (submit {submit_s:.1f} s), workers {cpu:.1f} CPU s, "
                          f"load {load_before:.1f} -> {load_after:.1f}", flush=True)  # fmt: skip
            sizes = blob_sizes(db, "bench-p1-warm")
            sample = sample_outputs(db, "bench-p1-warm")
        cost = pg_cost(db, sample, args.pg_jobs)
    finally:
        with psycopg.connect(args.pg, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{args.database}" WITH (FORCE)')
    assert pages is not None
    print()
    print(f"PDF pages per batch: {pages}")
    print("| P | start-up | wall | pages/s | speed-up vs P=1 | workers' CPU s | load before → after | collect |")
    print("|---|---|---|---|---|---|---|---|")
    base = {r["mode"]: r["wall"] for r in rows if r["P"] == procs[0]}
    for r in rows:
        collect = f"{r['collect']:.1f} s" if r["collect"] is not None else ""
        start_up = "included (cold)" if r["mode"] == "cold" else "excluded (warm)"
        print(f"| {r['P']} | {start_up} | {r['wall']:.1f} s | {pages / r['wall']:.1f} | "
              f"{base[r['mode']] / r['wall']:.2f}× | {r['cpu']:.1f} | {r['load'][0]:.1f} → {r['load'][1]:.1f} | "
              f"{collect} |")  # fmt: skip
    print()
    print(f"outputs stored per case: {sizes[0] / 1024:.0f} KiB on average ({sizes[1]:.1f} files a case); "
          f"one case's outputs used for the PostgreSQL timing: {sum(len(c) for _, _, c in sample) / 1024:.0f} KiB "
          f"in {len(sample)} files")  # fmt: skip
    print(f"PostgreSQL per job ({args.pg_jobs} jobs, claim + complete through JobStore, medians):")
    for key, value in cost.items():
        print(f"  {key}: {value:.1f}")
    return 0


def blob_sizes(db: str, batch_id: str) -> tuple[float, float]:
    with psycopg.connect(db) as conn:
        total, files, cases = conn.execute(
            "SELECT sum(o.size), count(*), count(DISTINCT j.id) FROM api_outputs o JOIN api_jobs j ON j.id = o.job_id "
            "WHERE j.batch_id = %s", (batch_id,)).fetchone()  # fmt: skip
    return float(total) / cases, float(files) / cases


def sample_outputs(db: str, batch_id: str) -> list[tuple[str, str, bytes]]:
    """The outputs of the batch's job with the median total size, as (name, media type, content)."""
    with psycopg.connect(db) as conn:
        jobs = conn.execute("SELECT o.job_id, sum(o.size) FROM api_outputs o JOIN api_jobs j ON j.id = o.job_id "
                            "WHERE j.batch_id = %s GROUP BY o.job_id ORDER BY 2", (batch_id,)).fetchall()  # fmt: skip
        job_id = jobs[len(jobs) // 2][0]
        rows = conn.execute("SELECT o.name, o.media_type, b.content FROM api_outputs o JOIN api_blobs b "
                            "ON b.sha256 = o.sha256 WHERE o.job_id = %s ORDER BY o.position",
                            (job_id,)).fetchall()  # fmt: skip
    return [(f"{n}", m, bytes(c)) for n, m, c in rows]


if __name__ == "__main__":
    sys.exit(main())
