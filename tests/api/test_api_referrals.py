"""Referrals (order 692n) on the HTTP service: /v1/referrals, decisions, reveal, erasure, the KEK's
rotation, /v1/bureaus, /v1/audit; each test on SQLite and on PostgreSQL.

SQLite: a TestClient over the session's service with a referral store of its own (a KEK and an
audit key made here) in the service's database. PostgreSQL: a real ``msedocs serve`` subprocess
on 127.0.0.1 over the test database (its referral tables dropped first), given the same kind of
KEK, audit key and witness through the environment, and an httpx client; the test process opens
the same database to make keys and bureaus and to read the audit log. The СЭМД documents are made
by msedocs.referrals.synth and validated against the official package at ``../shared/semd`` (or
``MSEDOCS_SEMD_DIR``); where it is absent the tests that need it are skipped loudly, and fail under
``CI=true``.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import os
import random
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from fastapi.testclient import TestClient

from msedocs.api.app import create_app
from msedocs.api.referrals import configure
from msedocs.api.store import JobStore
from msedocs.privacy.audit import load_or_create_key
from msedocs.privacy.kek import FileKek
from msedocs.referrals import cda, decisions, semd, synth
from msedocs.referrals.store import ReferralStore, prepare
from tests.msedocs.privacy.support import SEMD_DIR, official_package
from tests.msedocs.privacy.support import add_bureaus as add_main_bureaus

from .conftest import API_TABLES, CASES, Serve, auth

PROBLEM = "application/problem+json"
GB_KEYS = {f"gb{i}": Ed25519PrivateKey.generate() for i in range(1, 4)}


@pytest.fixture(scope="module")
def semd_pkg() -> semd.Package:
    return official_package()


def add_bureaus(store: ReferralStore) -> None:
    add_main_bureaus(store, GB_KEYS)


def make_keys(jobs: JobStore) -> dict[str, str]:
    return {name: jobs.create_key(name, scopes)[1] for name, scopes in {
        "intake": ["referrals"], "admin": ["admin"], "render": ["render"],
        "delivery": ["referrals", "deliver"]}.items()}  # fmt: skip


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def env(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    folder = tmp_path_factory.mktemp(f"referrals-{request.param}")
    os.environ.setdefault("MSEDOCS_CACHE_DIR", str(folder / "cache"))
    audit_key = load_or_create_key(folder / "audit.pem")
    kek = FileKek.create(folder / "kek.bin")
    if request.param == "sqlite":
        service = request.getfixturevalue("service")
        app = create_app(service.config, service=service)
        store = ReferralStore(service.config.db_url, kek=kek, audit_key=audit_key,
                              audit_witness=folder / "witness.jsonl", create=True)  # fmt: skip
        add_bureaus(store)
        configure(app, store, str(SEMD_DIR))
        with TestClient(app) as client:
            yield {"client": client, "store": store, "keys": make_keys(service.store), "jobs": service.store,
                   "kek": kek, "folder": folder, "logs": lambda caplog: caplog.text}  # fmt: skip
        store.close()
        return
    yield from _on_postgresql(request.getfixturevalue("pg_url"), folder, kek, audit_key)


def _on_postgresql(url: str, folder: Path, kek: FileKek, audit_key: Ed25519PrivateKey) -> Iterator[dict[str, Any]]:
    import sqlalchemy as sa

    from msedocs.referrals import schema as rt

    engine = sa.create_engine(url)
    with engine.begin() as conn:  # this module's referral tables afresh; the keys' with them
        rt.metadata.drop_all(conn)
        conn.execute(sa.text("DROP TABLE IF EXISTS referrals_alembic_version"))
        for table in API_TABLES:
            conn.execute(sa.text(f"DROP TABLE IF EXISTS {table} CASCADE"))
    engine.dispose()
    jobs = JobStore(url)
    store = ReferralStore(url, kek=kek, audit_key=audit_key, audit_witness=folder / "witness.jsonl", create=True)
    add_bureaus(store)
    server_env = {"MSEDOCS_KEK_SPEC": f"file:{folder / 'kek.bin'}", "MSEDOCS_AUDIT_KEY": str(folder / "audit.pem"),
                  "MSEDOCS_AUDIT_WITNESS": str(folder / "witness.jsonl"),
                  "MSEDOCS_SEMD_DIR": str(SEMD_DIR)}  # fmt: skip
    saved = {k: os.environ.get(k) for k in server_env}
    os.environ.update(server_env)
    try:
        server = Serve(folder, "--db", url, "--data", str(folder / "data"), "--workers", "1", "--no-jobs")
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
    try:
        server.wait_ready()
        with httpx.Client(base_url=server.url, timeout=60) as client:
            yield {"client": client, "store": store, "keys": make_keys(jobs), "jobs": jobs, "kek": kek,
                   "folder": folder, "url": url, "server": server,
                   "logs": lambda _caplog: Path(server.log.name).read_text(errors="replace")}  # fmt: skip
    finally:
        server.stop()
        store.close()
        jobs.close()


def bureau_key(env: dict[str, Any], bureau: str) -> str:
    made = env["keys"].get(f"bureau:{bureau}")
    if made is None:
        made = env["keys"][f"bureau:{bureau}"] = env["jobs"].create_key(f"clerk of {bureau}", ["referrals"],
                                                                        bureau=bureau)[1]  # fmt: skip
    return str(made)


def document(i: int) -> bytes:
    return synth.to_cda(synth.generate(random.Random(1000 + i)))


def absentee(start: int = 0, *, guardian: bool = False) -> int:
    """The first generated referral from ``start`` of the order's own case: without personal presence."""
    for i in range(start, start + 400):
        r = synth.generate(random.Random(1000 + i))
        if r.in_absentia and not r.special_route and (not guardian or r.guardian is not None):
            return i
    raise AssertionError("no such generated referral")


