"""Callbacks: a job's events POSTed to its callback_url, signed (Standard Webhooks), retried with
backoff from the store, against a real HTTP receiver on 127.0.0.1 that fails the first attempts."""

from __future__ import annotations

import dataclasses
import json
import random
import time
import uuid

import httpx
import pytest

from msedocs.api import callbacks
from msedocs.api.callbacks import CallbackPolicy, CallbackSender
from msedocs.api.store import JobStore

from .conftest import auth
from .test_api_http import is_problem, post_render, unique, wait_job
from .test_api_store import Clock


def secret_of(client, token: str) -> str:
    answer = client.get("/v1/callbacks/secret", headers=auth(token))
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["secret"].startswith("whsec_") and "webhook-signature" in body["headers"]
    return str(body["secret"])


def wait_callbacks(client, token: str, location: str, state: str, timeout: float = 60) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        status = client.get(location, headers=auth(token)).json()
        if status["callbacks"] and all(c["state"] == state for c in status["callbacks"]):
            return status
        time.sleep(0.1)
    raise AssertionError(f"callbacks of {location} not {state}: {status['callbacks']}")


def test_job_succeeded_is_posted_signed_and_retried_until_accepted(client, keys, receiver):
    hooks = receiver(fail=2)
    body = {"case": unique(), "forms": ["by-act"], "formats": ["xml"], "callback_url": hooks.url}
    answer = post_render(client, keys["render"], body, Prefer="respond-async")
    assert answer.status_code == 202, answer.text
    location = answer.headers["location"]
    got = hooks.wait(3)
    status = wait_callbacks(client, keys["render"], location, "delivered")
    (sent,) = status["callbacks"]
    assert sent["event"] == "job.succeeded" and sent["attempts"] == 3 and sent["last_status"] == 204
    secret = secret_of(client, keys["render"])
    ids = {headers["webhook-id"] for _, headers, _ in got}
    assert ids == {sent["id"]}  # one event: the same id on every attempt, for the receiver to drop repeats
    for _, headers, raw in got:
        assert headers["content-type"] == "application/json"
        assert callbacks.verify(secret, headers, raw)
        assert not callbacks.verify(secret, headers, raw + b" ")
        assert not callbacks.verify(secret_of(client, keys["other"]), headers, raw)
    event = json.loads(got[-1][2])
    assert event["type"] == "job.succeeded" and event["id"] == sent["id"]
    assert event["data"]["id"] == status["id"] and event["data"]["state"] == "succeeded"
    assert event["data"]["href"] == location
    assert [o["name"] for o in event["data"]["outputs"]] == ["by-act.xml"]
    assert event["data"]["outputs"][0]["sha256"] == status["outputs"][0]["sha256"]
    assert "patient" not in got[-1][2].decode() and body["case"]["case_id"] == event["data"]["case_id"]
    # the attempts came apart: each after a backoff
    gaps = [b[0] - a[0] for a, b in zip(got, got[1:], strict=False)]
    assert all(g >= 0.09 for g in gaps), gaps


def test_job_failed_is_posted_with_its_problem(client, keys, service, monkeypatch, tmp_path, receiver):
    hooks = receiver(fail=1, drop=True)  # the first attempt gets no answer at all
    broken = tmp_path / "signing.toml"
    broken.write_text("[signing]\nlevel = 'nonsense'\n")
    monkeypatch.setattr(service, "config", dataclasses.replace(service.config, signing_config=str(broken)))
    body = {"case": unique(), "forms": ["by-act"], "formats": ["xml"], "callback_url": hooks.url,
            "sign": {"level": "B-B", "profile": "configured"}}  # fmt: skip
    answer = post_render(client, keys["signer"], body)  # synchronous: the runner keeps its own config
    assert answer.status_code == 422, answer.text
    got = hooks.wait(2)
    event = json.loads(got[-1][2])
    assert event["type"] == "job.failed" and event["data"]["state"] == "failed"
    assert event["data"]["error"]["type"] == "/v1/problems/invalid-input" and "outputs" not in event["data"]
    status = wait_callbacks(client, keys["signer"], answer.headers["location"], "delivered")
    assert status["callbacks"][0]["attempts"] == 2 and status["callbacks"][0]["event"] == "job.failed"


