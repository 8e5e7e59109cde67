"""Every endpoint and every error of the HTTP API, through FastAPI's TestClient."""

from __future__ import annotations

import copy
import dataclasses
import datetime as dt
import io
import json
import logging
import re
import uuid
import zipfile
from pathlib import Path

import pytest

from .conftest import CASES, ROOT, auth, case

BAD = ROOT / "fixtures" / "bad"
EXPECTED = json.loads((BAD / "expected.json").read_text(encoding="utf-8"))
PROBLEM = "application/problem+json"


def unique(name: str = "adult_first_group_ii") -> dict:
    """A sample case under a case_id of its own (a signed document of a case is issued once)."""
    body = copy.deepcopy(case(name))
    body["case_id"] = f"{body['case_id']}-{uuid.uuid4().hex[:8]}"
    return body


def post_render(client, token: str, body: dict | bytes, key: str | None = None, **headers: str):
    headers = auth(token, **headers)
    headers["Idempotency-Key"] = key or uuid.uuid4().hex
    if isinstance(body, bytes):
        return client.post("/v1/renders", content=body, headers={**headers, "Content-Type": "application/json"})
    return client.post("/v1/renders", json=body, headers=headers)


def is_problem(answer, status: int, kind: str) -> dict:
    assert answer.status_code == status, answer.text
    assert answer.headers["content-type"].startswith(PROBLEM)
    body = answer.json()
    assert body["type"] == f"/v1/problems/{kind}"
    assert body["status"] == status and body["title"]
    assert body["request_id"] == answer.headers["x-request-id"]
    return body


# -- service ---------------------------------------------------------------------------------


def test_healthz_needs_no_key(client):
    answer = client.get("/healthz")
    assert answer.status_code == 200 and answer.json() == {"status": "ok"}


def test_readyz_checks_store_fonts_xsds_pool(client):
    answer = client.get("/readyz")
    assert answer.status_code == 200, answer.text
    assert answer.json()["checks"] == {"store": True, "fonts": True, "xsds": True, "pool": True}


def test_readyz_503_when_the_pool_is_down(client, service, monkeypatch):
    monkeypatch.setattr(type(service.pool), "ready", property(lambda self: False))
    body = is_problem(client.get("/readyz"), 503, "unavailable")
    assert body["checks"]["pool"] is False and "pool" in body["detail"]


def test_problem_types_are_described(client):
    answer = client.get("/v1/problems/invalid-case")
    assert answer.status_code == 200
    assert answer.json()["type"] == "/v1/problems/invalid-case" and answer.json()["status"] == 422
    is_problem(client.get("/v1/problems/nonsense"), 404, "not-found")


def test_unknown_route_and_method_are_problems(client, keys):
    is_problem(client.get("/v1/nothing", headers=auth(keys["render"])), 404, "not-found")
    is_problem(client.put("/v1/forms", headers=auth(keys["render"])), 405, "method-not-allowed")


def test_request_id_and_traceparent_echoed(client):
    traceparent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
    answer = client.get("/healthz", headers={"X-Request-ID": "req-42", "traceparent": traceparent})
    assert answer.headers["x-request-id"] == "req-42"
    assert answer.headers["traceparent"] == traceparent
    made = client.get("/healthz", headers={"X-Request-ID": "bad id\twith tab", "traceparent": "junk"})
    assert len(made.headers["x-request-id"]) == 32 and "traceparent" not in made.headers


# -- auth ------------------------------------------------------------------------------------


def test_no_key_is_401_with_a_challenge(client):
    body = is_problem(client.get("/v1/forms"), 401, "unauthorized")
    assert "Authorization" in body["detail"]
    assert client.get("/v1/forms").headers["www-authenticate"].startswith("Bearer")


@pytest.mark.parametrize("token", ["msk_000000000000_nope", "nonsense", "msk_abc", ""])
def test_bad_key_is_401(client, token):
    is_problem(client.get("/v1/forms", headers={"Authorization": f"Bearer {token}"}), 401, "unauthorized")


