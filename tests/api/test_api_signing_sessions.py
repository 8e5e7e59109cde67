"""Two-step signing (PAdES): POST /v1/signing-sessions returns the data to sign with frozen
parameters; the key holder signs it elsewhere (here: the TEST PKI's key, loaded by the test, as a
token would); PUT …/signature completes the PDF, which verifies at its level.

B-LT and B-LTA sessions are checked by ``msedocs verify --require-level``, by stock pyHanko (its
EN 319 102-1 LTA validation and the ``pyhanko sign adesverify`` command, trusting only the
service's TEST root; the root's service URL has no listener here, so whatever makes a signature
pass is inside the PDF) and by poppler's pdfsig (NSS, trusting only that root)."""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import subprocess
import uuid
from io import BytesIO
from pathlib import Path

import pytest
from asn1crypto import cms
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding
from cryptography.hazmat.primitives.serialization import Encoding, pkcs12
from cryptography.x509.oid import NameOID
from pyhanko.pdf_utils import generic
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
from pyhanko.pdf_utils.reader import PdfFileReader

from msedocs.api.engine import SESSION_RESERVED
from signing.pki import load_pki, pki_password
from tests.signing.nss import CERT_TRUSTED, CERT_UNTRUSTED_ISSUER, SIGNATURE_VALID, nss_db, pdfsig
from tests.signing.test_lta import adesverify, stock_ades

from .conftest import MSEDOCS, auth
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
    is_problem(open_session(client, keys["signer"], dict(base, level="B-LTB")), 422, "invalid-request")
    is_problem(open_session(client, keys["signer"], {"certificate": cert}), 422, "invalid-request")
    missing = dict(base, document={"job": "0" * 32, "output": "by-act.pdf"})
    is_problem(open_session(client, keys["signer"], missing), 404, "not-found")
    bad_case = {"render": {"case": {"case_id": "x"}, "form": "by-act"}, "certificate": cert}
    assert is_problem(open_session(client, keys["signer"], bad_case), 422, "invalid-case")["errors"][0][
        "path"].startswith("render.case")
    is_problem(client.get("/v1/signing-sessions/" + "0" * 32, headers=auth(keys["signer"])), 404, "not-found")
    is_problem(client.post("/v1/signing-sessions", json=base, headers=auth(keys["signer"])), 400,
               "idempotency-key-required")  # fmt: skip


# -- B-LT and B-LTA -----------------------------------------------------------------------------


def msedocs_verify(pdf: bytes, service, tmp_path: Path, *args: str) -> tuple[int, str]:
    path = tmp_path / "two-step.pdf"
    path.write_bytes(pdf)
    res = subprocess.run([MSEDOCS, "verify", str(path), "--pki", service.config.pki_dir, *args],
                         capture_output=True, text=True, timeout=300)  # fmt: skip
    return res.returncode, res.stdout + res.stderr


def rotate_first_page(pdf: bytes) -> bytes:
    """An incremental update after the last revision that turns the first page."""
    w = IncrementalPdfFileWriter(BytesIO(pdf), strict=False)
    page = w.root["/Pages"]["/Kids"].raw_get(0).get_object()
    page["/Rotate"] = generic.NumberObject(90)
    w.update_container(page)
    out = BytesIO()
    w.write(out)
    return out.getvalue()


@pytest.fixture(scope="module")
def long_term(client, keys, service) -> dict[str, bytes]:
    """A render request signed in two steps at B-LT and at B-LTA: the completed PDF per level."""
    key, cert, chain = holder(service)
    made = {}
    for level in ("B-LT", "B-LTA"):
        body = {"render": {"case": unique(), "form": "by-act"}, "certificate": cert, "chain": chain, "level": level,
                "role": "Председатель комиссии"}  # fmt: skip
        answer = open_session(client, keys["signer"], body)
        assert answer.status_code == 201, answer.text
        session = answer.json()
        assert session["level"] == level and session["state"] == "awaiting-signature"
        done = put(client, keys["signer"], session, sign(key, session))
        assert done.status_code == 200, done.text
        assert done.json()["level"] == level and done.json()["state"] == "completed"
        made[level] = client.get(done.json()["signed_document"], headers=auth(keys["signer"])).content
    return made


@pytest.mark.parametrize("level", ["B-LT", "B-LTA"])
def test_a_long_term_session_adds_the_dss_and_at_b_lta_a_document_timestamp(long_term, service, level):
    pdf = long_term[level]
    reader = PdfFileReader(BytesIO(pdf))
    (sig,) = reader.embedded_regular_signatures
    assert sig.field_name == "Signature1"
    # the signature (with its signature timestamp) is in the space reserved at the session's start
    hole = list(sig.sig_object["/ByteRange"])
    assert hole[2] - hole[1] == SESSION_RESERVED + 2  # "<" hex digits ">"
    der = cms.ContentInfo({"content_type": "signed_data", "content": sig.signed_data}).dump()
    assert len(der) * 2 < SESSION_RESERVED // 2  # less than half of it
    unsigned = [a["type"].native for a in sig.signer_info["unsigned_attrs"]]
    assert unsigned == ["signature_time_stamp_token"]  # B-T's token is in it
    # the DSS: certificates, OCSP responses and CRLs, added after the signature (not inside it)
    dss = reader.root["/DSS"]
    assert len(dss["/Certs"]) >= 3 and len(dss["/OCSPs"]) >= 1 and len(dss["/CRLs"]) >= 1, dss
    assert hole[2] + hole[3] < len(pdf)  # the signature does not cover the whole file: updates follow it
    timestamps = reader.embedded_timestamp_signatures
    if level == "B-LT":
        assert timestamps == []
    else:
        # then the document timestamp over the signature and that DSS (and after it the DSS for its TSA)
        (ts,) = timestamps
        assert ts.field_name == "ArchiveTimeStamp1" and ts.sig_object["/SubFilter"] == "/ETSI.RFC3161"
        assert ts.signed_revision > sig.signed_revision
        covered = reader.get_historical_root(ts.signed_revision)["/DSS"]
        tsa = load_pki(service.config.pki_dir).tsa.public_bytes(Encoding.DER)
        assert tsa in [c.get_object().data for c in covered["/Certs"]] and len(covered["/OCSPs"]) >= 2
        vri = covered["/VRI"]["/" + hashlib.sha1(sig.pkcs7_content).hexdigest().upper()]
        assert tsa in [c.get_object().data for c in vri["/Cert"]] and len(vri["/OCSP"]) >= 2


