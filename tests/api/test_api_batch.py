"""``msedocs batch``: one batch split over real ``msedocs worker --jobs`` processes coordinated by the
job store (PostgreSQL; SQLite where one machine is enough), compared with a local ``msedocs render``
of the same cases; a worker SIGKILLed holding a job; bad input; a failed job."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import time
import zipfile
from pathlib import Path

import pikepdf
import pytest
import sqlalchemy as sa
from lxml import etree

from msedocs.api.store import JobStore
from tests.conftest import require_tool

from .conftest import MSEDOCS, Worker, msedocs

DSIG = "{http://www.w3.org/2000/09/xmldsig#}Signature"


def run(*args: str, cwd: Path, timeout: float = 600) -> subprocess.CompletedProcess[str]:
    return subprocess.run([MSEDOCS, *args], cwd=cwd, capture_output=True, text=True, timeout=timeout)


def cases(tmp_path: Path, count: int = 6, seed: int = 5) -> Path:
    done = msedocs("fixtures", "generate", "--count", str(count), "--seed", str(seed), "--out", "x.jsonl",
                   cwd=tmp_path)  # fmt: skip
    assert done.returncode == 0, done.stderr
    return tmp_path / "x.jsonl"


def query(db: str, sql: str, **params: object) -> list[sa.Row]:
    with JobStore(db) as store, store.engine.connect() as conn:
        return list(conn.execute(sa.text(sql), params))


def submit(db: str, jsonl: Path, *options: str) -> tuple[str, int]:
    done = run("batch", "submit", str(jsonl), "--db", db, *options, cwd=jsonl.parent)
    assert done.returncode == 0, done.stderr
    batch_id, jobs = done.stdout.split()
    return batch_id, int(jobs)


def sqlite(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'store.sqlite3'}"


# -- comparing a collected batch with a local render ------------------------------------------


def xml_without_signatures(path: Path) -> bytes:
    root = etree.parse(str(path)).getroot()
    for sig in root.findall(f".//{DSIG}"):
        sig.getparent().remove(sig)
    return etree.tostring(root, method="c14n")


def pdf_text(path: Path) -> str:
    out = subprocess.run([require_tool("pdftotext"), str(path), "-"], capture_output=True, check=True)
    return out.stdout.decode("utf-8")


def docx_text(path: Path) -> str:
    with zipfile.ZipFile(path) as archive:
        root = etree.fromstring(archive.read("word/document.xml"))
    ns = "{http://schemas.openxmlformats.org/wordprocessingml/2006/main}"
    return "".join(t.text or "" for t in root.iter(f"{ns}t"))


def without_digests(manifest: dict) -> dict:
    """A manifest without what differs between two signings of the same document (sizes, digests)."""
    return {**manifest, "files": [{k: v for k, v in f.items() if k not in ("size", "sha256")}
                                  for f in manifest["files"]]}  # fmt: skip


def assert_same_packages(collected: Path, local: Path) -> None:
    folders = sorted(p.name for p in local.iterdir())
    assert sorted(p.name for p in collected.iterdir()) == folders and len(folders) == 6
    for name in folders:
        here, there = collected / name, local / name
        files = sorted(p.name for p in there.iterdir())
        assert sorted(p.name for p in here.iterdir()) == files, name
        a, b = (json.loads((d / "manifest.json").read_text(encoding="utf-8")) for d in (here, there))
        assert without_digests(a) == without_digests(b)
        assert [f["file"] for f in a["files"]] == [f["file"] for f in b["files"]]  # the same order
        for entry in a["files"]:  # the manifest describes the collected file
            content = (here / entry["file"]).read_bytes()
            assert len(content) == entry["size"]
        for file in files:
            if file.endswith(".xml"):
                assert xml_without_signatures(here / file) == xml_without_signatures(there / file), file
            elif file.endswith(".pdf"):
                assert pdf_text(here / file) == pdf_text(there / file), file
                with pikepdf.open(here / file) as doc:  # the job's engine, typst, laid it out
                    assert str(doc.docinfo.get("/Creator", "")).startswith("Typst"), file
            elif file.endswith(".docx"):
                assert docx_text(here / file) == docx_text(there / file), file


def test_a_batch_over_two_workers_is_the_local_render(tmp_path: Path, fresh_pg: str):
    jsonl = cases(tmp_path)
    pki = tmp_path / "data" / "pki"
    assert msedocs("pki", "init", str(pki), cwd=tmp_path).returncode == 0
    options = ("--all", "--sign", "--engine", "typst")
    batch_id, jobs = submit(fresh_pg, jsonl, *options)
    assert jobs == 6 and re.fullmatch(r"[0-9a-f]{32}", batch_id)
    assert submit(fresh_pg, jsonl, *options) == (batch_id, 6)  # the same file again: the same batch, no new job
    assert query(fresh_pg, "SELECT count(*) FROM api_jobs")[0][0] == 6
    status = run("batch", "status", batch_id, "--db", fresh_pg, "--json", cwd=tmp_path)
    assert json.loads(status.stdout) == {"batch": batch_id, "jobs": 6, "states": {"queued": 6}}
    early = run("batch", "collect", batch_id, "--db", fresh_pg, "--out", str(tmp_path / "early"), cwd=tmp_path)
    assert early.returncode == 1 and "6 of 6 job(s) not finished" in early.stderr
    assert not (tmp_path / "early").exists()
    workers = [Worker(tmp_path, fresh_pg) for _ in range(2)]
    try:
        done = run("batch", "collect", batch_id, "--db", fresh_pg, "--out", str(tmp_path / "dist"), "--wait",
                   "--timeout", "500", cwd=tmp_path)  # fmt: skip
        assert done.returncode == 0, done.stderr + " | ".join(w.output() for w in workers)
    finally:
        for worker in workers:
            worker.stop()
    local = run("render", str(jsonl), *options, "--pki", str(pki), "--out", str(tmp_path / "local"), cwd=tmp_path)
    assert local.returncode == 0, local.stderr
    # collect prints what render prints: every file written, in the same order
    assert done.stdout.replace(str(tmp_path / "dist"), "OUT") == local.stdout.replace(str(tmp_path / "local"), "OUT")
    assert_same_packages(tmp_path / "dist", tmp_path / "local")
    rows = query(fresh_pg, "SELECT case_id, state, attempts, claimed_by FROM api_jobs WHERE batch_id = :b",
                 b=batch_id)  # fmt: skip
    assert sorted(r.case_id for r in rows) == sorted(p.name for p in (tmp_path / "local").iterdir())
    assert {(r.state, r.attempts) for r in rows} == {("succeeded", 1)}  # each job rendered exactly once
    by = {re.search(r"-(\d+)-[0-9a-f]{6}$", r.claimed_by).group(1) for r in rows}  # type: ignore[union-attr]
    assert by <= {str(w.pid) for w in workers}
    assert query(fresh_pg, "SELECT count(*) FROM api_issued")[0][0] == 0  # a batch writes files; it issues nothing


def _stop_a_worker_holding_a_job(db: str, workers: list[Worker], timeout: float) -> tuple[Worker, str]:
    """Freeze a worker's process group (SIGSTOP) while it holds a running job, then SIGKILL it."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for job_id, claimed_by in query(db, "SELECT id, claimed_by FROM api_jobs WHERE state = 'running'"):
            for worker in workers:
                if f"-{worker.pid}-" not in (claimed_by or ""):
                    continue
                os.killpg(worker.pid, signal.SIGSTOP)
                held = query(db, "SELECT state, claimed_by FROM api_jobs WHERE id = :j", j=job_id)[0]
                if held.state == "running" and f"-{worker.pid}-" in held.claimed_by:
                    worker.kill()
                    return worker, job_id
                os.killpg(worker.pid, signal.SIGCONT)  # it finished that job meanwhile: try the next
        time.sleep(0.05)
    raise AssertionError("no worker started a job: " + " | ".join(w.output() for w in workers))


