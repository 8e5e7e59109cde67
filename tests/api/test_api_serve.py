"""``msedocs serve`` as a real subprocess on 127.0.0.1: a render round trip, an idempotent replay,
the renderers kept out of the server process, and a job rendered by a separate
``msedocs worker --jobs`` process against PostgreSQL."""

from __future__ import annotations

import io
import time
import uuid
import zipfile
from pathlib import Path

import httpx
import psycopg
import pytest

from .conftest import Serve, Worker, case, msedocs


def make_key(cwd: Path, db: str, *scopes: str) -> str:
    args = ["keys", "create", "tests", "--db", db]
    for scope in scopes:
        args += ["--scope", scope]
    done = msedocs(*args, cwd=cwd)
    assert done.returncode == 0, done.stderr
    token = done.stdout.strip()
    assert token.startswith("msk_") and "shown once" in done.stderr
    return token


def headers(token: str, **more: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}", "Idempotency-Key": uuid.uuid4().hex, **more}


@pytest.fixture
def sqlite_server(tmp_path: Path):
    db = f"sqlite:///{tmp_path / 'data' / 'outbox.sqlite3'}"
    token = make_key(tmp_path, db, "render", "sign", "validate")
    server = Serve(tmp_path, "--data", str(tmp_path / "data"), "--workers", "1")
    try:
        server.wait_ready()
        yield server, token
    finally:
        server.stop()


def test_serve_round_trip_replay_and_renderers_out_of_the_server(sqlite_server):
    server, token = sqlite_server
    ready = httpx.get(server.url + "/readyz").json()
    assert ready["ready"] is True and ready["renderers_loaded_here"] == []
    body = {"case": case("adult_first_group_ii"), "forms": ["by-act"], "formats": ["pdf"], "sign": {"level": "B-T"}}
    sent = headers(token, **{"X-Request-ID": "round-trip-1"})
    first = httpx.post(server.url + "/v1/renders", json=body, headers=sent, timeout=120)
    assert first.status_code == 200, first.text
    assert first.headers["content-type"] == "application/pdf" and first.content.startswith(b"%PDF-")
    assert first.headers["x-request-id"] == "round-trip-1"
    again = httpx.post(server.url + "/v1/renders", json=body, headers=sent, timeout=120)
    assert again.status_code == 200 and again.content == first.content
    assert again.headers["idempotent-replayed"] == "true"
    other = httpx.post(server.url + "/v1/renders", json={**body, "formats": ["xml"]}, headers=sent, timeout=60)
    assert other.status_code == 409 and other.json()["type"] == "/v1/problems/idempotency-key-reused"
    reissue = httpx.post(server.url + "/v1/renders", json=body, headers=headers(token), timeout=60)
    assert reissue.status_code == 409 and reissue.json()["type"] == "/v1/problems/already-issued"
    verified = httpx.post(server.url + "/v1/signatures/validate", headers={"Authorization": f"Bearer {token}"},
                          files={"file": ("by-act.pdf", first.content, "application/pdf")}, timeout=120)  # fmt: skip
    assert verified.status_code == 200 and verified.json()["passed"] is True, verified.text
    ready = httpx.get(server.url + "/readyz").json()
    assert ready["renderers_loaded_here"] == []  # still, after rendering and verifying
    log = server.output()
    assert "POST /v1/renders 200" in log and "Ковалёў" not in log and "3260578B005PB1" not in log


def test_job_rendered_by_a_separate_worker_on_postgresql(tmp_path: Path, fresh_pg: str):
    token = make_key(tmp_path, fresh_pg, "render")
    server = Serve(tmp_path, "--db", fresh_pg, "--data", str(tmp_path / "data"), "--workers", "1", "--no-jobs")
    worker = None
    try:
        server.wait_ready()
        body = {"case": case("child_with_representative"), "forms": ["by-act", "by-conclusion"],
                "formats": ["xml", "pdf"]}  # fmt: skip
        answer = httpx.post(server.url + "/v1/renders", json=body, headers=headers(token, Prefer="respond-async"))
        assert answer.status_code == 202, answer.text
        location = server.url + answer.headers["location"]
        time.sleep(1.0)
        assert httpx.get(location, headers=headers(token)).json()["state"] == "queued"  # serve runs no jobs here
        worker = Worker(tmp_path, fresh_pg)
        status = _wait(location, token, 180)
        assert status["state"] == "succeeded", status
        names = [o["name"] for o in status["outputs"]]
        assert names == ["by-act.xml", "by-act.pdf", "by-conclusion.xml", "by-conclusion.pdf"]
        pdf = httpx.get(server.url + status["outputs"][1]["href"], headers=headers(token))
        assert pdf.content.startswith(b"%PDF-") and len(pdf.content) == status["outputs"][1]["size"]
        with psycopg.connect(fresh_pg) as conn:
            (claimed_by,) = conn.execute("SELECT claimed_by FROM api_jobs").fetchone()
        assert claimed_by.startswith("worker-") and f"-{worker.pid}-" in claimed_by
    finally:
        if worker is not None:
            worker.stop()
        server.stop()


def _wait(location: str, token: str, timeout: float) -> dict:
    deadline = time.monotonic() + timeout
    status: dict = {}
    while time.monotonic() < deadline:
        status = httpx.get(location, headers=headers(token)).json()
        if status["state"] in ("succeeded", "failed"):
            return status
        time.sleep(0.3)
    raise AssertionError(f"job not done in {timeout} s: {status}")


def test_zip_over_http_is_streamed_with_its_length(sqlite_server):
    server, token = sqlite_server
    body = {"case": case("ru_not_recognised_portal"), "formats": ["xml", "docx"]}
    with httpx.stream("POST", server.url + "/v1/renders", json=body, headers=headers(token), timeout=120) as answer:
        assert answer.status_code == 200
        content = answer.read()
    assert int(answer.headers["content-length"]) == len(content)
    with zipfile.ZipFile(io.BytesIO(content)) as archive:
        assert archive.namelist() == ["ru-extract.xml", "ru-extract.docx", "manifest.json"]


def test_a_wrong_engine_setting_stops_serve_at_its_start(tmp_path: Path):
    done = msedocs("serve", "--port", "0", "--data", str(tmp_path / "data"), cwd=tmp_path,
                   env={"MSEDOCS_PDF_ENGINE": "latex"})  # fmt: skip
    assert done.returncode == 2, done.stderr
    assert "MSEDOCS_PDF_ENGINE: unknown PDF engine" in done.stderr