def post(env: dict[str, Any], body: bytes, media: str = "application/xml", key: str | None = None,
         token: str | None = None):  # fmt: skip
    return env["client"].post("/v1/referrals", content=body, headers=auth(
        token or env["keys"]["intake"], **{"Content-Type": media, "Idempotency-Key": key or uuid.uuid4().hex}))


def is_problem(answer, status: int, kind: str) -> dict:
    assert answer.status_code == status, answer.text
    assert answer.headers["content-type"].startswith(PROBLEM)
    body = answer.json()
    assert body["type"] == f"/v1/problems/{kind}"
    return body


def audit_events(store: ReferralStore, referral_id: str) -> list[tuple[str, dict]]:
    import sqlalchemy as sa

    from msedocs.referrals import schema as rt

    with store.tx() as conn:
        rows = conn.execute(sa.select(rt.audit_log.c.event, rt.audit_log.c.details).where(
            rt.audit_log.c.referral_id == referral_id).order_by(rt.audit_log.c.seq)).all()  # fmt: skip
    return [(r.event, json.loads(r.details)) for r in rows]


# -- intake ----------------------------------------------------------------------------------


def test_ingest_semd_201_identifiers_routing_and_idempotent_replay(env, semd_pkg):
    body = document(absentee())
    key = uuid.uuid4().hex
    first = post(env, body, key=key)
    assert first.status_code == 201, first.text
    got = first.json()
    assert first.headers["location"] == got["href"] == f"/v1/referrals/{got['referral_id']}"
    assert got["depersonalised"] and got["structured"] and got["state"] == "assigned"
    assert got["routing"]["bureau"] in {"gb1", "gb2", "gb3"} and got["routing"]["stage"]
    assert set(got["identifiers"]) >= {"1", "2", "4", "5"}
    assert all(t.startswith(f"PD{c}-") for c, tokens in got["identifiers"].items() for t in tokens)
    again = post(env, body, key=key)
    assert again.status_code == 201 and again.headers["idempotent-replayed"] == "true"
    assert again.json() == got
    is_problem(post(env, document(1), key=key), 409, "idempotency-key-reused")
    no_key = env["client"].post("/v1/referrals", content=body, headers=auth(
        env["keys"]["intake"], **{"Content-Type": "application/xml"}))  # fmt: skip
    is_problem(no_key, 400, "idempotency-key-required")
    is_problem(post(env, body, media="text/plain"), 415, "unsupported-media-type")
    is_problem(post(env, body, token=env["keys"]["render"]), 403, "forbidden")


def test_invalid_semd_is_422_with_every_failure_and_nothing_stored(env, semd_pkg):
    body = document(absentee())
    broken = body.replace(b"<recordTarget", b"<bogus xmlns=\"urn:hl7-org:v3\"/><recordTarget", 1)
    assert broken != body
    key = uuid.uuid4().hex
    problem = is_problem(post(env, broken, key=key), 422, "invalid-referral")
    assert problem["errors"]
    for e in problem["errors"]:
        assert set(e) == {"line", "rule", "message"} and isinstance(e["line"], int) and e["rule"]
    malformed = is_problem(post(env, b"<ClinicalDocument xmlns='urn:hl7-org:v3'>\n<oops>"), 422, "invalid-referral")
    assert malformed["errors"][0]["rule"] == "xml" and malformed["errors"][0]["line"] >= 1
    doctype = b'<?xml version="1.0"?>\n<!DOCTYPE x [<!ENTITY e "x">]>\n<x>&e;</x>'
    is_problem(post(env, doctype), 422, "invalid-referral")
    # nothing was stored under the key: it takes the valid document now
    assert post(env, body, key=key).status_code == 201