def test_polling_works_without_a_callback_and_with_a_dead_receiver(client, keys, receiver):
    plain = post_render(client, keys["render"], {"case": unique(), "forms": ["by-act"], "formats": ["xml"]},
                        Prefer="respond-async")  # fmt: skip
    status = wait_job(client, keys["render"], plain.headers["location"])
    assert status["state"] == "succeeded" and status["callbacks"] == []
    hooks = receiver(fail=100)
    body = {"case": unique(), "forms": ["by-act"], "formats": ["xml"], "callback_url": hooks.url}
    answer = post_render(client, keys["render"], body, Prefer="respond-async")
    status = wait_callbacks(client, keys["render"], answer.headers["location"], "failed")
    assert status["state"] == "succeeded" and status["callbacks"][0]["attempts"] == 4  # FAST_CALLBACKS' max
    assert status["callbacks"][0]["last_status"] == 500 and len(hooks.received) == 4
    assert client.get(status["outputs"][0]["href"], headers=auth(keys["render"])).status_code == 200


def test_callback_url_is_checked_and_part_of_the_idempotent_body(client, keys):
    for bad in ("ftp://example.org/x", "not a url", "http://", "http://user:pw@host/x", "h" * 2100):
        body = {"case": unique(), "forms": ["by-act"], "formats": ["xml"], "callback_url": bad}
        problem = is_problem(post_render(client, keys["render"], body), 422, "invalid-request")
        assert problem["errors"][0]["path"] == "callback_url"
    key = uuid.uuid4().hex
    body = {"case": unique(), "forms": ["by-act"], "formats": ["xml"], "callback_url": "http://127.0.0.1:9/a"}
    assert post_render(client, keys["render"], body, key, Prefer="respond-async").status_code == 202
    other = dict(body, callback_url="http://127.0.0.1:9/b")
    is_problem(post_render(client, keys["render"], other, key, Prefer="respond-async"), 409, "idempotency-key-reused")


def test_backoff_is_exponential_capped_and_jittered():
    policy = CallbackPolicy(base_delay=5, max_delay=60, jitter=0.5)
    rng = random.Random(7)
    for attempts, raw in ((1, 5), (2, 10), (3, 20), (4, 40), (5, 60), (9, 60)):
        delays = [policy.delay(attempts, rng) for _ in range(200)]
        assert all(raw / 2 <= d <= raw for d in delays) and max(delays) - min(delays) > raw / 4
    assert CallbackPolicy(jitter=0).delay(3) == 20


def test_signature_is_standard_webhooks():
    # the example of the Standard Webhooks specification
    secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
    body = b'{"test": 2432232314}'
    assert callbacks.sign(secret, "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, body) == (
        "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
    )
    headers = callbacks.headers(secret, "msg_1", body, now=1_000_000)
    assert callbacks.verify(secret, headers, body, now=1_000_100)
    assert not callbacks.verify(secret, headers, body, now=1_000_000 + 301)  # too old: a replay


def _finished_job_with_callback(store: JobStore, url: str) -> str:
    key, _ = store.create_key("cb", ["render"])
    submitted = store.submit(key.id, uuid.uuid4().hex, b"{}", case_id="C-1", respond_async=True, callback_url=url)
    claim = store.claim("w1", lease=60)
    assert claim is not None and claim.job.id == submitted.job.id
    assert store.complete(claim.job.id, claim.token, [("a.xml", "application/xml", b"<a/>")], {"files": []})
    return submitted.job.id


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_callbacks_survive_a_restart_and_a_killed_sender(backend, tmp_path, receiver, request):
    """The event is in the store from the moment the job finished: a sender that claimed it and
    died is replaced when its lease runs out, by a sender of another process (a new store)."""
    url = f"sqlite:///{tmp_path / 'store.sqlite3'}" if backend == "sqlite" else request.getfixturevalue("fresh_pg")
    hooks = receiver()
    clock = Clock()
    with JobStore(url, clock=clock) as first:
        job_id = _finished_job_with_callback(first, hooks.url)
        (claimed,) = first.claim_callbacks("dead-sender", lease=30)  # claimed, then the process died
        assert first.claim_callbacks("other") == []  # held by its lease
        secret = first.callback_secret(claimed.key_id)
    clock.advance(31)
    with JobStore(url, clock=clock) as second:  # a restarted service
        sender = CallbackSender(second, "new-sender", CallbackPolicy(poll=0.05))
        with httpx.Client() as http:
            assert sender.run_once(http) == 1
        (status,) = second.callbacks_of(job_id)
        assert status.state == "delivered" and status.attempts == 1
        assert not second.callback_sent(claimed.id, "dead-sender", 200)  # the dead sender's claim is gone
    ((_, headers, raw),) = hooks.wait(1)
    assert callbacks.verify(secret, headers, raw) and headers["webhook-id"] == claimed.id


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_callback_retries_are_scheduled_in_the_store(backend, tmp_path, receiver, request):
    url = f"sqlite:///{tmp_path / 'store.sqlite3'}" if backend == "sqlite" else request.getfixturevalue("fresh_pg")
    hooks = receiver(fail=2)
    clock = Clock()
    policy = CallbackPolicy(max_attempts=3, base_delay=10, jitter=0)
    with JobStore(url, clock=clock) as store, httpx.Client() as http:
        job_id = _finished_job_with_callback(store, hooks.url)
        sender = CallbackSender(store, "s", policy)
        assert sender.run_once(http) == 1
        (status,) = store.callbacks_of(job_id)
        assert status.state == "pending" and status.attempts == 1 and status.last_status == 500
        assert status.next_attempt_at == clock.now + dt_seconds(10)
        clock.advance(9)
        assert sender.run_once(http) == 0  # not due yet
        clock.advance(1)
        assert sender.run_once(http) == 1
        assert store.callbacks_of(job_id)[0].next_attempt_at == clock.now + dt_seconds(20)
        clock.advance(20)
        assert sender.run_once(http) == 1
        assert store.callbacks_of(job_id)[0].state == "delivered"
        assert len(hooks.received) == 3


