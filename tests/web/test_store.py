"""The clerk pages' store and logic without a server: users and Argon2 hashes, the lock-out
window, sessions (idle and absolute expiry, only a digest stored), the tracking number check,
deadlines in working days, the item's history in Russian, the ``users`` command, the vendored
htmx."""

from __future__ import annotations

import datetime as dt
import hashlib
import subprocess
import sys
from pathlib import Path

import pytest
import sqlalchemy as sa

from msedocs.delivery.models import HistoryEntry, OutboxDocument, Recipient
from msedocs.delivery.store import Outbox
from msedocs.delivery.tracking import make_tracking_number
from msedocs.web import clerk
from msedocs.web.routes import STATIC_DIR
from msedocs.web.store import LOCKOUT_WINDOW, SESSION_IDLE, UserError, WebStore
from tests import pglock

MSEDOCS = str(Path(sys.executable).with_name("msedocs"))
T0 = dt.datetime(2026, 12, 7, 9, 0)


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> dt.datetime:
        return self.now


@pytest.fixture
def store(tmp_path: Path) -> WebStore:
    clock = Clock()
    made = WebStore(f"sqlite:///{tmp_path / 'store.sqlite3'}", clock=clock)
    made.clock = clock
    return made


def test_users_and_hashes(store: WebStore) -> None:
    user = store.create_user("anna", "clerk", "correct horse battery", "Иванова А. С.")
    assert (user.name, user.role, user.active, user.shown) == ("anna", "clerk", True, "Иванова А. С.")
    with store.engine.connect() as conn:
        stored = conn.execute(sa.text("SELECT password_hash FROM web_users")).scalar_one()
    assert stored.startswith("$argon2id$") and "correct horse" not in stored
    for bad in (("anna", "clerk", "another password"), ("bob", "boss", "long enough pw"), ("bob", "clerk", "short"),
                ("bo b", "clerk", "long enough pw"), ("", "clerk", "long enough pw")):  # fmt: skip
        with pytest.raises(UserError):
            store.create_user(*bad)
    assert store.sign_in("anna", "correct horse battery").user is not None
    assert store.sign_in("anna", "wrong password!").user is None
    store.set_active("anna", False)
    assert store.sign_in("anna", "correct horse battery").user is None


def test_lockout_window(store: WebStore) -> None:
    clock: Clock = store.clock  # type: ignore[assignment]
    store.create_user("anna", "clerk", "correct horse battery")
    for n in range(5):
        clock.now = T0 + dt.timedelta(minutes=n)
        result = store.sign_in("anna", "wrong")
        assert result.user is None and (result.locked_until is None) == (n < 4)
    assert result.locked_until == T0 + LOCKOUT_WINDOW  # the oldest of the five, plus the window
    clock.now = T0 + dt.timedelta(minutes=10)
    assert store.sign_in("anna", "correct horse battery").locked_until == T0 + LOCKOUT_WINDOW
    clock.now = T0 + LOCKOUT_WINDOW + dt.timedelta(seconds=1)  # the first failure left the window
    assert store.sign_in("anna", "correct horse battery").user is not None
    for _ in range(5):
        store.sign_in("anna", "wrong")
    assert store.locked_until("anna") is not None
    assert store.unlock("anna") == 5 and store.locked_until("anna") is None


def test_sessions(store: WebStore) -> None:
    clock: Clock = store.clock  # type: ignore[assignment]
    user = store.create_user("anna", "clerk", "correct horse battery")
    token, session = store.new_session(user)
    with store.engine.connect() as conn:
        stored = conn.execute(sa.text("SELECT id_sha256 FROM web_sessions")).scalar_one()
    assert stored == hashlib.sha256(token.encode()).hexdigest()
    assert store.session(token) is not None and store.session(token + "x") is None
    clock.now = T0 + SESSION_IDLE - dt.timedelta(minutes=1)
    assert store.session(token) is not None  # used: its idle time starts again
    clock.now += SESSION_IDLE - dt.timedelta(minutes=1)
    assert store.session(token) is not None
    clock.now += SESSION_IDLE + dt.timedelta(seconds=1)
    assert store.session(token) is None  # idle too long
    token, _ = store.new_session(user)
    for _ in range(25):  # used every 25 minutes: still ends after 10 hours
        clock.now += dt.timedelta(minutes=25)
        alive = store.session(token)
    assert alive is None
    token, _ = store.new_session(user)
    store.set_password("anna", "another long password")
    assert store.session(token) is None  # a new password signs out everywhere


def test_tracking_problems() -> None:
    good = make_tracking_number("443001", 12, 1)
    assert clerk.tracking_problem(good) is None
    assert "контрольная цифра" in (clerk.tracking_problem(good[:13] + str((int(good[13]) + 1) % 10)) or "")
    assert clerk.tracking_problem("123") == "в ШПИ 14 цифр, введено 3"
    assert clerk.tracking_problem("4430011200001x") == "ШПИ состоит только из цифр"
    assert clerk.tracking_problem("４４３００１１２００００１６") == "ШПИ состоит только из цифр"  # full-width digits
    assert clerk.normalise_tracking(" 443001 12 00001-6 ") == "44300112000016"


