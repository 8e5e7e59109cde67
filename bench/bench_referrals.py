"""Ingest + depersonalise + route N generated СЭМД referrals, on SQLite and PostgreSQL, in one run.

    .venv/bin/python bench/bench_referrals.py [--count 10000] [--workers 2] [--batch-size 200] [--serial]
        [--pg postgresql://postgres@127.0.0.1:5432/msedocs_privacy_bench] [--backends sqlite,postgresql]
        [--semd-dir DIR]

N referrals are generated once (``fixtures generate --format semd``: files on disk, ~36 KB each)
and then, per backend, each on a fresh database:

- **full**: ``msedocs referrals ingest DIR --workers W --batch-size B`` as an operator runs it
  (:func:`msedocs.referrals.intake.ingest_files`): read each file, XSD and the official schematron,
  mapping, depersonalisation, vault (AES-256-GCM, file KEK), routing by load, audit log; W worker
  processes validate while this one stores, B referrals per transaction; every referral must be stored;
- **serial** (``--serial``): the same in this process only (``--workers 1``);
- **plain**: the same files read and stored as they are (one row per referral, B per
  transaction), nothing else: what storage alone costs.

Printed per backend: referrals per second (wall clock), CPU milliseconds per referral (this process
and its workers: less sensitive to other load on the machine), and plain / full (the ratio of the
rates: how many times plain storage is faster). The load average (1 minute) is printed at the start
and after each measurement: the figures depend on what else the machine is running. The audit log
is verified after each full run.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import resource
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import sqlalchemy as sa
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from msedocs.delivery.store import make_engine
from msedocs.privacy.kek import FileKek
from msedocs.referrals import intake, semd, synth
from msedocs.referrals.store import ReferralStore

ROOT = Path(__file__).resolve().parent.parent


def _cpu() -> float:
    me, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return me.ru_utime + me.ru_stime + kids.ru_utime + kids.ru_stime


def _timed(fn: Callable[[], None]) -> tuple[float, float]:
    wall, cpu = time.perf_counter(), _cpu()
    fn()
    return time.perf_counter() - wall, _cpu() - cpu


def fresh(name: str, url: str, tmp: Path, n: int) -> str:
    """An empty database for one measurement."""
    if url.startswith("sqlite"):
        return f"sqlite:///{tmp / f'{name}-{n}.db'}"
    import psycopg

    u = sa.make_url(url)
    db = f"{u.database}_{name}"
    with psycopg.connect(u.set(database="postgres").render_as_string(hide_password=False), autocommit=True) as c:
        c.execute(f'DROP DATABASE IF EXISTS "{db}" WITH (FORCE)')
        c.execute(f'CREATE DATABASE "{db}"')
    return u.set(database=db).render_as_string(hide_password=False)


def full(url: str, files: list[Path], semd_dir: str, tmp: Path, workers: int, batch: int) -> tuple[float, float]:
    key = Ed25519PrivateKey.generate()
    store = ReferralStore(url, kek=FileKek.create(tmp / f"kek-{time.time_ns()}"), audit_key=key)
    for i in range(8):
        store.add_bureau(f"gb{i}", f"Главное бюро {i}", "mintrud", 1000, ["psychiatry"] if i < 2 else [])
    store.add_bureau("fmba", "Главное бюро ФМБА", "federal", 1000, [])
    store.add_bureau("addr", "Бюро по адресу", "address", 1000, [], [r[3] for r in synth.REGIONS])
    summary = intake.Summary()

    def go() -> None:
        nonlocal summary
        summary = intake.ingest_files(store, files, semd_dir=semd_dir, workers=workers, batch_size=batch)

    wall, cpu = _timed(go)
    if not summary.ok or summary.stored != len(files):
        sys.exit(f"bench: {summary.stored} of {len(files)} stored: {summary.results[0].error}")
    report = store.verify_audit(key.public_key())
    if not report.ok:
        sys.exit(f"bench: the audit log does not verify: {report.problems[:3]}")
    store.close()
    return wall, cpu


def plain(url: str, files: list[Path], batch: int) -> tuple[float, float]:
    engine = make_engine(url, sqlite_synchronous="NORMAL")
    table = sa.Table("plain_referrals", sa.MetaData(), sa.Column("id", sa.Integer, primary_key=True),
                     sa.Column("name", sa.String(200)), sa.Column("body", sa.LargeBinary))  # fmt: skip
    table.create(engine)

    def go() -> None:
        for i in range(0, len(files), batch):
            with engine.begin() as conn:
                conn.execute(sa.insert(table), [{"name": f.name, "body": f.read_bytes()} for f in files[i:i + batch]])

    result = _timed(go)
    engine.dispose()
    return result


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--count", type=int, default=10_000)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--batch-size", type=int, default=200)
    ap.add_argument("--serial", action="store_true", help="also measure the full path in one process")
    ap.add_argument("--pg", default="postgresql://postgres@127.0.0.1:5432/msedocs_privacy_bench")
    ap.add_argument("--backends", default="sqlite,postgresql")
    ap.add_argument("--semd-dir", default=os.environ.get("MSEDOCS_SEMD_DIR") or str(ROOT.parent / "shared" / "semd"))
    args = ap.parse_args()
    semd.schematron(semd.package(args.semd_dir))  # compiled (and cached on disk) before anything is timed
    n = args.count
    print(f"bench_referrals {dt.datetime.now():%Y-%m-%d %H:%M}: N={n}, workers={args.workers}, "
          f"batch={args.batch_size}, {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.2f} "
          f"{os.getloadavg()[1]:.2f} {os.getloadavg()[2]:.2f}", flush=True)  # fmt: skip
    with tempfile.TemporaryDirectory(prefix="bench-referrals-") as name:
        tmp = Path(name)
        synth.write(n, 7, tmp / "docs")
        files = sorted((tmp / "docs").glob("*.xml"))
        assert len(files) == n
        for backend in args.backends.split(","):
            url = f"sqlite:///{tmp}/x.db" if backend == "sqlite" else args.pg
            rows = []
            wall, cpu = full(fresh("full", url, tmp, n), files, args.semd_dir, tmp, args.workers, args.batch_size)
            rows.append((f"full, {args.workers} workers", wall, cpu, os.getloadavg()[0]))
            if args.serial:
                wall, cpu = full(fresh("serial", url, tmp, n), files, args.semd_dir, tmp, 1, args.batch_size)
                rows.append(("full, in-process", wall, cpu, os.getloadavg()[0]))
            base_wall, base_cpu = plain(fresh("plain", url, tmp, n), files, args.batch_size)
            rows.append(("plain storage", base_wall, base_cpu, os.getloadavg()[0]))
            for label, wall, cpu, load in rows:
                ratio = f"  plain/full {wall / base_wall:6.1f}x" if label != "plain storage" else ""
                print(f"{backend:<10} {label:<22} {n / wall:8.1f}/s {wall:7.1f} s  "
                      f"CPU {cpu / n * 1000:6.2f} ms/referral  load {load:.2f}{ratio}", flush=True)  # fmt: skip
    print(f"load average after: {os.getloadavg()[0]:.2f} {os.getloadavg()[1]:.2f} {os.getloadavg()[2]:.2f}")


if __name__ == "__main__":
    main()