def test_ingest_case_json_and_its_model_errors(env):
    case = json.loads((CASES / "in_absentia.json").read_text(encoding="utf-8"))
    answer = post(env, json.dumps(case).encode(), media="application/json")
    assert answer.status_code == 201, answer.text
    assert answer.json()["depersonalised"] is True
    case["patient"]["sex"] = "unknown-sex"
    problem = is_problem(post(env, json.dumps(case).encode(), media="application/json"), 422, "invalid-referral")
    assert any(e["path"] == "patient.sex" for e in problem["errors"]), problem
    assert all({"line", "rule", "message"} <= set(e) for e in problem["errors"])
    assert "unknown-sex" not in json.dumps(problem)


# -- the bureau's view, decisions, reveal ---------------------------------------------------


def test_bureau_view_is_the_assigned_bureaus_only(env, semd_pkg):
    got = post(env, document(absentee())).json()
    rid, bureau = got["referral_id"], got["routing"]["bureau"]
    client = env["client"]
    view = client.get(f"/v1/referrals/{rid}", headers=auth(bureau_key(env, bureau)))
    assert view.status_code == 200, view.text
    assert view.json()["referral_id"] == rid and "postal_area" not in view.json()["routing"]
    assert view.json()["referral"]["patient"]["name"]["last"].startswith("PD1-")
    other = next(b for b in ("gb1", "gb2", "gb3") if b != bureau)
    is_problem(client.get(f"/v1/referrals/{rid}", headers=auth(bureau_key(env, other))), 404, "not-found")
    is_problem(client.get(f"/v1/referrals/{rid}?bureau={other}", headers=auth(bureau_key(env, bureau))), 403,
               "forbidden")  # fmt: skip
    is_problem(client.get(f"/v1/referrals/{rid}", headers=auth(env["keys"]["intake"])), 422, "invalid-request")
    # a key is bound by its bureau_id (keys create --bureau), not by a name that looks like one
    named = auth(env["jobs"].create_key(f"bureau:{bureau}", ["referrals"])[1])
    is_problem(client.get(f"/v1/referrals/{rid}", headers=named), 422, "invalid-request")
    is_problem(client.post(f"/v1/referrals/{rid}/reveal", json={"purpose": "in-person"}, headers=named), 403,
               "forbidden")  # fmt: skip
    assert client.get(f"/v1/referrals/{rid}?bureau={bureau}", headers=auth(env["keys"]["intake"])).status_code == 200
    is_problem(client.get(f"/v1/referrals/{'0' * 32}?bureau={bureau}", headers=auth(env["keys"]["intake"])), 404,
               "not-found")  # fmt: skip


def _signed(rid: str, bureau: str, key: Ed25519PrivateKey, kind: str = "in_person") -> bytes:
    return json.dumps(decisions.sign(key, rid, bureau, kind, dt.date.today())).encode()