def test_key_as_x_api_key_header(client, keys):
    assert client.get("/v1/forms", headers={"X-API-Key": keys["validate"]}).status_code == 200


def test_missing_scope_is_403(client, keys):
    body = is_problem(post_render(client, keys["deliver"], {"case": unique()}), 403, "forbidden")
    assert "render" in body["detail"]
    is_problem(client.post("/v1/xml/validate", content=b"<a/>", headers=auth(keys["render"],
               **{"Content-Type": "application/xml"})), 403, "forbidden")  # fmt: skip


def test_admin_holds_every_scope(client, keys):
    answer = client.post("/v1/xml/validate", content=b"<a/>",
                         headers=auth(keys["admin"], **{"Content-Type": "application/xml"}))  # fmt: skip
    assert answer.status_code == 200


def test_keys_are_stored_as_digests(service, keys):
    import sqlalchemy as sa

    with service.store.engine.connect() as conn:
        stored = conn.execute(sa.text("SELECT token_sha256 FROM api_keys")).scalars().all()
    assert all(token not in stored and token[20:] not in " ".join(stored) for token in keys.values())


# -- forms and schemas -------------------------------------------------------------------------


def test_forms_list_and_one_form(client, keys):
    forms = client.get("/v1/forms", headers=auth(keys["render"])).json()
    ids = [f["id"] for f in forms]
    assert "by-act" in ids and "ru-extract" in ids
    act = client.get("/v1/forms/by-act", headers=auth(keys["render"])).json()
    assert act["formats"] == ["xml", "pdf", "docx"] and "chairman" in act["signers"]
    assert act["namespace"].endswith(":by-act:1") or "by-act" in act["namespace"]
    is_problem(client.get("/v1/forms/no-such-form", headers=auth(keys["render"])), 404, "not-found")


def test_form_xsd(client, keys):
    answer = client.get("/v1/forms/by-act/xsd", headers=auth(keys["render"]))
    assert answer.status_code == 200 and answer.headers["content-type"].startswith("application/xml")
    assert answer.content == (ROOT / "xsd" / "by-act.xsd").read_bytes()
    is_problem(client.get("/v1/forms/../common/xsd", headers=auth(keys["render"])), 404, "not-found")


def test_case_schema(client, keys):
    answer = client.get("/v1/schema/case.json", headers=auth(keys["render"]))
    assert answer.status_code == 200 and answer.headers["content-type"].startswith("application/schema+json")
    assert "patient" in answer.json()["properties"]


# -- XML validation --------------------------------------------------------------------------


def xml_of(client, token: str, form: str = "by-act") -> bytes:
    answer = post_render(client, token, {"case": unique(), "forms": [form], "formats": ["xml"]})
    assert answer.status_code == 200, answer.text
    return answer.content


def validate(client, token: str, content: bytes, **params: str):
    return client.post("/v1/xml/validate", content=content, params=params,
                       headers=auth(token, **{"Content-Type": "application/xml"}))  # fmt: skip


def test_xml_validate_valid_document(client, keys):
    answer = validate(client, keys["validate"], xml_of(client, keys["render"]))
    assert answer.status_code == 200
    assert answer.json() == {"valid": True, "form": "by-act", "errors": []}


def test_xml_validate_reports_line_xpath_reason_without_values(client, keys):
    content = xml_of(client, keys["render"]).replace(b"1978-05-26", b"26.05.1978")
    body = validate(client, keys["validate"], content).json()
    assert body["valid"] is False and body["form"] == "by-act"
    (error,) = [e for e in body["errors"] if "birthDate" in e["xpath"] or "birthDate" in e["reason"]]
    assert error["line"] > 1 and error["xpath"].startswith("/") and "26.05.1978" not in json.dumps(body)


