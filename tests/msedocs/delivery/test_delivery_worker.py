"""Worker, portal client and portal stub together (stub in this process, worker in this process)."""

from __future__ import annotations

import datetime as dt
import json
import logging
import time
from collections.abc import Iterator

import httpx
import pytest

from msedocs.delivery import (
    Outbox,
    PortalClient,
    PortalConfig,
    PortalStub,
    RetryPolicy,
    Worker,
    WorkerConfig,
)
from msedocs.errors import InputError

from .conftest import FakeClock, extract_documents, portal_recipient

POLICY = RetryPolicy(max_attempts=3, base_delay=5, jitter=0, fallback_to_paper=False)


@pytest.fixture
def stub() -> Iterator[PortalStub]:
    with PortalStub() as s:
        yield s


def make_worker(ob: Outbox, stub: PortalStub, timeout: float = 5.0) -> Worker:
    client = PortalClient(PortalConfig(stub.url, timeout=timeout, connect_timeout=timeout))
    return Worker(ob, client, WorkerConfig(batch_size=4, lease=60, policy=POLICY), worker_id="test-worker")


def enqueue(ob: Outbox, n: int) -> list[int]:
    return [
        ob.enqueue(extract_documents(i), f"CASE-{i}", "portal", portal_recipient(i), dt.date(2025, 10, 31))
        for i in range(n)
    ]


def test_worker_delivers_everything_once(outbox: Outbox, stub: PortalStub) -> None:
    enqueue(outbox, 10)
    worker = make_worker(outbox, stub)
    stats = worker.run(once=True)
    worker.portal.close()
    assert stats.delivered == 10
    assert outbox.counts()["delivered"] == 10
    assert stub.stats() == {"deliveries": 10, "unique": 10, "duplicates": 0, "failed": 0, "probes": 0}


def test_failures_back_off_and_end_dead(outbox: Outbox, stub: PortalStub, clock: FakeClock) -> None:
    [item_id] = enqueue(outbox, 1)
    stub.configure(mode="fail")
    worker = make_worker(outbox, stub)
    worker.run(once=True)
    item = outbox.get(item_id)
    assert (item.state, item.last_reason) == ("retry_wait", "portal answered HTTP 503")
    worker.run(once=True)  # not due yet: nothing happens
    assert outbox.get(item_id).attempts == 1
    clock.advance(5.1)
    worker.run(once=True)
    assert outbox.get(item_id).state == "retry_wait"
    clock.advance(10.1)
    worker.run(once=True)
    assert outbox.get(item_id).state == "dead"
    stub.configure(mode="ok")
    outbox.retry(item_id)
    worker.run(once=True)
    worker.portal.close()
    assert outbox.get(item_id).state == "delivered"
    assert stub.stats()["unique"] == 1 and stub.stats()["duplicates"] == 0


def test_timeout_is_retried(outbox: Outbox, stub: PortalStub, clock: FakeClock) -> None:
    [item_id] = enqueue(outbox, 1)
    stub.configure(mode="timeout", hang=1.0)
    worker = make_worker(outbox, stub, timeout=0.2)
    worker.run(once=True)
    assert outbox.get(item_id).last_reason == "timeout: ReadTimeout"
    stub.configure(mode="ok")
    clock.advance(6)
    worker.run(once=True)
    worker.portal.close()
    assert outbox.get(item_id).state == "delivered"


def test_a_slow_answer_that_arrived_is_not_sent_again(outbox: Outbox, stub: PortalStub, clock: FakeClock) -> None:
    """The portal accepted the POST but answered after the client gave up: the next attempt
    asks the portal first and records the delivery without a second POST."""
    [item_id] = enqueue(outbox, 1)
    stub.configure(mode="slow", delay=0.5)
    worker = make_worker(outbox, stub, timeout=0.2)
    worker.run(once=True)
    assert outbox.get(item_id).state == "retry_wait"
    time.sleep(0.8)  # the stub records the POST after its delay
    stub.configure(mode="ok", delay=0.0)
    clock.advance(6)
    worker.run(once=True)
    worker.portal.close()
    assert outbox.get(item_id).state == "delivered"
    assert outbox.history(item_id)[-1].reason == "accepted by the portal"
    assert stub.stats() == {"deliveries": 1, "unique": 1, "duplicates": 0, "failed": 0, "probes": 1}


def test_payload_carries_no_personal_data_but_the_account(outbox: Outbox) -> None:
    item_id = outbox.enqueue(
        extract_documents(1),
        "CASE-1",
        "portal",
        portal_recipient(1, with_address=True),
        dt.date(2025, 10, 31),
    )
    [claim] = outbox.claim_due("w")
    body = json.loads(PortalClient.payload(claim.item, claim.documents))
    assert body["recipient"] == {"portal_account": "ACC-000001"}
    assert "Иванов" not in json.dumps(body, ensure_ascii=False)
    assert body["delivery_id"] == outbox.get(item_id).key
    assert [d["name"] for d in body["documents"]] == ["extract-1.xml"]


