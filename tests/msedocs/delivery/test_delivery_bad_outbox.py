"""An unusable ``--db`` is refused with a message that says what is wrong with it, never read as
an empty outbox, never an "internal error", never a traceback (issue 18).

Every delivery command is run against every kind of bad outbox through ``msedocs.cli.main`` (the
CLI's entry point, in this process: fifty subprocesses would take minutes); one command per kind
and the worker also run as a subprocess, as the user runs them.
"""

from __future__ import annotations

import datetime as dt
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from msedocs.cli import main
from msedocs.delivery import BadOutboxError, Outbox, OutboxUnavailableError, open_outbox
from msedocs.errors import DeliveryError, InputError

from .conftest import extract_documents, portal_recipient

REFUSED_PG = "postgresql://127.0.0.1:1/x"


def commands(db: str, tmp: Path) -> list[list[str]]:
    """Every delivery subcommand that opens the outbox."""
    return [
        ["queue", "status", "--db", db],
        ["queue", "status", "--json", "--db", db],
        ["queue", "list", "--db", db],
        ["queue", "show", "1", "--db", db],
        ["queue", "retry", "1", "--db", db],
        ["queue", "resolve", "1", "--delivered", "--db", db],
        ["queue", "dead", "--db", db],
        ["worker", "--once", "--portal-url", "http://127.0.0.1:9", "--db", db],
        ["post", "batch", "--out", str(tmp / "post-out"), "--date", "2025-11-05", "--db", db],
        ["post", "handed-over", "10100011000017", "--db", db],
        ["post", "returned", "10100011000017", "--db", db],
        ["post", "delivered", "10100011000017", "--db", db],
        ["deadlines", "--date", "2025-11-05", "--db", db],
    ]


def cli(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    code = main(args)
    out, err = capsys.readouterr()
    return code, out, err


def run_cli(*args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "msedocs", *args], capture_output=True, text=True, timeout=timeout, check=False
    )


def assert_refused(code: int, out: str, err: str, expected_code: int, *fragments: str) -> None:
    assert code == expected_code, (code, out, err)
    assert "Traceback" not in err and "internal error" not in err, err
    assert err.startswith("error: --db"), err
    for f in fragments:
        assert f in err, (f, err)
    assert out == "", out  # nothing printed as if the outbox were empty


def make_read_only(path: Path) -> None:
    """chmod 444, and for root (whom file modes do not stop) the immutable attribute."""
    path.chmod(0o444)
    if os.geteuid() == 0 and shutil.which("chattr"):
        subprocess.run(["chattr", "+i", str(path)], check=False, capture_output=True)
    if os.access(path, os.W_OK):
        undo_read_only(path)
        pytest.skip("cannot make a file read-only here (root without chattr +i support)")


def undo_read_only(path: Path) -> None:
    if os.geteuid() == 0 and shutil.which("chattr"):
        subprocess.run(["chattr", "-i", str(path)], check=False, capture_output=True)
    path.chmod(0o644)


@pytest.fixture
def read_only_outbox(tmp_path: Path) -> Iterator[str]:
    path = tmp_path / "ro.sqlite3"
    url = f"sqlite:///{path}"
    with Outbox(url, create=True) as ob:
        ob.enqueue(extract_documents(1), "CASE-1", "portal", portal_recipient(1), dt.date(2025, 10, 31))
    make_read_only(path)
    try:
        yield url
    finally:
        undo_read_only(path)


def bad_sqlite(kind: str, tmp: Path) -> tuple[str, int, tuple[str, ...]]:
    """A bad SQLite ``--db`` of the given kind, its exit code and what the message must say."""
    if kind == "missing folder":
        return f"sqlite:///{tmp}/no/such/folder/o.sqlite3", 2, ("does not exist", "msedocs queue init")
    if kind == "missing file":
        return f"sqlite:///{tmp}/o.sqlite3", 2, ("does not exist", "msedocs queue init")
    if kind == "folder":
        (tmp / "a-folder").mkdir()
        return f"sqlite:///{tmp}/a-folder", 2, ("is a folder",)
    if kind == "text file":
        (tmp / "notes.txt").write_text("not a database, a text file\n" * 40)
        return f"sqlite:///{tmp}/notes.txt", 2, ("not a SQLite database",)
    if kind == "empty file":
        (tmp / "empty.sqlite3").write_bytes(b"")
        return f"sqlite:///{tmp}/empty.sqlite3", 2, ("holds no msedocs outbox", "msedocs queue init")
    raise AssertionError(kind)


SQLITE_KINDS = ["missing folder", "missing file", "folder", "text file", "empty file"]