def test_a_worker_killed_holding_a_job_loses_nothing(tmp_path: Path, fresh_pg: str):
    jsonl = cases(tmp_path)
    batch_id, _ = submit(fresh_pg, jsonl, "--all", "--format", "xml,pdf", "--sign", "--level", "B-B", "--engine",
                         "typst")  # fmt: skip
    workers = [Worker(tmp_path, fresh_pg, "--lease", "3") for _ in range(2)]
    try:
        victim, job_id = _stop_a_worker_holding_a_job(fresh_pg, workers, timeout=180)
        (survivor,) = [w for w in workers if w is not victim]
        done = run("batch", "collect", batch_id, "--db", fresh_pg, "--out", str(tmp_path / "out"), "--wait",
                   "--timeout", "400", cwd=tmp_path)  # fmt: skip
        assert done.returncode == 0, done.stderr + survivor.output()
    finally:
        for worker in workers:
            worker.stop()
    rows = {r.id: r for r in query(fresh_pg, "SELECT id, case_id, state, attempts, claimed_by, manifest FROM api_jobs "
                                             "WHERE batch_id = :b", b=batch_id)}  # fmt: skip
    assert {r.state for r in rows.values()} == {"succeeded"}
    assert rows[job_id].attempts == 2 and f"-{survivor.pid}-" in rows[job_id].claimed_by  # claimed again
    outputs = query(fresh_pg, "SELECT job_id, name FROM api_outputs")
    for job in rows.values():  # each job's files stored once
        stored = sorted(name for j, name in outputs if j == job.id)
        assert stored == sorted(f["file"] for f in json.loads(job.manifest)["files"])
    # every case collected once: its folder, its files, its manifest
    out = tmp_path / "out"
    assert sorted(p.name for p in out.iterdir()) == sorted(r.case_id for r in rows.values())
    for job in rows.values():
        manifest = json.loads((out / job.case_id / "manifest.json").read_text(encoding="utf-8"))
        assert manifest["case_id"] == job.case_id
        assert sorted(p.name for p in (out / job.case_id).iterdir()) == sorted(
            [f["file"] for f in manifest["files"]] + ["manifest.json"])  # fmt: skip


