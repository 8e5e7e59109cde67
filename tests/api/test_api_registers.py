"""POST /v1/journals and POST /v1/protocols: registers over many cases, as jobs (202 + Location),
rendered by msedocs.journal and msedocs.protocol in the rendering processes."""

from __future__ import annotations

import copy
import json
import uuid

import pytest

from .conftest import auth, case
from .test_api_http import PROBLEM, is_problem, post_render, wait_job


def session_cases(n: int = 3) -> list[dict]:
    """``n`` cases of one session of one commission (act numbers differ), under new case ids."""
    base = case("adult_first_group_ii")
    tag = uuid.uuid4().hex[:8]
    out = []
    for i in range(n):
        c = copy.deepcopy(base)
        c["case_id"] = f"R-{tag}-{i}"
        c["examination"]["act_number"] = f"2026-{tag[:3]}{i}"
        out.append(c)
    return out


def post(client, path: str, token: str, body: dict | bytes, key: str | None = None, ctype: str | None = None,
         params: dict | None = None):  # fmt: skip
    headers = auth(token, **{"Idempotency-Key": key or uuid.uuid4().hex})
    if isinstance(body, bytes):
        headers["Content-Type"] = ctype or "application/x-ndjson"
        return client.post(path, content=body, headers=headers, params=params)
    return client.post(path, json=body, headers=headers, params=params)


def jsonl(cases: list[dict]) -> bytes:
    return b"".join(json.dumps(c, ensure_ascii=False).encode() + b"\n" for c in cases)


def test_journal_over_posted_cases_is_a_job_with_its_files(client, keys):
    body = {"journal": "by-journal-protocols", "from": "2026-01-01", "to": "2026-12-31", "formats": ["xml", "pdf"],
            "cases": session_cases(3)}  # fmt: skip
    key = uuid.uuid4().hex
    answer = post(client, "/v1/journals", keys["render"], body, key)
    assert answer.status_code == 202, answer.text
    location = answer.headers["location"]
    assert answer.json()["kind"] == "journal" and location.startswith("/v1/jobs/")
    again = post(client, "/v1/journals", keys["render"], body, key)
    assert again.status_code == 202 and again.headers["location"] == location
    assert again.headers["idempotent-replayed"] == "true"
    status = wait_job(client, keys["render"], location)
    assert status["state"] == "succeeded", status
    assert [o["name"] for o in status["outputs"]] == ["by-journal-protocols.xml", "by-journal-protocols.pdf"]
    assert status["manifest"]["journal"] == "by-journal-protocols" and status["manifest"]["rows"] == 3
    pdf = client.get(status["outputs"][1]["href"], headers=auth(keys["render"]))
    assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF")
    xml = client.get(status["outputs"][0]["href"], headers=auth(keys["render"])).content
    check = client.post("/v1/xml/validate", content=xml, headers=auth(keys["admin"],
                        **{"Content-Type": "application/xml"})).json()  # fmt: skip
    assert check["valid"], check
    other = dict(body, to="2026-11-30")
    is_problem(post(client, "/v1/journals", keys["render"], other, key), 409, "idempotency-key-reused")


def test_journal_over_cases_as_json_lines_with_query_parameters(client, keys):
    params = {"journal": "by-journal-protocols", "from": "2026-11-01", "to": "2026-11-30", "formats": "xml"}
    answer = post(client, "/v1/journals", keys["render"], jsonl(session_cases(2)), params=params)
    assert answer.status_code == 202, answer.text
    status = wait_job(client, keys["render"], answer.headers["location"])
    assert status["state"] == "succeeded" and status["manifest"]["rows"] == 2
    assert [o["name"] for o in status["outputs"]] == ["by-journal-protocols.xml"]


def test_journal_over_the_cases_the_service_has(client, keys, service):
    token = service.store.create_key("stored-cases", ["render"])[1]
    cases = session_cases(2)
    for c in cases:
        rendered = post_render(client, token, {"case": c, "forms": ["by-act"], "formats": ["xml"]})
        assert rendered.status_code == 200, rendered.text
    body = {"journal": "by-journal-protocols", "from": "2026-01-01", "to": "2026-12-31", "formats": ["xml"],
            "cases": "stored"}  # fmt: skip
    answer = post(client, "/v1/journals", token, body)
    assert answer.status_code == 202, answer.text
    status = wait_job(client, token, answer.headers["location"])
    assert status["state"] == "succeeded" and status["manifest"]["rows"] == 2, status
    assert client.get(status["outputs"][0]["href"], headers=auth(token)).content.startswith(b"<?xml")
    fresh = service.store.create_key("no-cases", ["render"])[1]
    problem = is_problem(post(client, "/v1/journals", fresh, body), 422, "invalid-request")
    assert problem["errors"][0]["path"] == "cases"