def test_deadlines_and_lines(tmp_path: Path) -> None:
    with Outbox(f"sqlite:///{tmp_path / 'o.sqlite3'}", create=True) as outbox:
        recipient = Recipient(name="Петров П. П.", postcode="101000", address="г. Москва", paper_requested=True)
        doc = OutboxDocument("ru-extract.pdf", b"%PDF-1.4 test")
        ids = [outbox.enqueue([doc], f"RU-{n}", "post", recipient, dt.date(2026, 12, 1), due_date=due)
               for n, due in enumerate([dt.date(2026, 12, 3), dt.date(2026, 12, 7), dt.date(2026, 12, 8),
                                        dt.date(2026, 12, 10)])]  # fmt: skip
        items = {i.id: i for i in outbox.find_items()}
        today = dt.date(2026, 12, 7)  # a Monday
        kinds = [clerk.deadline(items[i], today) for i in ids]
        assert [k.kind for k in kinds] == ["overdue", "today", "soon", "later"]
        assert [k.text for k in kinds] == ["просрочено на 2 раб. дн.", "срок сегодня", "осталось 1 раб. дн.",
                                           "осталось 3 раб. дн."]  # fmt: skip
        from msedocs.delivery.tracking import TrackingRange

        outbox.add_tracking_range(TrackingRange("443001", 12, 1, 9))
        (made,) = outbox.prepare_postal_lists(today, "web:anna", item_ids=ids[:2])
        assert {i.id for i in made.items} == set(ids[:2])  # only the chosen ones
        first, second = (i.tracking_number or "" for i in made.items)
        wrong = second[:13] + str((int(second[13]) + 1) % 10)
        unknown = make_tracking_number("443001", 12, 99)
        lines = clerk.check_tracking_lines(outbox, f"{first}\n\n{first}\n{wrong}\n{unknown}", "printed")
        assert [(line.line, line.error) for line in lines] == [
            (1, None), (3, "этот ШПИ уже введён в строке 1"),
            (4, "контрольная цифра не сходится: номер введён или считан с ошибкой"), (5, "нет отправления с таким ШПИ"),
        ]  # fmt: skip
        outbox.mark_handed_over(first, today, worker="web:anna")
        assert clerk.check_one(outbox, first, "printed").error == "уже передано на почту 07.12.2026"
        names = {"anna": "Иванова А. С."}
        rows = clerk.history(outbox.history(ids[0]), [], names)
        assert [(r.what, r.note, r.who) for r in rows] == [
            ("поставлено в очередь", "", "система"),
            ("включено в список и напечатано", f"список ф. 103 № {made.number}", "Иванова А. С."),
            ("передано на почту", "дата передачи 07.12.2026", "Иванова А. С."),
        ]


def test_history_notes() -> None:
    def entry(reason: str) -> HistoryEntry:
        return HistoryEntry(T0, "handed_over", "returned", "post", reason, "web:x")

    assert clerk._note(entry("истёк срок хранения on 2026-12-07")) == "истёк срок хранения, 07.12.2026"
    assert clerk._note(entry("sent again by registered mail after a return (was tracking number 44300112000016)")) \
        == "повторная отправка после возврата (прежний ШПИ 44300112000016)"  # fmt: skip


