"""Ingest + depersonalise + route N generated СЭМД referrals, on SQLite and PostgreSQL.

    .venv/bin/python bench/bench_referrals.py [--count 10000] [--pg postgresql://…/db] [--semd-dir DIR]

Per backend: referrals per second for the whole path (parse, official XSD and schematron, mapping,
depersonalisation, vault, routing, audit, one transaction each), the same without the schematron
(it dominates), and plain storage of the same referrals (one row of the mapped JSON per referral,
one transaction each); the ratio is plain / full time.
"""

from __future__ import annotations

import argparse
import random
import tempfile
import time
from pathlib import Path

import sqlalchemy as sa
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from msedocs.delivery.store import make_engine
from msedocs.privacy.kek import FileKek
from msedocs.referrals import cda, semd, synth
from msedocs.referrals.store import ReferralStore

ROOT = Path(__file__).resolve().parent.parent


def run(url: str, docs: list[bytes], pkg: semd.Package, tmp: Path, schematron: bool) -> float:
    kek = FileKek.create(tmp / f"kek-{time.time_ns()}")
    store = ReferralStore(url, kek=kek, audit_key=Ed25519PrivateKey.generate())
    stamp = time.time_ns()
    for i in range(8):
        store.add_bureau(f"b{stamp}{i}", f"bureau {i}", "mintrud", 1000, [])
    store.add_bureau(f"f{stamp}", "federal", "federal", 1000, [])
    store.add_bureau(f"a{stamp}", "by address", "address", 1000, [], [r[3] for r in synth.REGIONS])
    started = time.perf_counter()
    for n, data in enumerate(docs):
        if schematron:
            tree, problems = semd.validate(data, f"doc{n}", pkg)
            assert not problems
        else:
            tree = semd.parse(data)
            assert not semd.xsd_problems(tree, pkg)
        store.ingest(cda.to_referral(tree))
    elapsed = time.perf_counter() - started
    store.close()
    return elapsed


def plain(url: str, docs: list[bytes], pkg: semd.Package) -> float:
    engine = make_engine(url, sqlite_synchronous="NORMAL")
    table = sa.Table(f"plain_{time.time_ns()}", sa.MetaData(), sa.Column("id", sa.Integer, primary_key=True),
                     sa.Column("body", sa.Text))  # fmt: skip
    table.create(engine)
    started = time.perf_counter()
    for data in docs:
        ref = cda.to_referral(semd.parse(data))
        with engine.begin() as conn:
            conn.execute(sa.insert(table).values(body=ref.model_dump_json()))
    elapsed = time.perf_counter() - started
    table.drop(engine)
    engine.dispose()
    return elapsed


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--count", type=int, default=10_000)
    ap.add_argument("--pg", default="postgresql://postgres@127.0.0.1:5432/msedocs_privacy_bench")
    ap.add_argument("--semd-dir", default=str(ROOT.parent / "shared" / "semd"))
    args = ap.parse_args()
    pkg = semd.package(args.semd_dir)
    rng = random.Random(7)
    docs = [synth.to_cda(synth.generate(rng)) for _ in range(args.count)]
    with tempfile.TemporaryDirectory() as tmp:
        backends = {"sqlite": f"sqlite:///{Path(tmp) / 'bench.db'}", "postgresql": args.pg}
        if args.pg.startswith("postgresql"):
            import psycopg

            admin = sa.make_url(args.pg).set(database="postgres").render_as_string(hide_password=False)
            with psycopg.connect(admin, autocommit=True) as c:
                c.execute(f'DROP DATABASE IF EXISTS "{sa.make_url(args.pg).database}" WITH (FORCE)')
                c.execute(f'CREATE DATABASE "{sa.make_url(args.pg).database}"')
        for name, url in backends.items():
            full = run(url, docs, pkg, Path(tmp), schematron=True)
            xsd_only = run(url, docs, pkg, Path(tmp), schematron=False)
            base = plain(url, docs, pkg)
            print(f"{name:<10} {args.count} referrals: full {args.count / full:7.1f}/s ({full:.1f} s); "
                  f"without schematron {args.count / xsd_only:7.1f}/s; plain storage {args.count / base:7.1f}/s; "
                  f"plain/full time {base / full:.3f}, plain/without-schematron {base / xsd_only:.3f}")  # fmt: skip


if __name__ == "__main__":
    main()
