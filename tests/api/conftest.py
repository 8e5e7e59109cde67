"""Fixtures of the HTTP service's tests.

One service for the session (a SQLite store and a TEST PKI in a temporary folder, one spawned
rendering process) behind a TestClient; keys per scope. PostgreSQL tests use their own
database ``msedocs_api_test_<checkout>`` (tables dropped at the start) on ``MSEDOCS_TEST_PG``'s server,
holding the delivery tests' shared lock so that their server-restart test never runs beside
them. ``msedocs serve`` and ``msedocs worker --jobs`` run as real subprocesses on 127.0.0.1.
"""

from __future__ import annotations

import hashlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import psycopg
import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient

from msedocs.api.app import ServiceConfig, create_app
from msedocs.api.callbacks import CallbackPolicy
from msedocs.api.cli import start_service
from tests import pglock

ROOT = Path(__file__).resolve().parents[2]
CASES = ROOT / "fixtures" / "cases"
MSEDOCS = str(Path(sys.executable).with_name("msedocs"))
PG_ADMIN_URL = os.environ.get("MSEDOCS_TEST_PG", "postgresql://postgres@127.0.0.1:5432/postgres")
#: One database per checkout: two checkouts testing on one server at once never meet.
PG_DATABASE = "msedocs_api_test_" + hashlib.sha1(str(Path(__file__).resolve()).encode()).hexdigest()[:8]
API_TABLES = ("api_keys", "api_jobs", "api_outputs", "api_blobs", "api_idempotency", "api_issued",
              "api_callbacks", "api_signing_sessions", "api_alembic_version")  # fmt: skip


#: Callbacks retried within a test's time: 0.2 s, 0.4 s, … (half of each drawn at random).
FAST_CALLBACKS = CallbackPolicy(max_attempts=4, base_delay=0.2, max_delay=2.0, timeout=5.0, lease=10.0, poll=0.1)


def case(name: str) -> dict:
    return json.loads((CASES / f"{name}.json").read_text(encoding="utf-8"))


@pytest.fixture(scope="session")
def data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("service")


@pytest.fixture(scope="session")
def service(data_dir: Path) -> Iterator:
    config = ServiceConfig(db_url=f"sqlite:///{data_dir / 'store.sqlite3'}", pki_dir=str(data_dir / "pki"),
                           workers=1, queue=2, callbacks=FAST_CALLBACKS)  # fmt: skip
    svc = start_service(config)
    assert svc.pool.wait_ready(120)
    yield svc
    svc.pool.shutdown()
    svc.store.close()


@pytest.fixture(scope="session")
def client(service) -> Iterator[TestClient]:
    with TestClient(create_app(service.config, service=service)) as test_client:
        yield test_client


@pytest.fixture(scope="session")
def keys(service) -> dict[str, str]:
    """A token per scope set: render, render+sign, validate, admin, none that fits (deliver)."""
    made = {}
    for name, scopes in {"render": ["render"], "signer": ["render", "sign"], "validate": ["validate"],
                         "admin": ["admin"], "deliver": ["deliver"], "other": ["render"]}.items():  # fmt: skip
        made[name] = service.store.create_key(name, scopes)[1]
    return made


def auth(token: str, **headers: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}", **headers}


# -- PostgreSQL --------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def pg_url() -> Iterator[str]:
    try:
        admin = psycopg.connect(PG_ADMIN_URL, autocommit=True, connect_timeout=5)
    except psycopg.Error as exc:
        pytest.skip(f"!!! PostgreSQL at {PG_ADMIN_URL} unreachable ({exc}); PostgreSQL service tests SKIPPED !!!")
    with admin:
        if admin.execute("SELECT 1 FROM pg_database WHERE datname = %s", (PG_DATABASE,)).fetchone() is None:
            admin.execute(f'CREATE DATABASE "{PG_DATABASE}"')
    url = sa.make_url(PG_ADMIN_URL).set(database=PG_DATABASE).render_as_string(hide_password=False)
    with pglock.shared():  # the delivery tests' restart test waits for other processes' holds
        yield url


@pytest.fixture
def fresh_pg(pg_url: str) -> str:
    """The test database with the service's tables dropped: the next store creates them anew."""
    with psycopg.connect(pg_url, autocommit=True) as conn:
        for table in API_TABLES:
            conn.execute(f"DROP TABLE IF EXISTS {table} CASCADE")
    return pg_url


