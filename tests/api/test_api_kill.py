"""Three ``msedocs worker --jobs`` processes on one PostgreSQL; one is SIGKILLed in the middle of
a job. Every job still completes, exactly once, and no signed document is issued twice."""

from __future__ import annotations

import json
import time
import uuid
from pathlib import Path

import httpx
import psycopg

from .conftest import Serve, Worker, case, msedocs

CASES = ["adult_first_group_ii", "child_with_representative", "reexamination_missed_period", "in_absentia",
         "occupational_disease_percentages", "refused_additional_exam"]  # fmt: skip


def test_sigkill_of_a_worker_mid_job_loses_nothing_and_issues_nothing_twice(tmp_path: Path, fresh_pg: str):
    done = msedocs("keys", "create", "kill-test", "--scope", "render", "--scope", "sign", "--db", fresh_pg,
                   cwd=tmp_path)  # fmt: skip
    assert done.returncode == 0, done.stderr
    auth = {"Authorization": f"Bearer {done.stdout.strip()}"}
    server = Serve(tmp_path, "--db", fresh_pg, "--data", str(tmp_path / "data"), "--workers", "1", "--no-jobs")
    workers: list[Worker] = []
    try:
        server.wait_ready()
        jobs = []
        for name in CASES:
            body = {"case": case(name), "formats": ["xml", "pdf"], "sign": {"level": "B-B"}}
            sent = {**auth, "Idempotency-Key": uuid.uuid4().hex, "Prefer": "respond-async"}
            answer = httpx.post(server.url + "/v1/renders", json=body, timeout=60, headers=sent)
            assert answer.status_code == 202, answer.text
            jobs.append(answer.headers["location"].rsplit("/", 1)[1])
        workers = [Worker(tmp_path, fresh_pg, "--lease", "5") for _ in range(3)]
        victim, victim_job = _running_job_of_a_worker(fresh_pg, workers, timeout=180)
        victim.kill()
        states = _wait_all(fresh_pg, jobs, timeout=300)
        assert states == {job: "succeeded" for job in jobs}, [w.output() for w in workers]
        with psycopg.connect(fresh_pg) as conn:
            attempts = dict(conn.execute("SELECT id, attempts FROM api_jobs").fetchall())
            finished_by = dict(conn.execute("SELECT id, claimed_by FROM api_jobs").fetchall())
            outputs = conn.execute("SELECT job_id, name FROM api_outputs").fetchall()
            issued = conn.execute("SELECT case_id, document, job_id FROM api_issued").fetchall()
            manifests = dict(conn.execute("SELECT id, manifest FROM api_jobs").fetchall())
        assert attempts[victim_job] >= 2  # claimed again after the killed worker's lease ran out
        assert f"-{victim.pid}-" not in finished_by[victim_job]
        # each job's files stored once: the names of its manifest, no more, no fewer
        for job in jobs:
            stored = sorted(name for job_id, name in outputs if job_id == job)
            listed = sorted(entry["file"] for entry in json.loads(manifests[job])["files"])
            assert stored == listed and len(stored) == len(set(stored))
        # each signed document of each case issued once, by the job that holds its file
        documents = [(case_id, document) for case_id, document, _ in issued]
        assert len(documents) == len(set(documents))
        for _case_id, document, job_id in issued:
            assert any(j == job_id and n == document for j, n in outputs)
        assert len(issued) == sum(1 for _, name in outputs if name.endswith((".xml", ".pdf")))
    finally:
        for worker in workers:
            worker.stop()
        server.stop()


def _running_job_of_a_worker(db: str, workers: list[Worker], timeout: float) -> tuple[Worker, str]:
    """A worker and the job it is rendering, as soon as one is (mid-job: its progress under 100)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with psycopg.connect(db) as conn:
            rows = conn.execute("SELECT id, claimed_by FROM api_jobs WHERE state = 'running'").fetchall()
        for job_id, claimed_by in rows:
            for worker in workers:
                if f"-{worker.pid}-" in (claimed_by or ""):
                    return worker, job_id
        time.sleep(0.1)
    raise AssertionError("no worker started a job: " + " | ".join(w.output() for w in workers))


def _wait_all(db: str, jobs: list[str], timeout: float) -> dict[str, str]:
    deadline = time.monotonic() + timeout
    states: dict[str, str] = {}
    while time.monotonic() < deadline:
        with psycopg.connect(db) as conn:
            states = dict(conn.execute("SELECT id, state FROM api_jobs").fetchall())
        if all(states.get(job) in ("succeeded", "failed", "cancelled") for job in jobs):
            return {job: states[job] for job in jobs}
        time.sleep(0.5)
    raise AssertionError(f"jobs not finished in {timeout} s: {states}")