def test_xml_validate_form_by_parameter_and_unknown_form(client, keys):
    content = xml_of(client, keys["render"])
    body = validate(client, keys["validate"], content, form="by-conclusion").json()
    assert body["valid"] is False and body["form"] == "by-conclusion"
    is_problem(validate(client, keys["validate"], content, form="nope"), 422, "unknown-form")


HOSTILE = {
    "doctype": b'<?xml version="1.0"?><!DOCTYPE a [<!ENTITY x "y">]><a>&x;</a>',
    "laughs": b'<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;">]>'
    b"<lolz>&lol2;</lolz>",
    "external": b'<?xml version="1.0"?><!DOCTYPE a [<!ENTITY x SYSTEM "file:///etc/passwd">]><a>&x;</a>',
    "windows-1251": b'<?xml version="1.0" encoding="windows-1251"?><a/>',
}


@pytest.mark.parametrize("name", sorted(HOSTILE))
def test_xml_validate_refuses_hostile_xml_as_the_cli(client, keys, name):
    body = validate(client, keys["validate"], HOSTILE[name], form="by-act").json()
    assert body["valid"] is False
    assert "root:" not in json.dumps(body)  # nothing of /etc/passwd
    reason = body["errors"][0]["reason"]
    assert ("DOCTYPE" in reason or "DTD" in reason or "entit" in reason.lower() or "UTF-8" in reason), reason


def test_xml_validate_does_not_expand_xinclude(client, keys):
    content = xml_of(client, keys["render"]).replace(
        b"</act>", b'<xi:include xmlns:xi="http://www.w3.org/2001/XInclude" href="/etc/passwd" parse="text"/></act>'
    )
    body = validate(client, keys["validate"], content).json()
    assert body["valid"] is False and "root:" not in json.dumps(body)


def test_xml_validate_content_type_415(client, keys):
    answer = client.post("/v1/xml/validate", content=b"<a/>", headers=auth(keys["validate"],
                         **{"Content-Type": "text/plain"}))  # fmt: skip
    is_problem(answer, 415, "unsupported-media-type")


def test_body_over_the_limit_is_413_before_parsing(client, keys, service):
    limit = service.config.max_body
    big = b"<a>" + b" " * limit + b"</a>"
    answer = validate(client, keys["validate"], big)
    body = is_problem(answer, 413, "payload-too-large")
    assert str(limit) in body["detail"]