# -- subprocesses ------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Serve:
    """A ``msedocs serve`` subprocess on 127.0.0.1 and a free port."""

    def __init__(self, cwd: Path, *args: str) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = (cwd / f"serve-{self.port}.log").open("wb")
        self.proc = subprocess.Popen(
            [MSEDOCS, "serve", "--port", str(self.port), *args], cwd=cwd, stdout=self.log, stderr=subprocess.STDOUT,
            start_new_session=True,
        )  # fmt: skip

    def wait_ready(self, timeout: float = 120) -> dict:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError(f"msedocs serve exited with {self.proc.returncode}: {self.output()}")
            try:
                answer = httpx.get(self.url + "/readyz", timeout=5)
                if answer.status_code == 200:
                    return answer.json()
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        raise AssertionError(f"msedocs serve not ready in {timeout} s: {self.output()}")

    def output(self) -> str:
        self.log.flush()
        return Path(self.log.name).read_text(errors="replace")[-3000:]

    def stop(self) -> None:
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(10)
        self.log.close()


class Worker:
    """A ``msedocs worker --jobs`` subprocess (its own process group: its rendering processes go
    with it when it is killed)."""

    def __init__(self, cwd: Path, db: str, *extra: str) -> None:
        self.log = (cwd / f"worker-{os.urandom(3).hex()}.log").open("wb")
        self.proc = subprocess.Popen(
            [MSEDOCS, "worker", "--jobs", "--db", db, "--workers", "1", "--pki", str(cwd / "data" / "pki"), *extra],
            cwd=cwd, stdout=self.log, stderr=subprocess.STDOUT, start_new_session=True,
        )  # fmt: skip
        self.pid = self.proc.pid

    def kill(self) -> None:
        """SIGKILL to the worker and its rendering processes at once: nothing is cleaned up."""
        os.killpg(self.pid, signal.SIGKILL)
        self.proc.wait(30)

    def output(self) -> str:
        self.log.flush()
        return Path(self.log.name).read_text(errors="replace")[-3000:]

    def stop(self) -> None:
        if self.proc.poll() is None:
            os.killpg(self.pid, signal.SIGTERM)
            try:
                self.proc.wait(60)
            except subprocess.TimeoutExpired:
                os.killpg(self.pid, signal.SIGKILL)
                self.proc.wait(10)
        try:  # the rendering processes of a worker that was stopped
            os.killpg(self.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        self.log.close()


def msedocs(*args: str, cwd: Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([MSEDOCS, *args], cwd=cwd, capture_output=True, text=True, timeout=120,
                          env={**os.environ, **(env or {})})  # fmt: skip


# -- a callback receiver -----------------------------------------------------------------------


class Receiver:
    """A tiny HTTP server on 127.0.0.1 (a thread) that records every POST and answers the first
    ``fail`` of them with 500 (or drops the connection without answering, with ``drop``)."""

    def __init__(self, fail: int = 0, drop: bool = False) -> None:
        import http.server
        import threading

        self.fail = fail
        self.drop = drop
        self.received: list[tuple[float, dict[str, str], bytes]] = []
        self.lock = threading.Lock()
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - the stdlib's name
                body = self.rfile.read(int(self.headers.get("content-length", "0")))
                with outer.lock:
                    outer.received.append((time.monotonic(), {k.lower(): v for k, v in self.headers.items()}, body))
                    failing = len(outer.received) <= outer.fail
                if failing and outer.drop:
                    self.close_connection = True
                    self.connection.shutdown(socket.SHUT_RDWR)
                    return
                self.send_response(500 if failing else 204)
                self.send_header("content-length", "0")
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hooks/msedocs"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def wait(self, count: int, timeout: float = 60) -> list[tuple[float, dict[str, str], bytes]]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self.lock:
                if len(self.received) >= count:
                    return list(self.received)
            time.sleep(0.05)
        raise AssertionError(f"{len(self.received)} callback(s) received, {count} expected")

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver() -> Iterator[Callable[..., Receiver]]:
    made: list[Receiver] = []

    def make(fail: int = 0, drop: bool = False) -> Receiver:
        made.append(Receiver(fail, drop))
        return made[-1]

    yield make
    for r in made:
        r.close()
