"""The outbox's state machine on SQLite and PostgreSQL."""

from __future__ import annotations

import datetime as dt
import random
import threading

import pytest
import sqlalchemy as sa

from msedocs.delivery import (
    AlreadyQueuedError,
    Channel,
    EnqueueRequest,
    InvalidTransitionError,
    Outbox,
    OutboxDocument,
    RetryPolicy,
    State,
    TrackingRange,
)
from msedocs.delivery import schema as t
from msedocs.errors import InputError

from .conftest import SMALL_PDF, FakeClock, extract_documents, portal_recipient, postal_recipient

NO_FALLBACK = RetryPolicy(max_attempts=3, base_delay=10, max_delay=100, jitter=0.5, fallback_to_paper=False)


def enqueue_portal(ob: Outbox, n: int = 1, with_address: bool = False) -> int:
    recipient = portal_recipient(n, with_address=with_address)
    return ob.enqueue(extract_documents(n), f"CASE-{n}", "portal", recipient, dt.date(2025, 10, 31))


def test_enqueue_stores_documents_due_date_and_history(outbox: Outbox) -> None:
    item_id = enqueue_portal(outbox, with_address=True)  # with a paper fall-back: the paper variant is kept
    item = outbox.get(item_id)
    assert (item.state, item.channel, item.country, item.attempts) == ("queued", "portal", "RU", 0)
    assert item.due_date == dt.date(2025, 11, 6)
    assert len(item.key) == 32
    docs = outbox.documents(item_id)
    assert [(d.name, d.role) for d in docs] == [("extract-1.xml", "electronic"), ("extract-1.pdf", "paper")]
    assert docs[1].content == SMALL_PDF
    assert [(h.from_state, h.to_state, h.reason) for h in outbox.history(item_id)] == [(None, "queued", "enqueued")]
    # Belarusian deadline by the Belarusian calendar
    by = outbox.enqueue(extract_documents(2), "CASE-2", "post", postal_recipient(), dt.date(2025, 1, 10), "BY")
    assert outbox.get(by).due_date == dt.date(2025, 1, 14)


def test_same_document_is_stored_once(outbox: Outbox) -> None:
    for n in range(3):
        outbox.enqueue(
            [OutboxDocument("same.pdf", SMALL_PDF)], f"C{n}", "portal", portal_recipient(n), dt.date(2025, 11, 5)
        )
    with outbox.engine.connect() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(t.blobs)).scalar() == 1
        assert conn.execute(sa.select(sa.func.count()).select_from(t.documents)).scalar() == 3


def test_enqueue_checks_its_input(outbox: Outbox) -> None:
    d = dt.date(2025, 11, 5)
    with pytest.raises(InputError, match="portal_account"):
        outbox.enqueue(extract_documents(), "C", "portal", postal_recipient(), d)
    with pytest.raises(InputError, match="registered mail"):
        outbox.enqueue(extract_documents(), "C", "post", portal_recipient(), d)
    with pytest.raises(InputError, match="at least one document"):
        outbox.enqueue([], "C", "portal", portal_recipient(), d)
    with pytest.raises(InputError, match="channel"):
        outbox.enqueue(extract_documents(), "C", "fax", portal_recipient(), d)
    auto_paper = outbox.enqueue(extract_documents(), "C-1", "auto", postal_recipient(), d)
    auto_portal = outbox.enqueue(extract_documents(), "C-2", "auto", portal_recipient(), d)
    assert outbox.get(auto_paper).channel == Channel.POST
    assert outbox.get(auto_portal).channel == Channel.PORTAL
    assert outbox.counts()["queued"] == 2


def test_a_document_of_a_case_is_issued_once(outbox: Outbox) -> None:
    """Queueing a case's document again (a second `render --queue`, a retried API call) is refused
    whatever the channel: the same extract would otherwise go out twice."""
    d = dt.date(2025, 11, 5)
    first = outbox.enqueue(extract_documents(1), "C-1", "portal", portal_recipient(1), d)
    for channel, recipient in (("portal", portal_recipient(1)), ("post", postal_recipient(1))):
        with pytest.raises(AlreadyQueuedError, match=rf"case C-1: already in the outbox: .*\(item {first}\)") as info:
            outbox.enqueue(extract_documents(1), "C-1", channel, recipient, d)
        assert info.value.exit_code == 2 and {item for _, item in info.value.clashes} == {first}
    # all or none: a batch with one document already issued queues nothing
    batch = [
        EnqueueRequest(extract_documents(2), "C-2", "portal", portal_recipient(2), d),
        EnqueueRequest(extract_documents(1), "C-1", "portal", portal_recipient(1), d),
    ]
    with pytest.raises(AlreadyQueuedError):
        outbox.enqueue_many(batch)
    assert outbox.counts()["queued"] == 1
    assert outbox.issued("C-2", ["extract-2.xml"]) == []
    # the same document name in another case is another document
    other = outbox.enqueue(extract_documents(1), "C-3", "portal", portal_recipient(1), d)
    assert outbox.issued("C-3", [doc.name for doc in extract_documents(1)]) != []
    assert other != first and outbox.counts()["queued"] == 2