def test_decision_wrong_signature_refused_and_audited_then_reveal_as_point_12_allows(env, semd_pkg):
    client, store = env["client"], env["store"]
    got = post(env, document(absentee())).json()
    rid, bureau = got["referral_id"], got["routing"]["bureau"]
    headers = auth(bureau_key(env, bureau), **{"Content-Type": "application/json"})
    forged = _signed(rid, bureau, Ed25519PrivateKey.generate())
    is_problem(client.post(f"/v1/referrals/{rid}/decisions", content=forged, headers=headers), 403, "decision-refused")
    refusal = ("decision-refused", {"kind": "in_person", "reason": "signature does not verify"})
    assert refusal in audit_events(store, rid)
    other = next(b for b in ("gb1", "gb2", "gb3") if b != bureau)
    is_problem(client.post(f"/v1/referrals/{rid}/decisions", content=_signed(rid, other, GB_KEYS[other]),
                           headers=headers), 403, "forbidden")  # fmt: skip
    # nothing revealed before a decision
    is_problem(client.post(f"/v1/referrals/{rid}/reveal", json={"purpose": "in-person"},
                           headers=auth(bureau_key(env, bureau))), 403, "reveal-refused")  # fmt: skip
    decided = client.post(f"/v1/referrals/{rid}/decisions", content=_signed(rid, bureau, GB_KEYS[bureau]),
                          headers=headers)  # fmt: skip
    assert decided.status_code == 200, decided.text
    moved = decided.json()
    assert moved["state"] == "in_person" and moved["routing"]["bureau"].startswith("addr")
    assert moved["routing"]["stage"] == "point12-in_person"
    address = moved["routing"]["bureau"]
    # the bureau that decided is not the address's: refused, audited, nothing revealed
    refused = is_problem(client.post(f"/v1/referrals/{rid}/reveal", json={"purpose": "in-person"},
                                     headers=auth(bureau_key(env, bureau))), 403, "reveal-refused")  # fmt: skip
    assert "categories" not in refused
    # a category the purpose does not need
    is_problem(client.post(f"/v1/referrals/{rid}/reveal", json={"purpose": "in-person", "categories": [8]},
                           headers=auth(bureau_key(env, address))), 403, "reveal-refused")  # fmt: skip
    # delivery needs its scope
    is_problem(client.post(f"/v1/referrals/{rid}/reveal", json={"purpose": "extract-delivery", "delivery": True},
                           headers=auth(env["keys"]["intake"])), 403, "forbidden")  # fmt: skip
    # a key not issued to the bureau may not ask for values, whichever bureau it names
    is_problem(client.post(f"/v1/referrals/{rid}/reveal", json={"purpose": "in-person", "bureau": address},
                           headers=auth(env["keys"]["admin"])), 403, "forbidden")  # fmt: skip
    granted = client.post(f"/v1/referrals/{rid}/reveal", json={"purpose": "in-person"},
                          headers=auth(bureau_key(env, address)))  # fmt: skip
    assert granted.status_code == 200, granted.text
    cats = granted.json()["categories"]
    assert set(cats) <= {"1", "2", "3", "4", "5", "6", "7"} and "1" in cats
    assert all(v["identifier"].startswith(f"PD{c}-") and v["value"] for c, vs in cats.items() for v in vs)
    events = [e for e, _ in audit_events(store, rid)]
    assert events.count("reveal-refused") == 3 and events.count("reveal") == 1 and "restriction-lifted" in events
    is_problem(client.post(f"/v1/referrals/{rid}/reveal", content=b"{", headers=auth(
        bureau_key(env, address), **{"Content-Type": "application/json"})), 400, "invalid-json")  # fmt: skip
    is_problem(client.post(f"/v1/referrals/{rid}/decisions", content=b'{"format": "x"}', headers=headers), 422,
               "invalid-request")  # fmt: skip


# -- bureaus, audit --------------------------------------------------------------------------


def test_bureaus_list_add_patch(env):
    client, admin = env["client"], auth(env["keys"]["admin"])
    listed = client.get("/v1/bureaus", headers=auth(env["keys"]["intake"]))
    assert listed.status_code == 200 and {"gb1", "fmba", "addr630"} <= {b["id"] for b in listed.json()}
    new = {"id": f"new{uuid.uuid4().hex[:6]}", "name": "Бюро № 9", "kind": "address", "capacity": 5,
           "postal_areas": ["777"], "public_key": decisions.public_pem(Ed25519PrivateKey.generate())}  # fmt: skip
    is_problem(client.post("/v1/bureaus", json=new, headers=auth(env["keys"]["intake"])), 403, "forbidden")
    made = client.post("/v1/bureaus", json=new, headers=admin)
    assert made.status_code == 201, made.text
    assert made.headers["location"] == f"/v1/bureaus/{new['id']}"
    assert made.json()["postal_areas"] == ["777"] and made.json()["active"] is True
    is_problem(client.post("/v1/bureaus", json=new, headers=admin), 409, "bureau-exists")
    is_problem(client.post("/v1/bureaus", json={**new, "id": "x y", "capacity": 0}, headers=admin), 422,
               "invalid-request")  # fmt: skip
    is_problem(client.post("/v1/bureaus", json={**new, "id": "other", "public_key": "nope"}, headers=admin), 422,
               "invalid-request")  # fmt: skip
    patched = client.patch(f"/v1/bureaus/{new['id']}", json={"capacity": 7, "active": False}, headers=admin)
    assert patched.status_code == 200, patched.text
    assert patched.json()["capacity"] == 7 and patched.json()["active"] is False
    is_problem(client.patch("/v1/bureaus/nosuch", json={"capacity": 7}, headers=admin), 404, "not-found")
    is_problem(client.patch(f"/v1/bureaus/{new['id']}", json={"load": 7}, headers=admin), 422, "invalid-request")


def test_audit_verify_admin_only(env):
    client = env["client"]
    is_problem(client.get("/v1/audit/verify", headers=auth(env["keys"]["intake"])), 403, "forbidden")
    report = client.get("/v1/audit/verify", headers=auth(env["keys"]["admin"]))
    assert report.status_code == 200, report.text
    assert report.json()["ok"] is True, report.json()


