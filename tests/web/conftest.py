"""Fixtures of the clerk pages' tests.

One ``msedocs serve`` subprocess for the session on 127.0.0.1 and a free port, over a SQLite
store in a temporary folder, with an outbox prepared by the existing commands: ``queue init``,
then ``render --sign --queue`` of three Russian cases whose extract goes by registered mail
(``fixtures/cases/ru_not_recognised_paper_mail.json`` with its decision moved so that one item
is overdue, one due today and one due later), and users made by ``msedocs users create`` (the
password on stdin). Playwright drives Debian's Chromium (``/usr/bin/chromium``; Playwright
cannot download its own browser here). Screenshots and page sources go to
``tests/web/artifacts/`` (ignored by git; its path is printed).
"""

from __future__ import annotations

import datetime as dt
import json
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest

from msedocs.delivery.calendar import add_working_days
from msedocs.web.routes import bureau_zone
from tests.api.conftest import Serve

ROOT = Path(__file__).resolve().parents[2]
MSEDOCS = str(Path(sys.executable).with_name("msedocs"))
CHROMIUM = os.environ.get("MSEDOCS_CHROMIUM", "/usr/bin/chromium")
ARTIFACTS = Path(os.environ.get("MSEDOCS_WEB_ARTIFACTS", ROOT / "tests" / "web" / "artifacts"))
PASSWORDS = {"anna": "Пароль-делопроизводителя-1", "head": "Пароль-руководителя-2", "root": "Пароль-администратора-3",
             "locky": "Пароль-для-блокировки-4"}  # fmt: skip
ROLES = {"anna": "clerk", "head": "head", "root": "admin", "locky": "clerk"}
FULL_NAMES = {"anna": "Иванова Анна Сергеевна"}


def run(*args: str, cwd: Path, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    done = subprocess.run([MSEDOCS, *args], cwd=cwd, input=stdin, capture_output=True, text=True, timeout=180,
                          env={**os.environ, "MSEDOCS_DB": f"sqlite:///{cwd / 'data' / 'outbox.sqlite3'}"})  # fmt: skip
    assert done.returncode == 0, f"msedocs {' '.join(args)}: {done.stdout}{done.stderr}"
    return done


@dataclass(frozen=True)
class Case:
    case_id: str
    name: str
    decision: dt.date
    due: dt.date


def bureau_today() -> dt.date:
    """Today where the pages count deadlines (the bureau's zone, as the server's): from 21:00 UTC
    Minsk is already a day ahead of the machine's own date."""
    return dt.datetime.now(bureau_zone()).date()


def make_cases(folder: Path, today: dt.date) -> list[Case]:
    """Three paper-mail cases: due three working days after the decision (overdue, today, later)."""
    base = json.loads((ROOT / "fixtures" / "cases" / "ru_not_recognised_paper_mail.json").read_text(encoding="utf-8"))
    variants = [
        ("RU-2026-000612", None, None),  # decided 2026-10-20: long overdue
        ("RU-2026-000701", ("Андреев", "Олег", "Петрович"), add_working_days(today, -3, "RU")),
        ("RU-2026-000702", ("Борисов", "Иван", "Ильич"), today),
    ]
    folder.mkdir()
    made = []
    for case_id, name, decision in variants:
        data = json.loads(json.dumps(base))
        data["case_id"] = case_id
        if name:
            data["patient"]["name"] = dict(zip(("last", "first", "middle"), name, strict=True))
        if decision:
            data["decision"]["date"] = decision.isoformat()
            data["extract"]["date"] = decision.isoformat()
            data["extract"]["number"] = f"567.3.{case_id[-3:]}/2026-В"
        (folder / f"{case_id}.json").write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")
        n = data["patient"]["name"]
        day = dt.date.fromisoformat(data["decision"]["date"])
        made.append(Case(case_id, f"{n['last']} {n['first']} {n['middle']}", day, add_working_days(day, 3, "RU")))
    return made


@dataclass
class Site:
    url: str
    folder: Path
    cases: list[Case]
    serve: Serve

    clients: list[httpx.Client] = field(default_factory=list)

    def client(self) -> httpx.Client:
        """A new HTTP client (closed after the test)."""
        client = httpx.Client(base_url=self.url, follow_redirects=False, timeout=120)
        self.clients.append(client)
        return client

    def close_clients(self) -> None:
        while self.clients:
            self.clients.pop().close()

    def sign_in(self, name: str) -> tuple[httpx.Client, str]:
        """A client signed in as ``name`` and its session's CSRF token."""
        client = self.client()
        page = client.get("/clerk/login")
        nonce = csrf_of(page.text)
        answer = client.post("/clerk/login", data={"name": name, "password": PASSWORDS[name], "csrf_token": nonce,
                                                   "next": "/clerk/today"})  # fmt: skip
        assert answer.status_code == 303, answer.text
        return client, csrf_of(client.get("/clerk/today").text)


def csrf_of(html: str) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert found, "no CSRF token in the page"
    return found.group(1)


@pytest.fixture(scope="session")
def artifacts() -> Path:
    shutil.rmtree(ARTIFACTS, ignore_errors=True)
    ARTIFACTS.mkdir(parents=True)
    print(f"\nclerk pages: screenshots and page sources in {ARTIFACTS}", file=sys.stderr)
    return ARTIFACTS


@pytest.fixture(scope="session")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    folder = tmp_path_factory.mktemp("clerk")
    (folder / "data").mkdir()
    cases = make_cases(folder / "cases", bureau_today())
    run("queue", "init", cwd=folder)
    run("render", str(folder / "cases"), "--all", "--format", "xml,pdf", "--sign", "--queue", "--pki",
        str(folder / "data" / "pki"), "--out", str(folder / "out"), cwd=folder)  # fmt: skip
    for name, role in ROLES.items():
        extra = ["--full-name", FULL_NAMES[name]] if name in FULL_NAMES else []
        run("users", "create", name, "--role", role, *extra, cwd=folder, stdin=PASSWORDS[name] + "\n")
    serve = Serve(folder, "--data", "data", "--workers", "1")
    try:
        serve.wait_ready()
        yield Site(serve.url, folder, cases, serve)
    finally:
        serve.stop()


@pytest.fixture(scope="session")
def browser_type_launch_args() -> dict:
    if not Path(CHROMIUM).exists():
        pytest.skip(f"!!! {CHROMIUM} missing (Debian package chromium: python3 dev.py setup as root) !!!")
    return {"executable_path": CHROMIUM, "args": ["--no-sandbox", "--lang=ru-RU"]}


@pytest.fixture(scope="session")
def browser_context_args() -> dict:
    return {"viewport": {"width": 1366, "height": 768}, "locale": "ru-RU", "accept_downloads": True,
            "timezone_id": "Europe/Moscow"}  # fmt: skip


@pytest.fixture(autouse=True)
def _close_clients(request: pytest.FixtureRequest) -> Iterator[None]:
    yield
    if "site" in request.fixturenames:
        request.getfixturevalue("site").close_clients()