def test_claim_deliver_and_history(outbox: Outbox, clock: FakeClock) -> None:
    ids = [enqueue_portal(outbox, n) for n in range(5)]
    outbox.enqueue(extract_documents(9), "C9", "post", postal_recipient(), dt.date(2025, 10, 31))
    claims = outbox.claim_due("w1", limit=3)
    assert [c.item.id for c in claims] == ids[:3]
    assert all(c.item.state == "sending" and c.item.attempts == 1 for c in claims)
    assert [d.role for d in claims[0].documents] == ["electronic"]  # the paper variant is not sent
    assert outbox.mark_delivered(ids[0], "w1")
    assert not outbox.mark_delivered(ids[0], "w1")  # already delivered: nothing happens twice
    assert not outbox.mark_delivered(ids[1], "someone-else")  # not his claim
    assert outbox.mark_delivered_many([ids[1], ids[2]], "w1") == [ids[1], ids[2]]
    rest = outbox.claim_due("w2", limit=10)
    assert [c.item.id for c in rest] == ids[3:]  # the postal item is not a worker's business
    assert outbox.claim_due("w3") == []
    hist = outbox.history(ids[0])
    assert [(h.from_state, h.to_state, h.worker) for h in hist] == [
        (None, "queued", None),
        ("queued", "sending", "w1"),
        ("sending", "delivered", "w1"),
    ]
    assert all(h.at == clock.now for h in hist)
    counts = outbox.counts()
    assert counts["delivered"] == 3 and counts["sending"] == 2 and counts["queued"] == 1
    assert set(counts) == set(State.ALL)


def test_expired_lease_is_claimed_again(outbox: Outbox, clock: FakeClock) -> None:
    item_id = enqueue_portal(outbox)
    assert len(outbox.claim_due("dead-worker", lease=30)) == 1
    clock.advance(29)
    assert outbox.claim_due("w2") == []
    clock.advance(2)
    [again] = outbox.claim_due("w2")
    assert again.item.id == item_id and again.item.attempts == 2 and again.item.claimed_by == "w2"
    assert not outbox.mark_delivered(item_id, "dead-worker")  # the old claim is void
    assert outbox.mark_delivered(item_id, "w2")
    assert outbox.history(item_id)[2].reason == "reclaimed after its lease ran out"


def test_backoff_then_dead(outbox: Outbox, clock: FakeClock) -> None:
    item_id = enqueue_portal(outbox)
    waits = []
    for attempt in (1, 2):
        [c] = outbox.claim_due("w")
        assert c.item.attempts == attempt
        assert outbox.mark_failed(item_id, "w", "portal answered HTTP 503", NO_FALLBACK) == "retry_wait"
        item = outbox.get(item_id)
        wait = (item.next_attempt_at - clock.now).total_seconds()
        raw = 10 * 2 ** (attempt - 1)
        assert raw * 0.5 <= wait <= raw  # exponential, with up to half of it drawn at random
        waits.append(wait)
        assert outbox.claim_due("w") == []  # not before its time
        clock.advance(wait + 0.001)
    [c] = outbox.claim_due("w")
    assert outbox.mark_failed(item_id, "w", "portal answered HTTP 502", NO_FALLBACK) == "dead"
    item = outbox.get(item_id)
    assert (item.state, item.attempts, item.last_reason) == ("dead", 3, "portal answered HTTP 502")
    assert [i.id for i in outbox.dead()] == [item_id]
    clock.advance(10**6)
    assert outbox.claim_due("w") == []
    # queue retry ID: attempts start over
    assert outbox.retry(item_id).state == "queued"
    [c] = outbox.claim_due("w")
    assert c.item.attempts == 1
    states = [h.to_state for h in outbox.history(item_id)]
    assert states == [
        "queued",
        "sending",
        "retry_wait",
        "sending",
        "retry_wait",
        "sending",
        "dead",
        "queued",
        "sending",
    ]


def test_permanent_failure_goes_dead_at_once(outbox: Outbox) -> None:
    item_id = enqueue_portal(outbox)
    outbox.claim_due("w")
    assert outbox.mark_failed(item_id, "w", "portal answered HTTP 400", NO_FALLBACK, permanent=True) == "dead"


def test_jitter_spreads_retries() -> None:
    policy = RetryPolicy(base_delay=10, max_delay=60, jitter=1.0)
    rng = random.Random(1)
    delays = {round(policy.delay(3, rng), 3) for _ in range(20)}
    assert len(delays) > 15 and all(0 <= d <= 40 for d in delays)
    assert RetryPolicy(base_delay=10, max_delay=60, jitter=0).delay(10) == 60


