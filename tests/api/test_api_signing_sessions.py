"""Two-step signing (PAdES): POST /v1/signing-sessions returns the data to sign with frozen
parameters; the key holder signs it elsewhere (here: the TEST PKI's key, loaded by the test, as a
token would); PUT …/signature completes the PDF, which verifies at its level."""

from __future__ import annotations

import base64
import datetime as dt
import uuid
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding
from cryptography.hazmat.primitives.serialization import Encoding, pkcs12

from signing.pki import pki_password

from .conftest import auth
from .test_api_http import is_problem, post_render, unique


def holder(service, role: str = "chairman"):
    """A key held elsewhere: the private key, its certificate (PEM) and its CA (PEM)."""
    keys = Path(service.config.pki_dir) / "keys"
    found = keys / f"{role}.p12"
    if not found.exists():
        found = sorted(keys.glob("*.p12"))[0]
    key, cert, extra = pkcs12.load_key_and_certificates(found.read_bytes(), pki_password().encode())
    return key, cert.public_bytes(Encoding.PEM).decode(), [c.public_bytes(Encoding.PEM).decode() for c in extra]


def sign(key, session: dict) -> str:
    data = base64.b64decode(session["data_to_sign"])
    return base64.b64encode(key.sign(data, padding.PKCS1v15(), hashes.SHA256())).decode()


def open_session(client, token: str, body: dict, idem: str | None = None):
    return client.post("/v1/signing-sessions", json=body,
                       headers=auth(token, **{"Idempotency-Key": idem or uuid.uuid4().hex}))  # fmt: skip


def put(client, token: str, session: dict, signature: str):
    return client.put(f"/v1/signing-sessions/{session['id']}/signature", json={"signature": signature},
                      headers=auth(token))  # fmt: skip


def verify(client, keys, pdf: bytes) -> dict:
    answer = client.post("/v1/signatures/validate", files={"file": ("signed.pdf", pdf, "application/pdf")},
                         headers=auth(keys["validate"]))  # fmt: skip
    assert answer.status_code == 200, answer.text
    return answer.json()


@pytest.fixture
def rendered(client, keys):
    """An unsigned electronic act, rendered by the service: (job id, case)."""
    body = {"case": unique(), "forms": ["by-act"], "formats": ["pdf"], "variant": "electronic"}
    answer = post_render(client, keys["signer"], body)
    assert answer.status_code == 200, answer.text
    return answer.headers["x-job-id"], body["case"]


def test_a_rendered_pdf_signed_in_two_steps_at_b_t(client, keys, service, rendered):
    key, cert, chain = holder(service)
    body = {"document": {"job": rendered[0], "output": "by-act.pdf"}, "certificate": cert, "chain": chain,
            "level": "B-T", "role": "Председатель комиссии"}  # fmt: skip
    idem = uuid.uuid4().hex
    answer = open_session(client, keys["signer"], body, idem)
    assert answer.status_code == 201, answer.text
    session = answer.json()
    assert answer.headers["location"] == f"/v1/signing-sessions/{session['id']}"
    assert session["state"] == "awaiting-signature" and session["format"] == "PAdES" and session["level"] == "B-T"
    assert session["case_id"] == rendered[1]["case_id"] and session["document"] == "by-act.pdf"
    assert session["certificate"]["signature_algorithm"].startswith("RSASSA-PKCS1-v1_5")
    signing_time = dt.datetime.fromisoformat(session["signing_time"])
    assert abs((dt.datetime.now(dt.UTC).replace(tzinfo=None) - signing_time.replace(tzinfo=None)).total_seconds()) < 120
    data = base64.b64decode(session["data_to_sign"])
    assert data[0] == 0x31  # the DER SET of the signed attributes
    assert bytes.fromhex(session["document_digest"]) in data  # the message-digest attribute
    # frozen: reading it again (or replaying the request) gives the same data to sign
    assert client.get(answer.headers["location"], headers=auth(keys["signer"])).json() == session
    replay = open_session(client, keys["signer"], body, idem)
    assert replay.status_code == 200 and replay.headers["idempotent-replayed"] == "true"
    assert replay.json()["data_to_sign"] == session["data_to_sign"]
    is_problem(open_session(client, keys["signer"], dict(body, level="B-B"), idem), 409, "idempotency-key-reused")
    # the document is not there yet
    is_problem(client.get(f"{answer.headers['location']}/document", headers=auth(keys["signer"])), 409,
               "session-closed")  # fmt: skip
    signature = sign(key, session)
    done = put(client, keys["signer"], session, signature)
    assert done.status_code == 200, done.text
    assert done.json()["state"] == "completed" and done.json()["data_to_sign"] == session["data_to_sign"]
    pdf = client.get(done.json()["signed_document"], headers=auth(keys["signer"]))
    assert pdf.status_code == 200 and pdf.headers["content-type"] == "application/pdf"
    report = verify(client, keys, pdf.content)
    assert report["passed"] is True, report
    (sig,) = report["signatures"]
    assert sig["indication"] == "TOTAL_PASSED" and sig["level"] == "B-T", sig
    # the same value again: the same answer; another value: 409; the document is issued once
    assert put(client, keys["signer"], session, signature).status_code == 200
    other = base64.b64encode(key.sign(b"other", padding.PKCS1v15(), hashes.SHA256())).decode()
    is_problem(put(client, keys["signer"], session, other), 409, "session-closed")
    again = open_session(client, keys["signer"], body)
    assert is_problem(again, 409, "already-issued")["issued_by"][0]["job"] == session["id"]