@pytest.mark.parametrize("where", ["sqlite", "postgresql"])
def test_an_invalid_case_refuses_the_whole_batch(tmp_path: Path, where: str, request: pytest.FixtureRequest):
    db = sqlite(tmp_path) if where == "sqlite" else request.getfixturevalue("fresh_pg")
    jsonl = cases(tmp_path)
    lines = jsonl.read_text(encoding="utf-8").splitlines()
    bad = json.loads(lines[3])
    bad["patient"]["sex"] = "x"
    again = json.loads(lines[1])  # line 6 repeats line 2's case_id
    lines[3] = json.dumps(bad, ensure_ascii=False)
    lines[5] = json.dumps(again, ensure_ascii=False)
    jsonl.write_text("\n".join(lines) + "\n", encoding="utf-8")
    done = run("batch", "submit", str(jsonl), "--db", db, "--all", cwd=tmp_path)
    assert done.returncode == 2 and not done.stdout
    assert f"{jsonl}:4: patient.sex" in done.stderr and f"{jsonl}:6: case_id" in done.stderr, done.stderr
    assert "nothing submitted" in done.stderr
    assert query(db, "SELECT count(*) FROM api_jobs")[0][0] == 0
    for options, field in ((("--format", "pdf,tex", "--all"), "--format"), (("--all", "--engine", "latex"), "--engine"),
                           (("--form", "by-nothing"), "by-nothing"), (("--all", "--level", "B-T"), "--sign"),
                           (("--all", "--sign", "--level", "Q"), "--level")):  # fmt: skip
        refused = run("batch", "submit", str(jsonl), "--db", db, *options, cwd=tmp_path)
        assert refused.returncode == 2 and field in refused.stderr, (options, refused.stderr)
    assert query(db, "SELECT count(*) FROM api_jobs")[0][0] == 0