def test_users_command(tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path / 'store.sqlite3'}"

    def users(*args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
        return subprocess.run([MSEDOCS, "users", *args, "--db", db], input=stdin, capture_output=True, text=True,
                              timeout=60)  # fmt: skip

    done = users("create", "boss", "--role", "admin", stdin="a long enough password\n")
    assert done.returncode == 0 and "user boss created (role admin)" in done.stdout
    done = users("create", "boss", "--role", "admin", stdin="a long enough password\n")
    assert done.returncode == 2 and "user boss: already exists" in done.stderr
    done = users("create", "anna", "--role", "clerk", stdin="short\n")
    assert done.returncode == 2 and "password: 10-256 characters (got 5)" in done.stderr
    done = users("create", "anna", "--role", "chief", stdin="a long enough password\n")
    assert done.returncode == 2 and "--role: one of clerk, head, admin" in done.stderr
    assert "a long enough password" not in done.stderr + done.stdout
    listed = users("list").stdout
    assert listed.startswith("boss") and "admin  active; last sign-in never" in listed
    assert users("disable", "boss").returncode == 0 and "disabled" in users("list").stdout


def test_vendored_htmx() -> None:
    htmx = (STATIC_DIR / "htmx.min.js").read_bytes()
    readme = (STATIC_DIR / "README.md").read_text(encoding="utf-8")
    assert hashlib.sha256(htmx).hexdigest() == "d6fdc75f204e6bdefa99b69bf1e6d4ac69b8a364f77929f45c13476b4000f717"
    assert "htmx 2.0.11" in readme and (STATIC_DIR / "LICENSE-htmx.txt").read_text().startswith("Zero-Clause BSD")


def test_on_postgresql() -> None:
    """The same tables and queries on PostgreSQL (database ``msedocs_web_test``, tables dropped first)."""
    import os

    import psycopg

    admin_url = os.environ.get("MSEDOCS_TEST_PG", "postgresql://postgres@127.0.0.1:5432/postgres")
    try:
        admin = psycopg.connect(admin_url, autocommit=True, connect_timeout=5)
    except psycopg.Error as exc:
        pytest.skip(f"!!! PostgreSQL at {admin_url} unreachable ({exc}); PostgreSQL web test SKIPPED !!!")
    with admin:
        if admin.execute("SELECT 1 FROM pg_database WHERE datname = 'msedocs_web_test'").fetchone() is None:
            admin.execute('CREATE DATABASE "msedocs_web_test"')
    url = sa.make_url(admin_url).set(database="msedocs_web_test").render_as_string(hide_password=False)
    with psycopg.connect(url, autocommit=True) as conn:
        for table in ("web_item_numbers", "web_batch_files", "web_batches", "web_item_events", "web_access_log",
                      "web_login_failures", "web_sessions", "web_users", "web_admin_log",
                      "web_alembic_version"):  # fmt: skip
            conn.execute(f"DROP TABLE IF EXISTS {table} CASCADE")
    with pglock.shared(), WebStore(url) as store:
        user = store.create_user("anna", "clerk", "correct horse battery")
        assert store.sign_in("anna", "correct horse battery").user == store.user("anna")
        token, _ = store.new_session(user)
        assert store.session(token) is not None
        batch = store.create_batch(user.id, dt.date(2026, 12, 7), [3, 4])
        store.finish_batch(batch, [("pack.pdf", "application/pdf", b"%PDF-1.7 x" * 1000)], 3)
        assert store.batch_file(batch, "pack.pdf") == ("application/pdf", b"%PDF-1.7 x" * 1000)
        assert store.batch_of_list(4) == batch
        store.set_numbers({7: "567.3.63/2026-В\n567.3.63/2026"})
        assert store.items_with_number("63/2026-в") == [7]
        store.log_access(user.id, 7, "view")
        assert [(a.user, a.item_id, a.action) for a in store.access_log()] == [("anna", 7, "view")]
        store.log_admin(user.id, "set-role", "bob", "head")
        assert [(a.user, a.action, a.subject, a.detail) for a in store.admin_log()] == [("anna", "set-role", "bob",
                                                                                          "head")]  # fmt: skip
        waiting = store.create_batch(user.id, dt.date(2026, 12, 7), [5], duplex=True)
        claimed = store.claim_batch(30)  # on PostgreSQL: FOR UPDATE SKIP LOCKED in the claim
        assert claimed is not None and claimed[0].id == waiting and claimed[0].duplex
        assert store.claim_batch(30) is None


def test_batch_claims_and_leases(store: WebStore) -> None:
    """A pending batch is claimed once; a claim whose lease ran out (its server was killed) is
    claimed again with a new token, and the old builder can no longer store or note anything;
    after three interrupted attempts the batch fails; a failed one can be queued again."""
    clock: Clock = store.clock  # type: ignore[assignment]
    user = store.create_user("anna", "clerk", "correct horse battery")
    batch_id = store.create_batch(user.id, dt.date(2026, 12, 7), [1, 2], duplex=True)
    first = store.claim_batch(30)
    assert first is not None and first[0].state == "building" and first[0].attempts == 1
    assert store.claim_batch(30) is None  # held
    assert not store.rebuild_batch(batch_id)  # being built: not queued again
    store.batch_progress(batch_id, first[1], 3, 10)
    assert (store.batch(batch_id).done, store.batch(batch_id).total) == (3, 10)  # type: ignore[union-attr]
    clock.now += dt.timedelta(seconds=20)
    assert store.renew_batch(batch_id, first[1], 30)
    clock.now += dt.timedelta(seconds=31)  # the builder died: nothing renewed the lease
    second = store.claim_batch(30)
    assert second is not None and second[1] != first[1] and second[0].attempts == 2 and second[0].done == 0
    assert not store.renew_batch(batch_id, first[1], 30)
    assert not store.finish_batch(batch_id, [("pack.pdf", "application/pdf", b"old")], 1, first[1])
    assert store.batch_files(batch_id) == []
    clock.now += dt.timedelta(seconds=31)
    assert store.claim_batch(30) is not None  # the third attempt
    clock.now += dt.timedelta(seconds=31)
    assert store.claim_batch(30) is None  # interrupted three times: failed, not claimed again
    assert store.batch(batch_id).state == "failed"  # type: ignore[union-attr]
    assert store.rebuild_batch(batch_id)
    third = store.claim_batch(30)
    assert third is not None and third[0].attempts == 1
    assert store.finish_batch(batch_id, [("pack.pdf", "application/pdf", b"%PDF new")], 4, third[1])
    assert store.batch(batch_id).state == "ready" and store.batch_file(batch_id, "pack.pdf")[1] == b"%PDF new"  # type: ignore[union-attr,index]