def test_failing_portal_item_falls_back_to_paper(outbox: Outbox, clock: FakeClock) -> None:
    policy = RetryPolicy(max_attempts=8, base_delay=1, fallback_after_attempts=2, fallback_margin_days=0)
    clock.now = dt.datetime(2025, 11, 1, 9, 0)  # due 6 November: time enough
    with_address = enqueue_portal(outbox, 1, with_address=True)
    without = enqueue_portal(outbox, 2)
    for _ in range(2):
        outbox.claim_due("w", limit=10)
        outbox.mark_failed(with_address, "w", "timeout: ReadTimeout", policy)
        outbox.mark_failed(without, "w", "timeout: ReadTimeout", policy)
        clock.advance(10)
    a, b = outbox.get(with_address), outbox.get(without)
    assert (a.channel, a.state) == ("post", "queued")  # second failure: on paper now
    assert (b.channel, b.state) == ("portal", "retry_wait")  # no address to send paper to
    assert "falling back to registered mail" in outbox.history(with_address)[-1].reason
    # near the deadline the first failure is enough
    clock.now = dt.datetime(2025, 11, 6, 9, 0)
    late = enqueue_portal(outbox, 3, with_address=True)
    outbox.claim_due("w", limit=10)
    edge = RetryPolicy(fallback_after_attempts=5, fallback_margin_days=1)
    assert outbox.mark_failed(late, "w", "portal answered HTTP 503", edge) == "queued"
    assert outbox.get(late).channel == "post"


def test_invalid_transitions_are_refused(outbox: Outbox) -> None:
    item_id = enqueue_portal(outbox)
    with pytest.raises(InvalidTransitionError):
        outbox.retry(item_id)  # queued: nothing to retry
    assert outbox.mark_failed(item_id, "w", "x") is None  # not claimed
    outbox.claim_due("w")
    assert outbox.release(item_id, "w")
    item = outbox.get(item_id)
    assert (item.state, item.attempts) == ("queued", 0)
    with pytest.raises(InputError, match="no such item"):
        outbox.get(999_999)


def test_concurrent_claims_never_overlap(db_url: str) -> None:
    with Outbox(db_url) as ob:
        ids = [enqueue_portal(ob, n) for n in range(120)]
    claimed: list[int] = []
    lock = threading.Lock()

    def work(name: str) -> None:
        with Outbox(db_url) as mine:
            while claims := mine.claim_due(name, limit=7):
                with lock:
                    claimed.extend(c.item.id for c in claims)
                mine.mark_delivered_many([c.item.id for c in claims], name)

    threads = [threading.Thread(target=work, args=(f"w{i}",)) for i in range(4)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    assert sorted(claimed) == ids
    with Outbox(db_url) as ob:
        assert ob.counts()["delivered"] == 120


def test_postal_states_and_deadlines(outbox: Outbox, clock: FakeClock) -> None:
    outbox.add_tracking_range(TrackingRange("101000", 11, 1, 99))
    on_time = outbox.enqueue(extract_documents(1), "P1", "post", postal_recipient(1), dt.date(2025, 10, 31))
    returned = outbox.enqueue(extract_documents(2), "P2", "post", postal_recipient(2), dt.date(2025, 10, 31))
    portal_late = enqueue_portal(outbox, 3)
    portal_open = outbox.enqueue(extract_documents(4), "C4", "portal", portal_recipient(4), dt.date(2025, 11, 5))
    batch = outbox.prepare_postal_batch(dt.date(2025, 11, 5))
    assert batch is not None and [i.id for i in batch.items] == [on_time, returned]
    assert [i.tracking_number for i in batch.items] == ["10100011000017", "10100011000024"]
    assert outbox.prepare_postal_batch(dt.date(2025, 11, 5)) is None
    assert outbox.postal_lists(dt.date(2025, 11, 5)) == [batch.number]
    outbox.mark_handed_over("10100011000017", dt.date(2025, 11, 5))
    outbox.mark_handed_over("10100011000024", dt.date(2025, 11, 7))
    with pytest.raises(InvalidTransitionError):
        outbox.mark_handed_over("10100011000024", dt.date(2025, 11, 7))
    outbox.mark_post_outcome("10100011000017", "delivered", dt.date(2025, 11, 10))
    outbox.mark_post_outcome("10100011000024", "returned", dt.date(2025, 11, 20), "addressee unknown")
    assert outbox.get(returned).state == "returned"
    clock.now = dt.datetime(2025, 11, 7, 12, 0)
    outbox.claim_due("w")
    outbox.mark_delivered(portal_late, "w")
    report = outbox.deadline_report(dt.date(2025, 11, 10))
    assert [i.id for i in report.due] == [portal_open]  # due 10 Nov (RU: 6, 7, 10)
    assert report.overdue == []
    assert sorted(i.id for i in report.delivered_late) == [returned, portal_late]
    later = outbox.deadline_report(dt.date(2025, 11, 11))
    assert [i.id for i in later.overdue] == [portal_open]
    as_json = later.to_json()
    assert as_json["overdue"][0]["id"] == portal_open
    assert "recipient" not in as_json["overdue"][0]
    # a returned letter can be queued again; it gets a new tracking number on the next list
    outbox.retry(returned)
    again = outbox.prepare_postal_batch(dt.date(2025, 11, 21))
    assert again is not None and again.items[0].tracking_number == "10100011000031"