# -- no personal data --------------------------------------------------------------------------


def _values(body: bytes, pkg: semd.Package) -> list[str]:
    tree, problems = semd.validate(body, "test", pkg)
    assert not problems
    return [v.value for v in prepare(cda.to_referral(tree)).values if len(v.value) >= 4]


def test_no_value_of_the_eight_categories_in_logs_or_the_bureaus_responses(env, semd_pkg, caplog):
    caplog.set_level(logging.DEBUG)
    client = env["client"]
    seen: list[str] = []
    values: list[str] = []
    for i in (absentee(), absentee(absentee() + 1), absentee(guardian=True)):
        body = document(i)
        values += _values(body, semd_pkg)
        answer = post(env, body)
        assert answer.status_code == 201, answer.text
        seen.append(answer.text)
        got = answer.json()
        rid, bureau = got["referral_id"], got["routing"]["bureau"]
        headers = auth(bureau_key(env, bureau))
        seen.append(client.get(f"/v1/referrals/{rid}", headers=headers).text)
        seen.append(client.post(f"/v1/referrals/{rid}/reveal", json={"purpose": "in-person"}, headers=headers).text)
        forged = _signed(rid, bureau, Ed25519PrivateKey.generate())
        seen.append(client.post(f"/v1/referrals/{rid}/decisions", content=forged,
                                headers={**headers, "Content-Type": "application/json"}).text)  # fmt: skip
        seen.append(client.post(f"/v1/referrals/{rid}/decisions", content=_signed(rid, bureau, GB_KEYS[bureau]),
                                headers={**headers, "Content-Type": "application/json"}).text)  # fmt: skip
    seen.append(client.get("/v1/bureaus", headers=auth(env["keys"]["intake"])).text)
    seen.append(client.get("/v1/audit/verify", headers=auth(env["keys"]["admin"])).text)
    assert len(set(values)) >= 10
    logs = env["logs"](caplog)
    assert "/v1/referrals" in logs  # the access log was captured
    for value in set(values):
        assert value not in logs, f"a value of category data in the log: {value[:2]}…"
        for text in seen:
            assert value not in text and value not in json.dumps(json.loads(text)), (
                f"a value of category data in a response: {value[:2]}…")  # fmt: skip


# -- point 5, erasure, the KEK's rotation ------------------------------------------------------


PDF = b"%PDF-1.4\n% a scanned referral\n1 0 obj <<>> endobj\ntrailer <<>>\n%%EOF\n"


def post_scan(env: dict[str, Any], body: bytes = PDF, media: str = "application/pdf", key: str | None = None,
              token: str | None = None, external_id: str = "scan-1"):  # fmt: skip
    return env["client"].post(f"/v1/referrals/unstructured?external_id={external_id}", content=body, headers=auth(
        token or env["keys"]["intake"], **{"Content-Type": media, "Idempotency-Key": key or uuid.uuid4().hex}))


def test_unstructured_referral_stored_and_routed_in_clear_to_a_main_bureau(env):
    client = env["client"]
    key = uuid.uuid4().hex
    first = post_scan(env, key=key)
    assert first.status_code == 201, first.text
    got = first.json()
    assert first.headers["location"] == got["href"]
    assert got["structured"] is False and got["depersonalised"] is False and got["identifiers"] == {}
    assert got["routing"]["bureau"] in {"gb1", "gb2", "gb3"} and got["routing"]["stage"] == "point5-unstructured"
    rid, bureau = got["referral_id"], got["routing"]["bureau"]
    again = post_scan(env, key=key)
    assert again.status_code == 201 and again.headers["idempotent-replayed"] == "true" and again.json() == got
    is_problem(post_scan(env, body=PDF + b"x", key=key), 409, "idempotency-key-reused")
    # the bureau it went to reads it as received; no other bureau does
    mine = auth(bureau_key(env, bureau))
    view = client.get(f"/v1/referrals/{rid}", headers=mine).json()
    assert view["structured"] is False and view["media_type"] == "application/pdf" and "referral" not in view
    scan = client.get(f"/v1/referrals/{rid}/content", headers=mine)
    assert scan.status_code == 200 and scan.content == PDF
    assert scan.headers["content-type"] == "application/pdf" and scan.headers["cache-control"] == "no-store"
    other = next(b for b in ("gb1", "gb2", "gb3") if b != bureau)
    is_problem(client.get(f"/v1/referrals/{rid}/content", headers=auth(bureau_key(env, other))), 404, "not-found")
    # the audit log: routed, no identifier issued
    assert [e for e, _ in audit_events(env["store"], rid)] == ["routed"]
    text = post_scan(env, body="Направление на МСЭ, текст".encode(), media="text/plain")
    assert text.status_code == 201, text.text
    assert client.get(f"/v1/referrals/{text.json()['referral_id']}/content", headers=auth(bureau_key(
        env, text.json()["routing"]["bureau"]))).text == "Направление на МСЭ, текст"  # fmt: skip
    # a structured referral has no content in clear
    structured = post(env, json.dumps(json.loads((CASES / "in_absentia.json").read_text())).encode(),
                      media="application/json").json()  # fmt: skip
    is_problem(client.get(f"/v1/referrals/{structured['referral_id']}/content", headers=auth(
        bureau_key(env, structured["routing"]["bureau"]))), 404, "not-found")  # fmt: skip
    empty = is_problem(post_scan(env, body=b""), 422, "invalid-request")
    assert empty["errors"][0]["path"] == "(body)"
    is_problem(post_scan(env, media="application/zip"), 415, "unsupported-media-type")
    long_id = is_problem(post_scan(env, external_id="x" * 201), 422, "invalid-request")
    assert "external_id" in json.dumps(long_id["errors"]), long_id
    is_problem(post_scan(env, token=env["keys"]["render"]), 403, "forbidden")
    no_key = client.post("/v1/referrals/unstructured", content=PDF, headers=auth(
        env["keys"]["intake"], **{"Content-Type": "application/pdf"}))  # fmt: skip
    is_problem(no_key, 400, "idempotency-key-required")