def test_resubmitting_a_batch_adds_nothing_and_a_reused_id_is_refused(tmp_path: Path):
    db = sqlite(tmp_path)
    jsonl = cases(tmp_path, count=3)
    first = submit(db, jsonl, "--all", "--format", "xml")
    assert submit(db, jsonl, "--all", "--format", "xml") == first
    other = submit(db, jsonl, "--all", "--format", "xml,docx")  # other options: another batch
    assert other[0] != first[0]
    named = submit(db, jsonl, "--all", "--format", "xml", "--batch-id", "run-2026-12-07")
    assert named == ("run-2026-12-07", 3)
    reused = run("batch", "submit", str(jsonl), "--db", db, "--all", "--format", "docx", "--batch-id", "run-2026-12-07",
                 cwd=tmp_path)  # fmt: skip
    assert reused.returncode == 2 and "run-2026-12-07 was submitted before with other cases or options" in reused.stderr
    counts = query(db, "SELECT batch_id, count(*) AS n FROM api_jobs GROUP BY batch_id ORDER BY batch_id")
    assert sorted((r.batch_id, r.n) for r in counts) == sorted([(first[0], 3), (other[0], 3), ("run-2026-12-07", 3)])
    missing = run("batch", "status", "nope", "--db", db, cwd=tmp_path)
    assert missing.returncode == 2 and "no such batch" in missing.stderr


def test_a_failed_job_fails_the_collect_and_writes_nothing(tmp_path: Path):
    db = sqlite(tmp_path)
    jsonl = cases(tmp_path, count=2)
    batch_id, _ = submit(db, jsonl, "--all", "--format", "xml", "--sign", "--level", "B-B")
    broken = tmp_path / "broken-pki"
    broken.mkdir()
    (broken / "pki.json").write_text("{}", encoding="utf-8")  # a PKI without keys: every signature fails
    worked = run("worker", "--jobs", "--db", db, "--workers", "1", "--pki", str(broken), "--once", cwd=tmp_path)
    assert worked.returncode == 0 and "failed 2" in worked.stdout, worked.stdout + worked.stderr
    out = tmp_path / "out"
    done = run("batch", "collect", batch_id, "--db", db, "--out", str(out), "--wait", cwd=tmp_path)
    assert done.returncode == 1 and not done.stdout
    case_ids = [json.loads(line)["case_id"] for line in jsonl.read_text(encoding="utf-8").splitlines()]
    assert "2 of 2 case(s) failed; nothing written" in done.stderr
    for case_id in case_ids:
        assert f"case {case_id}: " in done.stderr, done.stderr
    assert not out.exists() and sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(".out")) == []


def test_render_coordinate_is_submit_and_collect(tmp_path: Path):
    db = sqlite(tmp_path)
    jsonl = cases(tmp_path, count=2)
    worker = Worker(tmp_path, db)
    try:
        done = run("render", str(jsonl), "--all", "--format", "xml", "--coordinate", db, "--out",
                   str(tmp_path / "dist"), cwd=tmp_path)  # fmt: skip
        assert done.returncode == 0, done.stderr + worker.output()
    finally:
        worker.stop()
    local = run("render", str(jsonl), "--all", "--format", "xml", "--out", str(tmp_path / "local"), cwd=tmp_path)
    assert done.stdout.replace(str(tmp_path / "dist"), "OUT") == local.stdout.replace(str(tmp_path / "local"), "OUT")
    for path in (tmp_path / "local").rglob("*"):
        if path.is_file():
            assert (tmp_path / "dist" / path.relative_to(tmp_path / "local")).read_bytes() == path.read_bytes()
    assert "1 job(s) submitted" not in done.stderr and "2 job(s) submitted" in done.stderr


