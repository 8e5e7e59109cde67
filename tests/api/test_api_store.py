"""The service's store on SQLite and on PostgreSQL: keys, idempotency, issued once, claims and leases."""

from __future__ import annotations

import datetime as dt
import threading

import pytest

from msedocs.api.store import (
    MAX_ATTEMPTS,
    AlreadyIssued,
    IdempotencyConflict,
    JobBusy,
    JobState,
    JobStore,
)


class Clock:
    def __init__(self) -> None:
        self.now = dt.datetime(2026, 12, 1, 9, 0)

    def __call__(self) -> dt.datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += dt.timedelta(seconds=seconds)


@pytest.fixture(params=["sqlite", "postgresql"])
def store(request, tmp_path):
    sqlite = f"sqlite:///{tmp_path / 'store.sqlite3'}"
    url = sqlite if request.param == "sqlite" else request.getfixturevalue("fresh_pg")
    clock = Clock()
    with JobStore(url, clock=clock) as opened:
        opened.test_clock = clock  # type: ignore[attr-defined]
        yield opened


def submit(store: JobStore, key: str = "k1", body: bytes = b"{}", **kw):
    kw.setdefault("case_id", "C-1")
    kw.setdefault("respond_async", True)
    return store.submit("key1", key, body, **kw)


def test_keys_authenticate_only_the_whole_token(store):
    key, token = store.create_key("his", ["render", "validate"])
    assert store.authenticate(token) == key and key.scopes == {"render", "validate"}
    assert store.authenticate(token[:-1] + ("A" if token[-1] != "A" else "B")) is None
    assert store.authenticate(token.replace(key.id, "0" * 12)) is None
    with pytest.raises(ValueError, match="unknown scope"):
        store.create_key("x", ["root"])


def test_idempotency_same_body_same_job_other_body_conflict(store):
    first = submit(store, body=b'{"a":1}')
    again = submit(store, body=b'{"a":1}')
    assert first.created and not again.created and again.job.id == first.job.id
    with pytest.raises(IdempotencyConflict):
        submit(store, body=b'{"a":2}')


def test_signed_documents_are_issued_once_and_given_back_on_failure(store):
    first = submit(store, "k1", documents=["by-act.pdf"], claim_for="w", respond_async=False)
    with pytest.raises(AlreadyIssued) as refused:
        submit(store, "k2", body=b"other", documents=["by-act.pdf", "by-act.xml"])
    assert refused.value.clashes == [("by-act.pdf", first.job.id)]
    assert submit(store, "k3", body=b"x", case_id="C-2", documents=["by-act.pdf"]).created  # another case
    assert first.claim is not None
    assert store.fail(first.job.id, first.claim.token, {"status": 500})
    assert store.issued(first.job.id) == []
    assert submit(store, "k4", body=b"y", documents=["by-act.pdf"]).created


def test_claim_complete_and_outputs(store):
    job = submit(store).job
    claim = store.claim("w1", lease=30)
    assert claim is not None and claim.job.id == job.id and claim.job.state == JobState.RUNNING
    assert store.claim("w2") is None
    assert store.renew(job.id, claim.token, 30, progress=50)
    files = [("a.xml", "application/xml", b"<a/>"), ("b.xml", "application/xml", b"<a/>")]
    assert store.complete(job.id, claim.token, files, {"files": 2})
    done = store.get(job.id)
    assert done is not None and done.state == JobState.SUCCEEDED and done.progress == 100
    assert [o.name for o in store.outputs(job.id)] == ["a.xml", "b.xml"]
    assert store.content(store.outputs(job.id)[0].sha256) == b"<a/>"
    assert not store.complete(job.id, claim.token, files, {})  # once


def test_an_expired_lease_is_claimed_again_and_the_old_claim_is_dead(store):
    job = submit(store).job
    old = store.claim("killed", lease=10)
    assert old is not None
    store.test_clock.advance(11)
    new = store.claim("alive", lease=10)
    assert new is not None and new.job.id == job.id and new.job.attempts == 2
    assert not store.renew(job.id, old.token)
    assert not store.complete(job.id, old.token, [("x", "text/plain", b"late")], {})
    assert store.complete(job.id, new.token, [("x", "text/plain", b"once")], {})
    assert [store.content(o.sha256) for o in store.outputs(job.id)] == [b"once"]


def test_a_job_whose_workers_keep_dying_fails_and_issues_nothing(store):
    job = submit(store, documents=["by-act.pdf"]).job
    for _ in range(MAX_ATTEMPTS):
        assert store.claim("dies", lease=1) is not None
        store.test_clock.advance(2)
    assert store.claim("next") is None
    failed = store.get(job.id)
    assert failed is not None and failed.state == JobState.FAILED and failed.error["type"].endswith("worker-lost")
    assert store.issued(job.id) == []


def test_release_and_delete(store):
    job = submit(store).job
    claim = store.claim("w")
    assert claim is not None
    with pytest.raises(JobBusy):
        store.delete(job.id)
    assert store.release(job.id, claim.token)
    assert store.get(job.id).state == JobState.QUEUED
    assert store.delete(job.id) is not None and store.get(job.id).state == JobState.CANCELLED
    assert store.claim("w") is None
    assert store.delete(job.id) is not None and store.get(job.id) is None
    assert store.delete(job.id) is None


def test_concurrent_claims_take_each_job_once(store):
    ids = {submit(store, f"k{n}", body=str(n).encode()).job.id for n in range(12)}
    taken: list[str] = []
    lock = threading.Lock()

    def worker(name: str) -> None:
        while (claim := store.claim(name)) is not None:
            with lock:
                taken.append(claim.job.id)

    threads = [threading.Thread(target=worker, args=(f"w{n}",)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(taken) == sorted(ids)