def test_erase_destroys_the_data_key_admin_only_and_audited(env, semd_pkg):
    client, store = env["client"], env["store"]
    got = post(env, document(absentee(5))).json()
    rid, bureau = got["referral_id"], got["routing"]["bureau"]
    is_problem(client.delete(f"/v1/referrals/{rid}/personal-data", headers=auth(env["keys"]["intake"])), 403,
               "forbidden")  # fmt: skip
    is_problem(client.delete(f"/v1/referrals/{rid}/personal-data", headers=auth(bureau_key(env, bureau))), 403,
               "forbidden")  # fmt: skip
    admin = auth(env["keys"]["admin"])
    erased = client.delete(f"/v1/referrals/{rid}/personal-data", headers=admin)
    assert erased.status_code == 200, erased.text
    assert erased.json() == {"referral_id": rid, "data_key_destroyed": True}
    again = client.delete(f"/v1/referrals/{rid}/personal-data", headers=admin)
    assert again.status_code == 200 and again.json()["data_key_destroyed"] is False
    is_problem(client.delete(f"/v1/referrals/{'0' * 32}/personal-data", headers=admin), 404, "not-found")
    import sqlalchemy as sa

    from msedocs.referrals import schema as rt

    with store.tx() as conn:
        wrapped, destroyed = conn.execute(sa.select(rt.vault_keys.c.wrapped_key, rt.vault_keys.c.destroyed_at).where(
            rt.vault_keys.c.referral_id == rid)).one()  # fmt: skip
        values = conn.execute(sa.select(sa.func.count()).select_from(rt.vault_values).where(
            rt.vault_values.c.referral_id == rid)).scalar()  # fmt: skip
        row = conn.execute(sa.select(rt.referrals).where(rt.referrals.c.id == rid)).one()
    assert wrapped is None and destroyed is not None and values == 0 and row.sealed is None and row.bureau_view is None
    events = audit_events(store, rid)
    assert [d for e, d in events if e == "erased"] == [{"data_key_destroyed": True}, {"data_key_destroyed": False}]
    # the bureau still holds it, without values; point 12 can no longer reveal them
    view = client.get(f"/v1/referrals/{rid}", headers=auth(bureau_key(env, bureau)))
    assert view.status_code == 200 and view.json()["erased"] is True and "referral" not in view.json()
    headers = auth(bureau_key(env, bureau), **{"Content-Type": "application/json"})
    moved = client.post(f"/v1/referrals/{rid}/decisions", content=_signed(rid, bureau, GB_KEYS[bureau]),
                        headers=headers)  # fmt: skip
    assert moved.status_code == 200, moved.text
    refused = is_problem(client.post(f"/v1/referrals/{rid}/reveal", json={"purpose": "in-person"}, headers=auth(
        bureau_key(env, moved.json()["routing"]["bureau"]))), 403, "reveal-refused")  # fmt: skip
    assert "erased" in refused["detail"]
    # an unstructured referral: its content in clear goes
    scan = post_scan(env).json()
    done = client.delete(f"/v1/referrals/{scan['referral_id']}/personal-data", headers=admin)
    assert done.status_code == 200 and done.json()["data_key_destroyed"] is False
    is_problem(client.get(f"/v1/referrals/{scan['referral_id']}/content", headers=auth(
        bureau_key(env, scan["routing"]["bureau"]))), 404, "not-found")  # fmt: skip
    assert client.get("/v1/audit/verify", headers=admin).json()["ok"] is True


