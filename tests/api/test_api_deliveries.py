"""GET /v1/deliveries, GET /v1/deliveries/{id}, POST /v1/deliveries/{id}/retry, deadlines: the
outbox (msedocs.delivery) over HTTP, scope deliver, never a recipient's data."""

from __future__ import annotations

import datetime as dt
import uuid

import pytest

from msedocs.delivery.models import OutboxDocument, Recipient, RetryPolicy
from msedocs.delivery.store import Outbox

from .conftest import auth
from .test_api_http import is_problem

RECIPIENT = Recipient(portal_account="ACC-SECRET-77", name="Ковалёў Пятро", postcode="220030",
                      address="вул. Тайная, 1")  # fmt: skip


@pytest.fixture
def outbox(service):
    with Outbox(service.config.db_url, create=True) as ob:
        yield ob


def queue(outbox: Outbox, decided: dt.date | None = None, channel: str = "portal") -> int:
    doc = OutboxDocument("ru-extract.pdf", b"%PDF-1.7 " + uuid.uuid4().bytes, "application/pdf")
    return outbox.enqueue([doc], f"CASE-{uuid.uuid4().hex[:8]}", channel, RECIPIENT,
                          decided or dt.date.today(), "RU")  # fmt: skip


def kill(outbox: Outbox, item_id: int) -> None:
    """The item's one attempt failed: dead."""
    claims = outbox.claim_due("test-worker", limit=1000)
    for claim in claims:
        if claim.item.id == item_id:
            outbox.mark_failed(item_id, "test-worker", "portal answered 500",
                               RetryPolicy(max_attempts=1, fallback_to_paper=False))  # fmt: skip
        else:
            outbox.release(claim.item.id, "test-worker")
    assert outbox.get(item_id).state == "dead", outbox.get(item_id)


def no_recipient(text: str) -> None:
    for secret in ("ACC-SECRET-77", "Ковалёў", "Тайная", "220030"):
        assert secret not in text


def test_list_by_status_with_deadlines_and_no_recipient(client, keys, outbox):
    late = queue(outbox, dt.date.today() - dt.timedelta(days=30))
    fresh = queue(outbox)
    answer = client.get("/v1/deliveries", params={"status": "queued", "limit": 1000}, headers=auth(keys["deliver"]))
    assert answer.status_code == 200, answer.text
    no_recipient(answer.text)
    body = answer.json()
    by_id = {i["id"]: i for i in body["items"]}
    assert {late, fresh} <= by_id.keys() and all(i["state"] == "queued" for i in body["items"])
    assert by_id[late]["deadline"]["overdue"] is True and by_id[late]["deadline"]["working_days_left"] < 0
    assert by_id[fresh]["deadline"]["overdue"] is False and by_id[fresh]["deadline"]["working_days_left"] >= 0
    assert body["counts"]["queued"] >= 2 and set(body["counts"]) >= {"dead", "delivered"}
    none = client.get("/v1/deliveries", params={"status": "returned"}, headers=auth(keys["deliver"])).json()
    assert all(i["state"] == "returned" for i in none["items"])
    problem = is_problem(client.get("/v1/deliveries", params={"status": "lost"}, headers=auth(keys["deliver"])),
                         422, "invalid-request")  # fmt: skip
    assert problem["errors"][0]["path"] == "status"
    is_problem(client.get("/v1/deliveries", params={"limit": 0}, headers=auth(keys["deliver"])), 422,
               "invalid-request")  # fmt: skip


def test_one_delivery_with_documents_and_history(client, keys, outbox):
    item = queue(outbox)
    answer = client.get(f"/v1/deliveries/{item}", headers=auth(keys["deliver"]))
    assert answer.status_code == 200, answer.text
    no_recipient(answer.text)
    body = answer.json()
    assert body["id"] == item and body["channel"] == "portal" and body["deadline"]["due_date"] == body["due_date"]
    (doc,) = body["documents"]
    assert doc["name"] == "ru-extract.pdf" and len(doc["sha256"]) == 64 and "content" not in doc
    assert body["history"][0]["to_state"] == "queued"
    is_problem(client.get("/v1/deliveries/999999999", headers=auth(keys["deliver"])), 404, "not-found")


def test_retry_a_dead_delivery_and_refuse_others(client, keys, outbox):
    item = queue(outbox)
    kill(outbox, item)
    dead = client.get("/v1/deliveries", params={"status": "dead", "limit": 1000}, headers=auth(keys["deliver"]))
    assert item in [i["id"] for i in dead.json()["items"]]
    answer = client.post(f"/v1/deliveries/{item}/retry", headers=auth(keys["deliver"]))
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["state"] == "queued" and body["attempts"] == 0
    assert body["history"][-1]["reason"].startswith("retry requested over the HTTP API")
    is_problem(client.post(f"/v1/deliveries/{item}/retry", headers=auth(keys["deliver"])), 409, "delivery-state")
    is_problem(client.post("/v1/deliveries/999999999/retry", headers=auth(keys["deliver"])), 404, "not-found")


def test_deadline_report(client, keys, outbox):
    late = queue(outbox, dt.date.today() - dt.timedelta(days=30))
    answer = client.get("/v1/deliveries/deadlines", headers=auth(keys["deliver"]))
    assert answer.status_code == 200, answer.text
    no_recipient(answer.text)
    assert late in [i["id"] for i in answer.json()["overdue"]]
    past = client.get("/v1/deliveries/deadlines", params={"date": "2000-01-01"}, headers=auth(keys["deliver"]))
    assert late in [i["id"] for i in past.json()["due"]]
    is_problem(client.get("/v1/deliveries/deadlines", params={"date": "soon"}, headers=auth(keys["deliver"])), 422,
               "invalid-request")  # fmt: skip


@pytest.mark.parametrize("path", ["/v1/deliveries", "/v1/deliveries/1", "/v1/deliveries/deadlines"])
def test_deliveries_need_the_scope_deliver(client, keys, path):
    is_problem(client.get(path, headers=auth(keys["render"])), 403, "forbidden")
    is_problem(client.get(path), 401, "unauthorized")
    is_problem(client.post("/v1/deliveries/1/retry", headers=auth(keys["signer"])), 403, "forbidden")