def test_a_render_request_signed_in_two_steps_at_b_b_and_a_wrong_value_refused(client, keys, service):
    key, cert, chain = holder(service)
    other_key, _, _ = holder(service, "bureau_head")
    body = {"render": {"case": unique(), "form": "by-act"}, "certificate": cert, "chain": chain, "level": "B-B"}
    answer = open_session(client, keys["signer"], body)
    assert answer.status_code == 201, answer.text
    session = answer.json()
    wrong = put(client, keys["signer"], session, sign(other_key, session))
    assert is_problem(wrong, 422, "invalid-request")["errors"][0]["path"] == "signature"
    is_problem(put(client, keys["signer"], session, "not base64!"), 422, "invalid-request")
    assert client.get(f"/v1/signing-sessions/{session['id']}", headers=auth(keys["signer"])).json()["state"] == (
        "awaiting-signature"
    )
    done = put(client, keys["signer"], session, sign(key, session))
    assert done.status_code == 200, done.text
    pdf = client.get(done.json()["signed_document"], headers=auth(keys["signer"])).content
    report = verify(client, keys, pdf)
    assert report["passed"] is True and report["signatures"][0]["level"] == "B-B", report


def test_an_expired_session_takes_no_signature(client, keys, service, monkeypatch):
    key, cert, chain = holder(service)
    body = {"render": {"case": unique(), "form": "by-act"}, "certificate": cert, "chain": chain, "level": "B-B"}
    session = open_session(client, keys["signer"], body).json()
    later = service.store.clock() + dt.timedelta(seconds=service.config.session_ttl + 1)
    monkeypatch.setattr(service.store, "clock", lambda: later)
    assert client.get(f"/v1/signing-sessions/{session['id']}", headers=auth(keys["signer"])).json()["state"] == (
        "expired"
    )
    is_problem(put(client, keys["signer"], session, sign(key, session)), 410, "session-expired")


def test_signing_session_errors(client, keys, service, rendered):
    _, cert, chain = holder(service)
    base = {"document": {"job": rendered[0], "output": "by-act.pdf"}, "certificate": cert}
    is_problem(open_session(client, keys["render"], base), 403, "forbidden")
    problem = is_problem(open_session(client, keys["signer"], dict(base, certificate="nonsense!")), 422,
                         "invalid-request")  # fmt: skip
    assert problem["errors"][0]["path"] == "certificate"
    not_a_cert = base64.b64encode(b"hello").decode()
    is_problem(open_session(client, keys["signer"], dict(base, certificate=not_a_cert)), 422, "invalid-request")
    is_problem(open_session(client, keys["signer"], dict(base, level="B-LTA")), 422, "invalid-request")
    is_problem(open_session(client, keys["signer"], {"certificate": cert}), 422, "invalid-request")
    missing = dict(base, document={"job": "0" * 32, "output": "by-act.pdf"})
    is_problem(open_session(client, keys["signer"], missing), 404, "not-found")
    bad_case = {"render": {"case": {"case_id": "x"}, "form": "by-act"}, "certificate": cert}
    assert is_problem(open_session(client, keys["signer"], bad_case), 422, "invalid-case")["errors"][0][
        "path"].startswith("render.case")
    is_problem(client.get("/v1/signing-sessions/" + "0" * 32, headers=auth(keys["signer"])), 404, "not-found")
    is_problem(client.post("/v1/signing-sessions", json=base, headers=auth(keys["signer"])), 400,
               "idempotency-key-required")  # fmt: skip