@pytest.mark.parametrize("kind", SQLITE_KINDS)
def test_every_command_refuses_a_bad_sqlite_outbox(
    kind: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db, expected_code, fragments = bad_sqlite(kind, tmp_path)
    before = sorted(p.name for p in tmp_path.rglob("*"))
    for args in commands(db, tmp_path):
        code, out, err = cli(args, capsys)
        assert_refused(code, out, err, expected_code, *fragments)
        assert str(tmp_path) in err, err  # names the file
    assert sorted(p.name for p in tmp_path.rglob("*")) == before, "a bad outbox must not create anything"


def test_every_command_refuses_a_read_only_outbox(read_only_outbox: str, capsys: pytest.CaptureFixture[str]) -> None:
    tmp = Path(read_only_outbox.removeprefix("sqlite:///")).parent
    for args in commands(read_only_outbox, tmp):
        code, out, err = cli(args, capsys)
        assert_refused(code, out, err, 2, "read-only", "ro.sqlite3")


def test_every_command_refuses_a_refused_postgresql_connection(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    for args in commands(REFUSED_PG, tmp_path):
        code, out, err = cli(args, capsys)
        assert_refused(code, out, err, 1, "cannot connect", "127.0.0.1:1")


@pytest.mark.parametrize("kind", ["folder", "text file"])
def test_queue_init_refuses_what_it_cannot_make_an_outbox(
    kind: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db, expected_code, fragments = bad_sqlite(kind, tmp_path)
    worker = ["worker", "--once", "--create", "--portal-url", "http://x", "--db", db]
    for args in (["queue", "init", "--db", db], worker):
        code, out, err = cli(args, capsys)
        assert_refused(code, out, err, expected_code, *fragments)


def test_a_refused_server_message_names_host_and_port_but_no_password(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = cli(["queue", "init", "--db", "postgresql://clerk:s3cret-pw@127.0.0.1:1/outbox"], capsys)
    assert_refused(code, out, err, 1, "cannot connect to the PostgreSQL server at 127.0.0.1:1", "Connection refused")
    assert "s3cret-pw" not in err


@pytest.mark.parametrize("kind", ["missing folder", "folder", "text file"])
def test_the_cli_process_refuses_a_bad_sqlite_outbox(kind: str, tmp_path: Path) -> None:
    db, expected_code, fragments = bad_sqlite(kind, tmp_path)
    r = run_cli("queue", "status", "--db", db)
    assert_refused(r.returncode, r.stdout, r.stderr, expected_code, *fragments)
    assert not (tmp_path / "no").exists()


def test_the_worker_process_exits_on_an_unusable_outbox(read_only_outbox: str) -> None:
    """``worker --once`` on a read-only outbox used to retry «attempt to write a readonly database»
    forever; on a refused server it said only «OperationalError»."""
    for db, expected_code, fragment in ((read_only_outbox, 2, "read-only"), (REFUSED_PG, 1, "cannot connect")):
        started = time.monotonic()
        r = run_cli("worker", "--once", "--portal-url", "http://127.0.0.1:9", "--db", db, timeout=30)
        assert_refused(r.returncode, r.stdout, r.stderr, expected_code, fragment)
        assert time.monotonic() - started < 20


def test_debug_shows_the_traceback(tmp_path: Path) -> None:
    r = run_cli("--debug", "queue", "status", "--db", f"sqlite:///{tmp_path}/none.sqlite3")
    assert r.returncode == 2
    assert "Traceback" in r.stderr and "BadOutboxError" in r.stderr


def test_queue_init_creates_the_outbox_and_then_it_opens(tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path}/new/folder/outbox.sqlite3"
    r = run_cli("queue", "init", "--db", db)
    assert r.returncode == 0, r.stderr
    assert "outbox ready" in r.stdout
    assert (tmp_path / "new" / "folder" / "outbox.sqlite3").is_file()
    r = run_cli("queue", "status", "--json", "--db", db)
    assert r.returncode == 0, r.stderr
    assert r.stdout.startswith("{") and '"queued": 0' in r.stdout
    assert run_cli("queue", "init", "--db", db).returncode == 0  # again: nothing to do, no error


def test_worker_create_makes_a_new_outbox(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    db = f"sqlite:///{tmp_path}/w/outbox.sqlite3"
    code, out, err = cli(["worker", "--once", "--create", "--portal-url", "http://127.0.0.1:9", "--db", db], capsys)
    assert code == 0, err
    assert "delivered 0" in out


def test_open_outbox_raises_what_the_render_command_relies_on(tmp_path: Path) -> None:
    with pytest.raises(BadOutboxError) as bad:
        open_outbox(f"sqlite:///{tmp_path}/x/o.sqlite3")
    assert isinstance(bad.value, InputError) and bad.value.exit_code == 2
    with pytest.raises(OutboxUnavailableError) as down:
        open_outbox(REFUSED_PG)
    assert isinstance(down.value, DeliveryError) and down.value.exit_code == 1
    with open_outbox(f"sqlite:///{tmp_path}/x/o.sqlite3", create=True) as ob:
        assert ob.counts()["queued"] == 0
    with pytest.raises(BadOutboxError, match="not a SQLAlchemy URL|unsupported database"):
        open_outbox("mysql://x/y")


def test_postgresql_database_that_does_not_exist_or_holds_no_outbox(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    import psycopg
    import sqlalchemy as sa

    from .conftest import PG_ADMIN_URL

    try:
        admin = psycopg.connect(PG_ADMIN_URL, autocommit=True, connect_timeout=5)
    except psycopg.Error as exc:
        pytest.skip(f"!!! PostgreSQL at {PG_ADMIN_URL} unreachable ({exc}): test SKIPPED !!!")
    name = f"msedocs_empty_{os.getpid()}"
    with admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}"')
        missing = sa.make_url(PG_ADMIN_URL).set(database=name).render_as_string(hide_password=False)
        code, out, err = cli(["queue", "status", "--db", missing], capsys)
        assert_refused(code, out, err, 2, f'database "{name}" does not exist')
        admin.execute(f'CREATE DATABASE "{name}"')
        try:
            code, out, err = cli(["queue", "list", "--db", missing], capsys)
            assert_refused(code, out, err, 2, "holds no msedocs outbox", "msedocs queue init")
            code, out, err = cli(["queue", "init", "--db", missing], capsys)
            assert code == 0, err
            code, out, err = cli(["queue", "status", "--json", "--db", missing], capsys)
            assert code == 0, err
        finally:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