def test_register_requests_are_checked_before_anything_is_stored(client, keys, service):
    before = service.store.counts()
    bad = session_cases(2)
    del bad[1]["patient"]["sex"]
    base = {"journal": "by-journal-protocols", "from": "2026-01-01", "to": "2026-12-31"}
    problem = is_problem(post(client, "/v1/journals", keys["render"], {**base, "cases": bad}), 422, "invalid-case")
    assert problem["errors"][0]["path"] == "cases[1].patient.sex", problem
    problem = is_problem(post(client, "/v1/journals", keys["render"], jsonl(bad), params=base), 422, "invalid-case")
    assert problem["errors"][0]["path"] == "line 2: patient.sex" and problem["errors"][0]["line"] == 2
    twice = session_cases(1) * 2
    problem = is_problem(post(client, "/v1/journals", keys["render"], {**base, "cases": twice}), 422, "invalid-case")
    assert problem["errors"][0]["path"].startswith("cases[1]") and "case_id" in problem["errors"][0]["path"]
    one = session_cases(1)
    journals = "/v1/journals"
    problem = is_problem(post(client, journals, keys["render"], {**base, "journal": "by-act", "cases": one}), 422,
                         "unknown-form")  # fmt: skip
    assert problem["errors"][0]["path"] == "journal"
    backwards = {**base, "from": "2026-12-31", "to": "2026-01-01", "cases": one}
    is_problem(post(client, journals, keys["render"], backwards), 422, "invalid-request")
    dotted = {**base, "from": "31.12.2026", "cases": one}
    problem = is_problem(post(client, journals, keys["render"], dotted), 422, "invalid-request")
    assert problem["errors"][0]["path"] == "from"
    problem = is_problem(post(client, "/v1/journals", keys["render"], jsonl(session_cases(1)),
                              params={**base, "nonsense": "1"}), 422, "invalid-request")  # fmt: skip
    assert problem["errors"][0]["path"] == "nonsense"
    is_problem(post(client, "/v1/journals", keys["render"], b"", params=base), 422, "invalid-case")
    is_problem(post(client, "/v1/journals", keys["render"], b"<x/>", ctype="application/xml"), 415,
               "unsupported-media-type")  # fmt: skip
    is_problem(post(client, "/v1/journals", keys["validate"], {**base, "cases": session_cases(1)}), 403, "forbidden")
    signed = {**base, "cases": session_cases(1), "sign": {"level": "B-B"}}
    is_problem(post(client, "/v1/journals", keys["render"], signed), 403, "forbidden")
    answer = client.post("/v1/journals", json={**base, "cases": session_cases(1)}, headers=auth(keys["render"]))
    is_problem(answer, 400, "idempotency-key-required")
    assert service.store.counts() == before


def test_protocol_of_a_session_signed(client, keys):
    cases = session_cases(3)
    body = {"number": "211", "date": "2026-11-05", "formats": ["xml", "pdf"], "cases": cases,
            "sign": {"level": "B-B"}}  # fmt: skip
    answer = post(client, "/v1/protocols", keys["signer"], body)
    assert answer.status_code == 202, answer.text
    status = wait_job(client, keys["signer"], answer.headers["location"])
    assert status["state"] == "succeeded", status
    names = [o["name"] for o in status["outputs"]]
    assert names == ["by-protocol.xml", "by-protocol.pdf"] and status["manifest"]["number"] == "211"
    assert status["manifest"]["test_pki"] is True
    xml = client.get(status["outputs"][0]["href"], headers=auth(keys["signer"])).content
    assert all(c["examination"]["act_number"].encode() in xml for c in cases) and b"Signature" in xml
    report = client.post("/v1/signatures/validate", files={"file": ("by-protocol.xml", xml, "application/xml")},
                         headers=auth(keys["admin"])).json()  # fmt: skip
    assert report["passed"] is True and len(report["signatures"]) >= 2, report  # the chairman and the members
    assert all(s["indication"] == "TOTAL_PASSED" for s in report["signatures"])


def test_protocol_with_no_matching_session_fails_as_a_job(client, keys):
    body = {"number": "999", "formats": ["xml"], "cases": session_cases(1)}
    answer = post(client, "/v1/protocols", keys["render"], body)
    assert answer.status_code == 202, answer.text
    status = wait_job(client, keys["render"], answer.headers["location"])
    assert status["state"] == "failed" and status["error"]["type"] == "/v1/problems/invalid-input"
    assert "no session matches" in status["error"]["detail"]
    assert client.get(answer.headers["location"], headers=auth(keys["render"])).headers["content-type"] != PROBLEM


@pytest.mark.parametrize("path", ["/v1/journals", "/v1/protocols"])
def test_deleting_a_register_job_removes_its_cases(client, keys, service, path):
    body = {"journal": "by-journal-protocols", "from": "2026-01-01", "to": "2026-12-31"} if "journals" in path else {}
    cases = jsonl(session_cases(1))
    answer = post(client, path, keys["render"], cases, params={**body, "formats": "xml"})
    status = wait_job(client, keys["render"], answer.headers["location"])
    assert status["state"] == "succeeded", status
    import hashlib

    digest = hashlib.sha256(cases).hexdigest()
    assert service.store.content(digest) == cases
    assert client.delete(answer.headers["location"], headers=auth(keys["render"])).status_code == 204
    with pytest.raises(Exception, match="missing"):
        service.store.content(digest)