def test_rotate_kek_rewraps_without_changing_identifiers_admin_only(env, semd_pkg):
    import sqlalchemy as sa

    from msedocs.referrals import schema as rt

    client, store = env["client"], env["store"]
    got = post(env, document(absentee(9))).json()
    rid, bureau = got["referral_id"], got["routing"]["bureau"]
    old = env["kek"].kek_id
    path = env["folder"] / f"kek-{uuid.uuid4().hex[:6]}.bin"
    new = FileKek.create(path)
    asked = {"new_kek": f"file:{path}"}
    is_problem(client.post("/v1/referrals/vault/rotate-kek", json=asked, headers=auth(env["keys"]["intake"])), 403,
               "forbidden")  # fmt: skip
    admin = auth(env["keys"]["admin"])
    bad = is_problem(client.post("/v1/referrals/vault/rotate-kek", json={"new_kek": "file:/nonexistent/kek.bin"},
                                 headers=admin), 422, "invalid-request")  # fmt: skip
    assert bad["errors"][0]["path"] == "new_kek"
    is_problem(client.post("/v1/referrals/vault/rotate-kek", json={"new_kek": f"file:{env['folder'] / 'kek.bin'}"},
                           headers=admin), 422, "invalid-request")  # the key in use  # fmt: skip
    is_problem(client.post("/v1/referrals/vault/rotate-kek", json={**asked, "extra": 1}, headers=admin), 422,
               "invalid-request")  # fmt: skip
    with store.tx() as conn:
        live = conn.execute(sa.select(sa.func.count()).select_from(rt.vault_keys).where(
            rt.vault_keys.c.destroyed_at.is_(None))).scalar()  # fmt: skip
        tokens = conn.execute(sa.select(rt.vault_values.c.token).order_by(rt.vault_values.c.token)).scalars().all()
    rotated = client.post("/v1/referrals/vault/rotate-kek", json=asked, headers=admin)
    assert rotated.status_code == 200, rotated.text
    assert rotated.json()["rewrapped"] == live >= 1
    assert rotated.json()["from_kek"] == old and rotated.json()["to_kek"] == new.kek_id
    with store.tx() as conn:
        kek_ids = set(conn.execute(sa.select(rt.vault_keys.c.kek_id).where(
            rt.vault_keys.c.destroyed_at.is_(None))).scalars())  # fmt: skip
        after = conn.execute(sa.select(rt.vault_values.c.token).order_by(rt.vault_values.c.token)).scalars().all()
    assert kek_ids == {new.kek_id} and after == tokens
    # the service uses the new KEK: a referral stored before is revealed after, one stored after too
    later = post(env, document(absentee(absentee(9) + 1))).json()
    for ref, holder in ((rid, bureau), (later["referral_id"], later["routing"]["bureau"])):
        moved = client.post(f"/v1/referrals/{ref}/decisions", content=_signed(ref, holder, GB_KEYS[holder]),
                            headers=auth(bureau_key(env, holder), **{"Content-Type": "application/json"}))  # fmt: skip
        assert moved.status_code == 200, moved.text
        shown = client.post(f"/v1/referrals/{ref}/reveal", json={"purpose": "in-person"},
                            headers=auth(bureau_key(env, moved.json()["routing"]["bureau"])))  # fmt: skip
        assert shown.status_code == 200, shown.text
        assert shown.json()["categories"]["1"][0]["value"]
    with store.tx() as conn:
        rewraps = conn.execute(sa.select(rt.audit_log.c.details).where(rt.audit_log.c.event == "rewrap")).scalars()
        assert {"from": old, "to": new.kek_id, "keys": live} in [json.loads(d) for d in rewraps]
    assert client.get("/v1/audit/verify", headers=admin).json()["ok"] is True


# -- concurrency --------------------------------------------------------------------------------


def _plain_absentees(pkg: semd.Package, count: int) -> list[bytes]:
    """Documents of the order's own case whose referral weighs 2 (general, not palliative)."""
    from msedocs.referrals.store import routing_attributes
    from msedocs.routing.effort import default_effort

    out = []
    for i in range(2000, 2600):
        body = document(i)
        tree, problems = semd.validate(body, "test", pkg)
        ref = cda.to_referral(tree)
        if ref.in_absentia and not ref.special_route and default_effort(routing_attributes(ref)) == 2:
            out.append(body)
            if len(out) == count:
                return out
    raise AssertionError("not enough generated referrals of weight 2")