def test_the_migrations_head_is_the_jobs_table(tmp_path: Path):
    """Revision 0005 makes what schema.py declares for api_jobs (batch_id, its unique index)."""
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    from msedocs.api import schema

    with JobStore(sqlite(tmp_path)) as store, store.engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), schema.metadata)
        indexes = {i["name"]: i for i in sa.inspect(conn).get_indexes("api_jobs")}
    assert [d for d in diff if "api_jobs" in repr(d)] == []
    assert indexes["ix_api_jobs_batch_id_case_id"]["unique"]


def test_workers_sign_with_a_signing_config(tmp_path: Path):
    """``worker --jobs --signing-config``: the jobs are signed with the configured keys (here a
    TOML naming the test PKI's PKCS#12 files, as production names its own), not a TEST PKI; a
    configuration that cannot be loaded stops the worker before it takes a job."""
    from signing.pki import DEFAULT_TEST_PASSWORD, init_pki

    pki = init_pki(tmp_path / "pki")
    roles = json.loads((pki.dir / "pki.json").read_text(encoding="utf-8"))["roles"]
    (tmp_path / "pw.txt").write_text(DEFAULT_TEST_PASSWORD + "\n", encoding="utf-8")
    config = tmp_path / "signing.toml"
    config.write_text('[signing]\nlevel = "B-B"\n' + "".join(
        f'[signing.signers.{role}]\ntitle = "{about["title"]}"\npkcs12 = "{pki.key_path(role)}"\n'
        'password_file = "pw.txt"\n' for role, about in roles.items()
    ), encoding="utf-8")  # fmt: skip
    db = sqlite(tmp_path)
    jsonl = cases(tmp_path, count=2)
    broken = tmp_path / "broken.toml"
    broken.write_text('[signing]\nlevel = "B-B"\n[signing.signers.chairman]\npkcs12 = "nowhere.p12"\n', "utf-8")
    refused = run("worker", "--jobs", "--db", db, "--signing-config", str(broken), "--once", cwd=tmp_path)
    assert refused.returncode == 2 and "signing configuration" in refused.stderr, refused.stderr
    batch_id, jobs = submit(db, jsonl, "--all", "--format", "xml", "--sign", "--level", "B-B")
    assert query(db, "SELECT count(*) AS n FROM api_jobs WHERE state = 'queued'")[0].n == jobs  # refused: none taken
    worked = run("worker", "--jobs", "--db", db, "--workers", "1", "--signing-config", str(config), "--once",
                 cwd=tmp_path)  # fmt: skip
    assert worked.returncode == 0 and f"succeeded {jobs}" in worked.stdout, worked.stdout + worked.stderr
    out = tmp_path / "out"
    assert run("batch", "collect", batch_id, "--db", db, "--out", str(out), cwd=tmp_path).returncode == 0
    manifests = [json.loads(p.read_text(encoding="utf-8")) for p in out.glob("*/manifest.json")]
    assert len(manifests) == 2 and all("test_pki" not in m for m in manifests)
    signed = next(out.rglob("*.xml"))
    ds, xades = "http://www.w3.org/2000/09/xmldsig#", "http://uri.etsi.org/01903/v1.3.2#"
    ids = etree.parse(str(signed)).xpath("//ds:Signature/@Id", namespaces={"ds": ds})
    assert ids
    require_tool("xmlsec1")
    for sig_id in ids:  # each parallel signature, by the keys the configuration named
        verified = subprocess.run(["xmlsec1", "--verify", "--trusted-pem", str(pki.root_path), "--untrusted-pem",
                                   str(pki.dir / "ca.pem"), "--id-attr:Id", f"{xades}:SignedProperties",
                                   "--id-attr:Id", f"{ds}:Signature", "--node-id", sig_id, str(signed)],
                                  capture_output=True, text=True)  # fmt: skip
        assert verified.returncode == 0, verified.stderr[-2000:]