def test_stub_http_interface(stub: PortalStub) -> None:
    with httpx.Client(base_url=stub.url) as c:
        doc = {"documents": [{"name": "a"}]}
        assert c.post("/deliveries", json=doc).status_code == 400  # no key
        assert c.post("/deliveries", json=doc, headers={"Idempotency-Key": "k1"}).status_code == 201
        assert c.post("/deliveries", json=doc, headers={"Idempotency-Key": "k1"}).status_code == 200
        assert c.post("/deliveries", json={"documents": []}, headers={"Idempotency-Key": "k1"}).status_code == 409
        assert c.get("/deliveries/k1").json()["status"] == "accepted"
        assert c.get("/deliveries/k2").status_code == 404
        assert c.get("/stats").json() == {"deliveries": 3, "unique": 1, "duplicates": 2, "failed": 0, "probes": 2}
        assert c.post("/control", json={"mode": "fail", "fail_status": 502}).json()["mode"] == "fail"
        assert c.post("/deliveries", json=doc, headers={"Idempotency-Key": "k3"}).status_code == 502
        assert c.post("/control", json={"mode": "ok", "fail_next": 1}).status_code == 200
        assert c.post("/deliveries", json=doc, headers={"Idempotency-Key": "k3"}).status_code == 502
        assert c.post("/deliveries", json=doc, headers={"Idempotency-Key": "k3"}).status_code == 201
        assert c.post("/control", json={"mode": "sideways"}).status_code == 400
        assert c.post("/control", json={"reset": True}).status_code == 200
        assert c.get("/stats").json() == {"deliveries": 0, "unique": 0, "duplicates": 0, "failed": 0, "probes": 0}


def test_portal_config_is_checked(tmp_path: object) -> None:
    with pytest.raises(InputError):
        PortalConfig("ftp://portal")
    with pytest.raises(InputError):
        PortalConfig("https://portal", timeout=0)
    assert PortalConfig("https://portal", verify=False).ssl_context() is False
    assert PortalConfig("http://portal").ssl_context() is True


def test_an_item_that_may_have_arrived_does_not_fall_back_to_paper(
    outbox: Outbox, stub: PortalStub, clock: FakeClock
) -> None:
    item_id = outbox.enqueue(
        extract_documents(1), "CASE-1", "portal", portal_recipient(1, with_address=True), dt.date(2025, 10, 31)
    )
    policy = RetryPolicy(max_attempts=5, base_delay=1, jitter=0, fallback_after_attempts=1)
    client = PortalClient(PortalConfig(stub.url, timeout=0.2, connect_timeout=0.2))
    worker = Worker(outbox, client, WorkerConfig(batch_size=4, lease=60, policy=policy))
    stub.configure(mode="timeout", hang=0.5)
    worker.run(once=True)
    assert (outbox.get(item_id).channel, outbox.get(item_id).state) == ("portal", "retry_wait")
    stub.configure(mode="fail")  # the status check fails: the outcome is still unknown, no paper
    clock.advance(2)
    worker.run(once=True)
    client.close()
    item = outbox.get(item_id)
    assert (item.channel, item.state) == ("portal", "retry_wait")
    assert item.last_reason == "status check answered HTTP 503"


def test_a_dead_item_retried_by_hand_asks_the_portal_first(outbox: Outbox, stub: PortalStub) -> None:
    [item_id] = enqueue(outbox, 1)
    client = PortalClient(PortalConfig(stub.url, timeout=0.2, connect_timeout=0.2))
    worker = Worker(outbox, client, WorkerConfig(lease=60, policy=RetryPolicy(max_attempts=1)))
    stub.configure(mode="slow", delay=0.4)  # arrives, but the answer comes too late
    worker.run(once=True)
    assert outbox.get(item_id).state == "dead"
    time.sleep(0.8)
    stub.configure(mode="ok", delay=0.0)
    outbox.retry(item_id)
    worker.run(once=True)
    client.close()
    assert outbox.get(item_id).state == "delivered"
    assert stub.stats()["duplicates"] == 0 and stub.stats()["probes"] == 1


def test_logs_carry_ids_and_states_only(outbox: Outbox, stub: PortalStub, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG, logger="msedocs")
    recipient = portal_recipient(1, with_address=True)
    item_id = outbox.enqueue(extract_documents(1), "CASE-1", "portal", recipient, dt.date(2025, 10, 31))
    stub.configure(fail_next=1)
    worker = make_worker(outbox, stub)
    worker.run(once=True)
    worker.portal.close()
    assert f"item {item_id}: sending -> retry_wait" in caplog.text
    for secret in (recipient.name, recipient.portal_account, "Мясницкая", "101000", "CASE-1"):
        assert secret and secret not in caplog.text