def dt_seconds(n: float):
    import datetime as dt

    return dt.timedelta(seconds=n)


def test_register_jobs_take_a_callback_url_too(client, keys, receiver):
    from .test_api_registers import jsonl, post, session_cases

    hooks = receiver(fail=1)
    params = {"journal": "by-journal-protocols", "from": "2026-01-01", "to": "2026-12-31", "formats": "xml",
              "callback_url": hooks.url}  # fmt: skip
    answer = post(client, "/v1/journals", keys["render"], jsonl(session_cases(2)), params=params)
    assert answer.status_code == 202, answer.text
    event = json.loads(hooks.wait(2)[-1][2])
    assert event["type"] == "job.succeeded" and event["data"]["kind"] == "journal"
    assert event["data"]["outputs"][0]["name"] == "by-journal-protocols.xml" and event["data"]["case_id"] is None


def test_callback_hosts_can_be_limited(client, keys, service, monkeypatch):
    allowed = ("*.his.by", "127.0.0.1")
    monkeypatch.setattr(service, "config", dataclasses.replace(service.config, callback_hosts=allowed))
    body = {"case": unique(), "forms": ["by-act"], "formats": ["xml"], "callback_url": "http://10.1.2.3/hooks"}
    problem = is_problem(post_render(client, keys["render"], body, Prefer="respond-async"), 422, "invalid-request")
    assert problem["errors"][0]["path"] == "callback_url"
    again = dict(body, case=unique(), callback_url="http://127.0.0.1:9/x")
    answer = post_render(client, keys["render"], again, Prefer="respond-async")
    assert answer.status_code == 202, answer.text
    from msedocs.api.app import _check_callback

    _check_callback(service, "https://minsk.his.by/hooks")  # a wildcard's host (no job: nothing leaves the machine)
    with pytest.raises(Exception, match="callbacks may not go"):
        _check_callback(service, "https://his.by.evil.example/hooks")
    metrics = client.get("/metrics", headers=auth(keys["admin"])).text
    assert 'msedocs_callbacks{state="delivered"}' in metrics


def test_two_senders_never_claim_the_same_callback(fresh_pg, receiver):
    """Senders of several processes claim at once (FOR UPDATE SKIP LOCKED): no callback twice."""
    import threading

    hooks = receiver()
    stores = [JobStore(fresh_pg) for _ in range(4)]
    try:
        for _ in range(3):
            for _ in range(8):
                _finished_job_with_callback(stores[0], hooks.url)
            barrier = threading.Barrier(len(stores))
            claimed: list[list[str]] = [[] for _ in stores]

            def claim(n: int, barrier: threading.Barrier, claimed: list[list[str]]) -> None:
                barrier.wait()
                claimed[n] = [c.id for c in stores[n].claim_callbacks(f"sender-{n}", limit=8)]

            threads = [threading.Thread(target=claim, args=(n, barrier, claimed)) for n in range(len(stores))]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join()
            every = [i for ids in claimed for i in ids]
            assert len(every) == len(set(every)) == 8, claimed
            for n, ids in enumerate(claimed):
                for callback_id in ids:
                    stores[n].callback_sent(callback_id, f"sender-{n}", 204)
    finally:
        for store in stores:
            store.close()