@pytest.mark.parametrize("level", ["B-LT", "B-LTA"])
def test_a_long_term_session_verifies_with_msedocs_verify(long_term, service, level, tmp_path):
    rc, text = msedocs_verify(long_term[level], service, tmp_path, "--require-level", level)
    assert rc == 0, text
    assert level in text, text
    if level == "B-LT":  # and no higher: it has no archive timestamp
        rc, text = msedocs_verify(long_term[level], service, tmp_path, "--require-level", "B-LTA")
        assert rc != 0, text
    else:
        assert "archive timestamp 20" in text, text


def test_stock_pyhanko_validates_the_long_term_sessions(long_term, service, tmp_path):
    pki = load_pki(service.config.pki_dir)
    # B-LT: the signature is good, but nothing after it proves when it existed; B-LTA: the document timestamp does
    assert [r[1] for r in stock_ades(long_term["B-LT"], pki)] == ["INDETERMINATE/NO_POE"]
    ((field, indication, poe),) = stock_ades(long_term["B-LTA"], pki)
    assert (field, indication) == ("Signature1", "PASSED/OK") and poe is not None
    rc, out, err = adesverify(long_term["B-LTA"], pki, tmp_path)
    assert rc == 0, out + err
    lines = [line for line in out.splitlines() if line.startswith("Signature")]
    assert len(lines) == 1 and lines[0].split(":")[2] == "INTACT" and ":TRUSTED," in lines[0], out
    assert "No document timestamps after signature" not in err and "ERROR" not in err, err
    rc, out, err = adesverify(long_term["B-LT"], pki, tmp_path)
    assert "No document timestamps after signature" in err, err


@pytest.mark.parametrize("level", ["B-LT", "B-LTA"])
def test_pdfsig_finds_the_long_term_sessions_valid(long_term, service, level, tmp_path):
    """pdfsig (poppler 22.12 here) asks the OCSP responder in the certificate, which does not listen:
    it then reports "Unknown issue" rather than "Trusted" (see tests/signing/nss.py); that the trust
    comes from the root shows against a database without it."""
    root = load_pki(service.config.pki_dir).root_path
    path = tmp_path / "two-step.pdf"
    path.write_bytes(long_term[level])
    ours = pdfsig(path, nss_db(tmp_path / "ours", [root]))
    empty = pdfsig(path, nss_db(tmp_path / "empty"))
    assert len(ours.signatures) == (2 if level == "B-LTA" else 1), ours.out
    sig = ours.signatures[0]
    assert sig.signature == SIGNATURE_VALID and sig.fields["Signature Type"] == "ETSI.CAdES.detached", ours.out
    assert "Not total document signed" in sig.notes, ours.out  # the DSS (and timestamp) come after it
    assert sig.certificate != CERT_UNTRUSTED_ISSUER, ours.out
    assert empty.signatures[0].signature == SIGNATURE_VALID, empty.out
    assert empty.signatures[0].certificate == CERT_UNTRUSTED_ISSUER and CERT_TRUSTED not in empty.out, empty.out
    if level == "B-LTA":
        assert ours.signatures[1].fields["Signature Field Name"] == "ArchiveTimeStamp1", ours.out


def test_a_change_after_the_archive_timestamp_fails(long_term, client, keys, service, tmp_path):
    bad = rotate_first_page(long_term["B-LTA"])
    rc, text = msedocs_verify(bad, service, tmp_path, "--require-level", "B-LTA")
    assert rc != 0, text
    report = verify(client, keys, bad)
    assert report["passed"] is False, report
    rc, out, err = adesverify(bad, load_pki(service.config.pki_dir), tmp_path)
    assert rc != 0 and "ILLEGAL_MODIFICATIONS" in out, out + err
    # untouched, the same service says it passes
    assert verify(client, keys, long_term["B-LTA"])["passed"] is True


def test_a_long_term_session_needs_revocation_information_for_the_certificate(client, keys):
    """A certificate the service has no OCSP or CRL source for: refused at the session's start
    (422 naming level), before anyone signs; at B-T the same certificate is taken."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "TEST foreign signer")])
    now = dt.datetime.now(dt.UTC)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - dt.timedelta(days=1))
            .not_valid_after(now + dt.timedelta(days=30)).sign(key, hashes.SHA256()))  # fmt: skip
    pem = cert.public_bytes(Encoding.PEM).decode()
    for level in ("B-LT", "B-LTA"):
        body = {"render": {"case": unique(), "form": "by-act"}, "certificate": pem, "level": level}
        problem = is_problem(open_session(client, keys["signer"], body), 422, "invalid-request")
        assert problem["errors"][0]["path"] == "level" and "revocation" in problem["detail"], problem
    body = {"render": {"case": unique(), "form": "by-act"}, "certificate": pem, "level": "B-T"}
    assert open_session(client, keys["signer"], body).status_code == 201