def test_body_over_the_limit_without_content_length_is_413(client, keys, service):
    limit = service.config.max_body

    def chunks():
        for _ in range(limit // 65536 + 2):
            yield b" " * 65536

    answer = client.post("/v1/xml/validate", content=chunks(), headers=auth(keys["validate"],
                         **{"Content-Type": "application/xml"}))  # fmt: skip
    is_problem(answer, 413, "payload-too-large")


def test_xml_over_16_mib_is_413(client, keys):
    big = b"<a>" + b" " * (16 * 1024 * 1024) + b"</a>"
    is_problem(validate(client, keys["validate"], big, form="by-act"), 413, "payload-too-large")


# -- signature validation --------------------------------------------------------------------


@pytest.fixture(scope="module")
def signed(client, keys) -> dict[str, bytes]:
    answer = post_render(client, keys["signer"], {"case": unique(), "forms": ["by-act"], "formats": ["xml", "docx"],
                                                  "sign": {"level": "B-B"}})  # fmt: skip
    assert answer.status_code == 200, answer.text
    with zipfile.ZipFile(io.BytesIO(answer.content)) as archive:
        return {name: archive.read(name) for name in archive.namelist()}


def verify(client, token: str, files: dict, **params: str):
    return client.post("/v1/signatures/validate", files=files, params=params, headers=auth(token))


def test_signatures_validate_signed_xml(client, keys, signed):
    answer = verify(client, keys["validate"], {"file": ("by-act.xml", signed["by-act.xml"], "application/xml")})
    assert answer.status_code == 200, answer.text
    report = answer.json()
    assert report["passed"] is True and report["format"] == "XML" and report["path"] == "by-act.xml"
    assert len(report["signatures"]) >= 1 and all(s["indication"] == "TOTAL_PASSED" for s in report["signatures"])
    assert report["policy"]["passed"] is True


def test_signatures_validate_tampered_xml_fails(client, keys, signed):
    tampered = signed["by-act.xml"].replace(b"1978-05-26", b"1978-05-27")
    report = verify(client, keys["validate"], {"file": ("x.xml", tampered, "application/xml")}).json()
    assert report["passed"] is False
    assert any(s["indication"] == "TOTAL_FAILED" for s in report["signatures"])


def test_signatures_validate_docx_with_its_p7s(client, keys, signed):
    files = {"file": ("by-act.docx", signed["by-act.docx"], "application/octet-stream"),
             "signature": ("by-act.docx.p7s", signed["by-act.docx.p7s"], "application/pkcs7-signature")}  # fmt: skip
    report = verify(client, keys["validate"], files).json()
    assert report["format"] == "CAdES" and report["passed"] is True


def test_signatures_validate_errors(client, keys, signed):
    is_problem(verify(client, keys["validate"], {"file": ("a.bin", b"\x00\x01 not a document", "x/y")}), 422,
               "unsupported-document")  # fmt: skip
    is_problem(verify(client, keys["validate"], {"other": ("a.xml", b"<a/>", "application/xml")}), 422,
               "invalid-request")  # fmt: skip
    is_problem(verify(client, keys["validate"], {"file": ("a.xml", b"<a/>", "application/xml")}, policy="x"), 422,
               "invalid-request")  # fmt: skip
    answer = client.post("/v1/signatures/validate", content=signed["by-act.xml"],
                         headers=auth(keys["validate"], **{"Content-Type": "application/xml"}))  # fmt: skip
    is_problem(answer, 415, "unsupported-media-type")
    is_problem(verify(client, keys["render"], {"file": ("a.xml", b"<a/>", "application/xml")}), 403, "forbidden")


# -- renders ---------------------------------------------------------------------------------


def test_render_one_document_is_the_file(client, keys):
    answer = post_render(client, keys["render"], {"case": unique(), "forms": ["by-act"], "formats": ["pdf"]})
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"] == "application/pdf" and answer.content.startswith(b"%PDF-")
    assert 'filename="by-act.pdf"' in answer.headers["content-disposition"]
    assert answer.headers["content-location"] == f"/v1/jobs/{answer.headers['x-job-id']}"


def _pdf_makers(pdf: bytes) -> tuple[str, str]:
    """The PDF's /Producer and /Creator, as each engine writes them (WeasyPrint: Producer; Typst: Creator)."""
    import pikepdf

    with pikepdf.open(io.BytesIO(pdf)) as doc:
        return str(doc.docinfo.get("/Producer", "")), str(doc.docinfo.get("/Creator", ""))


def test_render_engine_is_chosen_per_call(client, keys, service, monkeypatch):
    made = {}
    for engine in ("typst", "weasyprint", None):
        body = {"case": unique(), "forms": ["by-act"], "formats": ["pdf"], **({"engine": engine} if engine else {})}
        answer = post_render(client, keys["render"], body)
        assert answer.status_code == 200, answer.text
        assert answer.content.startswith(b"%PDF-")
        made[engine] = _pdf_makers(answer.content)
        stored = json.loads(service.store.request_of(answer.headers["x-job-id"]))
        assert stored["engine"] == (engine or "weasyprint")  # the job records the engine it was laid out with
    assert made["typst"][1].startswith("Typst") and not made["typst"][0].startswith("WeasyPrint")
    assert made["weasyprint"][0].startswith("WeasyPrint") and not made["weasyprint"][1].startswith("Typst")
    assert made[None] == made["weasyprint"]  # absent: the service's setting (unset here), else weasyprint
    monkeypatch.setenv("MSEDOCS_PDF_ENGINE", "typst")  # the server's setting decides when the call does not
    answer = post_render(client, keys["render"], {"case": unique(), "forms": ["by-act"], "formats": ["pdf"]})
    assert json.loads(service.store.request_of(answer.headers["x-job-id"]))["engine"] == "typst"


def test_render_unknown_engine_is_422_naming_the_field(client, keys):
    for bad in ("latex", 3, ""):
        body = {"case": unique(), "forms": ["by-act"], "formats": ["pdf"], "engine": bad}
        problem = is_problem(post_render(client, keys["render"], body), 422, "invalid-request")
        assert [e["path"] for e in problem["errors"]] == ["engine"], problem


def test_a_stored_request_without_engine_still_loads():
    from msedocs.api.engine import RenderParams

    old = json.dumps({"case": case("adult_first_group_ii"), "forms": ["by-act"], "formats": ["pdf"],
                      "variant": "auto", "level": None, "profile": "test"}).encode()  # fmt: skip
    params = RenderParams.from_json(old, None, None)
    assert params.engine is None and params.forms == ("by-act",)
    again = RenderParams.from_json(dataclasses.replace(params, engine="typst").to_json(), None, None)
    assert again.engine == "typst"


def test_render_several_documents_is_a_zip_with_its_manifest(client, keys):
    body = unique()
    answer = post_render(client, keys["render"], {"case": body, "forms": ["by-act", "by-conclusion"],
                                                  "formats": ["xml", "docx"]})  # fmt: skip
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"] == "application/zip"
    assert int(answer.headers["content-length"]) == len(answer.content)
    with zipfile.ZipFile(io.BytesIO(answer.content)) as archive:
        names = archive.namelist()
        manifest = json.loads(archive.read("manifest.json"))
        assert names == ["by-act.xml", "by-act.docx", "by-conclusion.xml", "by-conclusion.docx", "manifest.json"]
        assert manifest["case_id"] == body["case_id"]
        import hashlib

        for entry in manifest["files"]:
            assert hashlib.sha256(archive.read(entry["file"])).hexdigest() == entry["sha256"]


def test_render_all_forms_that_apply(client, keys):
    answer = post_render(client, keys["render"], {"case": unique("ru_not_recognised_portal"), "formats": ["xml"]})
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"] == "application/xml"  # only the extract applies


def test_idempotent_replay_and_conflict(client, keys, service):
    body = {"case": unique(), "forms": ["by-act"], "formats": ["xml"]}
    key = uuid.uuid4().hex
    first = post_render(client, keys["render"], body, key)
    again = post_render(client, keys["render"], body, key)
    assert first.status_code == again.status_code == 200
    assert again.content == first.content and again.headers["idempotent-replayed"] == "true"
    assert again.headers["x-job-id"] == first.headers["x-job-id"]
    other = dict(body, formats=["xml", "pdf"])
    is_problem(post_render(client, keys["render"], other, key), 409, "idempotency-key-reused")
    # the same key of another API key is another key
    assert post_render(client, keys["other"], body, key).headers["x-job-id"] != first.headers["x-job-id"]


def test_replayed_zip_holds_the_same_files(client, keys):
    body = {"case": unique(), "forms": ["by-act"], "formats": ["xml", "pdf"], "sign": {"level": "B-B"}}
    key = uuid.uuid4().hex
    first, again = (post_render(client, keys["signer"], body, key) for _ in range(2))

    def files(answer) -> dict[str, bytes]:
        with zipfile.ZipFile(io.BytesIO(answer.content)) as archive:
            return {n: archive.read(n) for n in archive.namelist()}

    assert files(first) == files(again)  # the same signed bytes: nothing signed or issued twice


def test_idempotency_key_required(client, keys):
    answer = client.post("/v1/renders", json={"case": unique()}, headers=auth(keys["render"]))
    is_problem(answer, 400, "idempotency-key-required")


def test_signed_document_is_issued_once(client, keys):
    body = {"case": unique(), "forms": ["by-act"], "formats": ["xml"], "sign": {"level": "B-B"}}
    first = post_render(client, keys["signer"], body)
    assert first.status_code == 200, first.text
    problem = is_problem(post_render(client, keys["signer"], body), 409, "already-issued")
    assert problem["issued_by"] == [{"document": "by-act.xml", "job": f"/v1/jobs/{first.headers['x-job-id']}"}]
    # another format of the same form is another document
    assert post_render(client, keys["signer"], dict(body, formats=["pdf"])).status_code == 200
    # unsigned renders (drafts, paper to sign by hand) are not issues
    unsigned = {k: v for k, v in body.items() if k != "sign"}
    assert post_render(client, keys["signer"], unsigned).status_code == 200


def test_sign_needs_its_scope_and_the_electronic_variant(client, keys):
    body = {"case": unique(), "forms": ["by-act"], "formats": ["xml"], "sign": {"level": "B-B"}}
    is_problem(post_render(client, keys["render"], body), 403, "forbidden")
    problem = is_problem(post_render(client, keys["signer"], dict(body, variant="paper")), 422, "invalid-request")
    assert problem["errors"][0]["path"] == "variant"
    problem = is_problem(post_render(client, keys["signer"], dict(body, sign={"profile": "configured"})), 422,
                         "invalid-request")  # fmt: skip
    assert problem["errors"][0]["path"] == "sign.profile"


def test_invalid_case_is_422_with_every_problem_and_nothing_stored(client, keys, service):
    body = unique()
    body["patient"]["sex"] = "x"
    body["patient"]["birth_date"] = "1899-12-31"
    del body["jurisdiction"]
    before = _count(service, "api_jobs")
    problem = is_problem(post_render(client, keys["render"], {"case": body}), 422, "invalid-case")
    paths = {e["path"] for e in problem["errors"]}
    assert {"case.patient.sex", "case.jurisdiction"} <= paths or {"case.patient.sex"} <= paths, paths
    assert all("x" != e["message"] for e in problem["errors"])
    assert _count(service, "api_jobs") == before


def _count(service, table: str) -> int:
    import sqlalchemy as sa

    with service.store.engine.connect() as conn:
        return int(conn.execute(sa.text(f"SELECT count(*) FROM {table}")).scalar_one())


BAD_CASES = sorted(p.name for p in BAD.glob("*.json") if p.name in EXPECTED and p.name != "expected.json")


@pytest.mark.parametrize("name", BAD_CASES)
def test_bad_fixtures_give_the_cli_problem_with_its_json_path(client, keys, name):
    raw = (BAD / name).read_bytes()
    expected = EXPECTED[name]
    answer = post_render(client, keys["render"], b'{"case": ' + raw + b"}")
    assert answer.status_code in (400, 422), answer.text
    problem = answer.json()
    path = expected["path"]
    wanted = "case" if path in ("(case)",) else (path if path.startswith("(") else f"case.{path}")
    contains = re.sub(r"offset \d+", "offset", expected["contains"])  # the body's prefix moves offsets
    found = [e for e in problem.get("errors", []) if contains in re.sub(r"offset \d+", "offset", e["message"])]
    assert found, problem
    if "nested" in contains and not path.startswith("(file"):  # one level more in the envelope: cut one earlier
        assert all(e["path"].startswith("case.notes.a[0]") for e in found), found
    elif not path.startswith("(file"):
        assert any(e["path"] == wanted for e in found), (wanted, found)


def test_envelope_errors_are_422_with_paths(client, keys):
    problem = is_problem(post_render(client, keys["render"], {"case": unique(), "formats": ["rtf"], "x": 1}), 422,
                         "invalid-request")  # fmt: skip
    assert {e["path"] for e in problem["errors"]} == {"formats[0]", "x"}
    problem = is_problem(post_render(client, keys["render"], {"forms": "all"}), 422, "invalid-request")
    assert problem["errors"][0]["path"] == "case"


def test_unknown_and_inapplicable_forms(client, keys):
    problem = is_problem(post_render(client, keys["render"], {"case": unique(), "forms": ["nope"]}), 422,
                         "unknown-form")  # fmt: skip
    assert problem["errors"][0]["path"] == "forms"
    is_problem(post_render(client, keys["render"], {"case": unique(), "forms": ["ru-extract"]}), 422,
               "form-not-applicable")  # fmt: skip


def test_invalid_json_and_duplicate_keys_are_400(client, keys):
    is_problem(post_render(client, keys["render"], b'{"case": {'), 400, "invalid-json")
    problem = is_problem(post_render(client, keys["render"], b'{"case": {}, "case": {}}'), 400, "invalid-json")
    assert problem["errors"][0]["path"] == "case" and "twice" in problem["errors"][0]["message"]


def test_render_wrong_content_type_is_415(client, keys):
    answer = client.post("/v1/renders", content=b"case", headers=auth(keys["render"], **{
        "Content-Type": "text/plain", "Idempotency-Key": "x"}))  # fmt: skip
    is_problem(answer, 415, "unsupported-media-type")


def test_full_queue_is_429_with_retry_after(client, keys, service):
    for _ in range(service.pool.capacity):
        service.pool.reserve()
    try:
        answer = post_render(client, keys["render"], {"case": unique(), "forms": ["by-act"], "formats": ["xml"]})
        is_problem(answer, 429, "queue-full")
        assert int(answer.headers["retry-after"]) >= 1
        # refused before the body is read, even without a key; a job is still queued
        assert client.post("/v1/renders", content=b"{").status_code == 429
        queued = post_render(client, keys["render"], {"case": unique(), "forms": ["by-act"], "formats": ["xml"]},
                             Prefer="respond-async")  # fmt: skip
        assert queued.status_code == 202, queued.text
    finally:
        for _ in range(service.pool.capacity):
            service.pool.unreserve()


def test_full_job_queue_is_429(client, keys, service, monkeypatch):
    monkeypatch.setattr(service, "config", dataclasses.replace(service.config, max_queued_jobs=0))
    answer = post_render(client, keys["render"], {"case": unique()}, **{"Prefer": "respond-async"})
    is_problem(answer, 429, "queue-full")
    assert answer.headers["retry-after"]


# -- jobs ------------------------------------------------------------------------------------


def wait_job(client, token: str, location: str, timeout: float = 120) -> dict:
    import time

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        status = client.get(location, headers=auth(token)).json()
        if status["state"] in ("succeeded", "failed", "cancelled"):
            return status
        time.sleep(0.2)
    raise AssertionError(f"job {location} still {status['state']}")


def test_async_render_job_lifecycle(client, keys):
    body = {"case": unique(), "forms": ["by-act", "by-conclusion"], "formats": ["xml"]}
    key = uuid.uuid4().hex
    answer = post_render(client, keys["render"], body, key, Prefer="respond-async")
    assert answer.status_code == 202, answer.text
    location = answer.headers["location"]
    assert answer.headers["preference-applied"] == "respond-async"
    assert answer.json()["state"] in ("queued", "running", "succeeded")
    # RFC 3339 with the zone, as format: date-time requires (the stores keep naive UTC)
    assert dt.datetime.fromisoformat(answer.json()["created_at"]).utcoffset() == dt.timedelta(0)
    again = post_render(client, keys["render"], body, key, Prefer="respond-async")
    assert again.status_code == 202 and again.headers["location"] == location
    status = wait_job(client, keys["render"], location)
    assert status["state"] == "succeeded" and status["progress"] == 100
    assert [o["name"] for o in status["outputs"]] == ["by-act.xml", "by-conclusion.xml"]
    out = client.get(status["outputs"][0]["href"], headers=auth(keys["render"]))
    assert out.status_code == 200 and out.headers["content-type"].startswith("application/xml")
    manifest = client.get(f"{location}/outputs/manifest.json", headers=auth(keys["render"])).json()
    assert manifest["files"][0]["sha256"] == status["outputs"][0]["sha256"]
    is_problem(client.get(f"{location}/outputs/nope.pdf", headers=auth(keys["render"])), 404, "not-found")
    # another key does not see it; admin does
    is_problem(client.get(location, headers=auth(keys["other"])), 404, "not-found")
    assert client.get(location, headers=auth(keys["admin"])).status_code == 200
    assert client.delete(location, headers=auth(keys["render"])).status_code == 204
    is_problem(client.get(location, headers=auth(keys["render"])), 404, "not-found")
    is_problem(post_render(client, keys["render"], body, key, Prefer="respond-async"), 410, "job-deleted")


def test_failed_job_carries_its_problem_and_issues_nothing(client, keys, service, monkeypatch, tmp_path):
    broken = tmp_path / "signing.toml"
    broken.write_text("[signing]\nlevel = 'nonsense'\n")
    monkeypatch.setattr(service, "config", dataclasses.replace(service.config, signing_config=str(broken)))
    sign = {"level": "B-B", "profile": "configured"}
    body = {"case": unique(), "forms": ["by-act"], "formats": ["xml"], "sign": sign}
    answer = post_render(client, keys["signer"], body)
    problem = answer.json()
    assert answer.status_code == 422 and problem["type"] == "/v1/problems/invalid-input", answer.text
    assert "signing configuration" in problem["detail"]
    job = client.get(problem["job"], headers=auth(keys["signer"])).json()
    assert job["state"] == "failed" and job["error"]["detail"] == problem["detail"] and job["issued"] == []
    monkeypatch.undo()
    assert post_render(client, keys["signer"], dict(body, sign={"level": "B-B"})).status_code == 200


def test_unknown_job_is_404(client, keys):
    is_problem(client.get("/v1/jobs/" + "0" * 32, headers=auth(keys["render"])), 404, "not-found")
    is_problem(client.get("/v1/jobs/not-an-id", headers=auth(keys["render"])), 404, "not-found")
    is_problem(client.delete("/v1/jobs/" + "0" * 32, headers=auth(keys["render"])), 404, "not-found")


def test_no_personal_data_in_the_log(client, keys, caplog):
    body = unique()
    with caplog.at_level(logging.DEBUG):
        post_render(client, keys["render"], {"case": body, "forms": ["by-act"], "formats": ["xml"]})
        bad = copy.deepcopy(body)
        bad["patient"]["sex"] = "Ковалёў"
        post_render(client, keys["render"], {"case": bad})
    text = "\n".join(r.getMessage() for r in caplog.records)
    assert "POST /v1/renders 200" in text and "POST /v1/renders 422" in text
    for value in ("Ковалёў", "Андрэй", body["patient"]["id_number"], "Сухая"):
        assert value not in text


def test_every_fixture_case_is_accepted(client, keys):
    for path in sorted(CASES.glob("*.json")):
        body = unique(Path(path).stem)
        answer = post_render(client, keys["render"], {"case": body, "formats": ["xml"]}, Prefer="respond-async")
        if path.stem == "ru_recognised_group_ii":  # no form of this set applies to it
            is_problem(answer, 422, "form-not-applicable")
        else:
            assert answer.status_code == 202, (path.name, answer.text)


def test_metrics_for_admin_only(client, keys):
    post_render(client, keys["render"], {"case": unique(), "forms": ["by-act"], "formats": ["xml"]})
    answer = client.get("/metrics", headers=auth(keys["admin"]))
    assert answer.status_code == 200 and answer.headers["content-type"].startswith("text/plain; version=0.0.4")
    text = answer.text
    assert 'msedocs_http_requests_total{method="POST",route="/v1/renders",status="200"}' in text
    assert 'msedocs_jobs{state="succeeded"}' in text and "msedocs_render_pool_capacity 3" in text
    assert "/v1/jobs/" + "0" * 4 not in text  # routes are templates, never ids
    is_problem(client.get("/metrics", headers=auth(keys["render"])), 403, "forbidden")
    is_problem(client.get("/metrics"), 401, "unauthorized")