def test_concurrent_ingests_route_each_referral_exactly_once_and_the_spread_holds(env, semd_pkg):
    from concurrent.futures import ThreadPoolExecutor

    import sqlalchemy as sa

    from msedocs.referrals import schema as rt

    client, store, admin = env["client"], env["store"], auth(env["keys"]["admin"])
    n = 24
    bodies = _plain_absentees(semd_pkg, n)
    fresh = [f"cc{i}-{uuid.uuid4().hex[:6]}" for i in range(3)]
    for b in fresh:  # three bureaus of equal capacity, alone on Mintrud's route
        assert client.post("/v1/bureaus", json={"id": b, "name": b, "capacity": 30}, headers=admin).status_code == 201
    for b in ("gb1", "gb2", "gb3"):
        assert client.patch(f"/v1/bureaus/{b}", json={"active": False}, headers=admin).status_code == 200
    try:
        with store.tx() as conn:
            before = conn.execute(sa.select(sa.func.count()).select_from(rt.referrals)).scalar()
        same_key = uuid.uuid4().hex
        jobs = [(body, None) for body in bodies] + [(bodies[0], same_key)] * 4
        with ThreadPoolExecutor(8) as pool:
            answers = list(pool.map(lambda job: post(env, job[0], key=job[1]), jobs))
            # and scans (point 5), quick to take in, so that the routers meet in the database: each weighs 3
            scans = list(pool.map(lambda i: post_scan(env, body=PDF + str(i).encode(), external_id=f"c{i}"),
                                  range(3 * n)))  # fmt: skip
        assert all(a.status_code == 201 for a in scans), [a.text for a in scans if a.status_code != 201]
        scan_ids = [a.json()["referral_id"] for a in scans]
        assert all(a.status_code == 201 for a in answers[:n]), [a.text for a in answers if a.status_code != 201]
        ids = [a.json()["referral_id"] for a in answers[:n]]
        # one Idempotency-Key sent four times at once: one referral; the others replay it or are told to retry
        assert {a.status_code for a in answers[n:]} <= {201, 409}
        assert len({a.json()["referral_id"] for a in answers[n:] if a.status_code == 201}) == 1
        retried = [a for a in answers[n:] if a.status_code == 409]
        assert all(a.json()["type"] == "/v1/problems/request-in-progress" for a in retried)
        stored = ids + [next(a.json()["referral_id"] for a in answers[n:] if a.status_code == 201)]
        assert len(set(stored)) == n + 1
        with store.tx() as conn:
            after = conn.execute(sa.select(sa.func.count()).select_from(rt.referrals)).scalar()
            routed = dict(conn.execute(sa.select(rt.routing_log.c.referral_id, sa.func.count()).where(
                rt.routing_log.c.referral_id.in_(stored)).group_by(rt.routing_log.c.referral_id)).all())  # fmt: skip
            held = dict(conn.execute(sa.select(rt.referrals.c.bureau_id, sa.func.count()).where(
                rt.referrals.c.id.in_(stored + scan_ids)).group_by(rt.referrals.c.bureau_id)).all())  # fmt: skip
        assert after - before == n + 1 + 3 * n  # every referral stored once, the repeated key's once
        assert routed == {rid: 1 for rid in stored}  # and routed once
        audited = [sum(1 for e, _ in audit_events(store, rid) if e == "routed") for rid in stored]
        assert audited == [1] * (n + 1)
        bureaus = {b["id"]: b for b in client.get("/v1/bureaus", headers=admin).json() if b["id"] in fresh}
        assert {b: bureaus[b]["open_count"] for b in fresh} == {b: held.get(b, 0) for b in fresh}  # no update lost
        opens = [bureaus[b]["open_count"] for b in fresh]
        loads = [bureaus[b]["load"] for b in fresh]
        assert sum(opens) == n + 1 + 3 * n and max(opens) - min(opens) <= 1, bureaus
        assert max(loads) - min(loads) <= 3, bureaus  # within one referral: 2 for a document, 3 for a scan
        with store.tx() as conn:
            assert conn.execute(sa.select(sa.func.count()).select_from(rt.routing_log).where(
                rt.routing_log.c.referral_id.in_(scan_ids))).scalar() == 3 * n  # fmt: skip
    finally:
        for b in ("gb1", "gb2", "gb3"):
            client.patch(f"/v1/bureaus/{b}", json={"active": True}, headers=admin)
        for b in fresh:
            client.patch(f"/v1/bureaus/{b}", json={"active": False}, headers=admin)
