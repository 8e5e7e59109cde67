"""A CSC remote signing service as a key source of two-step signing: pyHanko's CSCSigner against
certomancer-csc-dummy (from PyPI), run as a subprocess on 127.0.0.1 with a certomancer PKI made
here. Skipped loudly if the dummy cannot run; under CI=true that is a failure."""

from __future__ import annotations

import base64
import dataclasses
import io
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from .conftest import auth, free_port
from .test_api_http import is_problem, unique
from .test_api_signing_sessions import open_session

CONFIG = """\
external-url-prefix: "http://127.0.0.1:{port}"
keysets:
  testing-ca:
    path-prefix: keys
    keys:
      root:
        path: root.key.pem
      signer:
        path: signer.key.pem
pki-architectures:
  testing-ca:
    keyset: testing-ca
    entity-defaults:
      country-name: BY
      organization-name: TEST remote signing service (not valid for real use)
    entities:
      root:
        common-name: TEST CSC Root
      signer:
        common-name: TEST Председатель комиссии
    certs:
      root:
        subject: root
        issuer: root
        validity:
          valid-from: "2020-01-01T00:00:00+0000"
          valid-to: "2100-01-01T00:00:00+0000"
        extensions:
          - id: basic_constraints
            critical: true
            value:
              ca: true
          - id: key_usage
            critical: true
            smart-value:
              schema: key-usage
              params: [digital_signature, key_cert_sign, crl_sign]
      signer:
        subject: signer
        issuer: root
        validity:
          valid-from: "2020-01-01T00:00:00+0000"
          valid-to: "2100-01-01T00:00:00+0000"
        extensions:
          - id: key_usage
            critical: true
            smart-value:
              schema: key-usage
              params: [digital_signature, non_repudiation]
"""
CREDENTIAL = "testing-ca/signer"


@pytest.fixture(scope="module")
def csc(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """certomancer-csc-dummy on a free port, with hash pinning required; its base URL."""
    folder = tmp_path_factory.mktemp("csc")
    (folder / "keys").mkdir()
    for name in ("root", "signer"):
        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        (folder / "keys" / f"{name}.key.pem").write_bytes(key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))  # fmt: skip
    port = free_port()
    (folder / "certomancer.yml").write_text(CONFIG.format(port=port), encoding="utf-8")
    log = (folder / "csc.log").open("wb")
    proc = subprocess.Popen([sys.executable, "-m", "csc_dummy", str(folder / "certomancer.yml"), str(port), "2"],
                            cwd=folder, stdout=log, stderr=subprocess.STDOUT)  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    ready = False
    while time.monotonic() < deadline and proc.poll() is None:
        try:
            ready = httpx.get(url + "/info", timeout=2).status_code == 200
        except httpx.HTTPError:
            pass
        if ready:
            break
        time.sleep(0.2)
    if not ready:
        proc.kill()
        log.close()
        why = (folder / "csc.log").read_text(errors="replace")[-1500:]
        if os.environ.get("CI") == "true":
            pytest.fail(f"certomancer-csc-dummy did not start: {why}")
        pytest.skip(f"!!! certomancer-csc-dummy did not start here; CSC tests SKIPPED !!! {why}")
    yield url
    proc.terminate()
    proc.wait(10)
    log.close()


def authorize(url: str, session: dict) -> str:
    """What the key holder does at the CSC service: authorize one signature of this hash (SAD)."""
    answer = httpx.post(url + "/csc/v1/credentials/authorize", timeout=30, json={
        "credentialID": CREDENTIAL, "numSignatures": 1, "hash": [session["data_to_sign_sha256"]]})  # fmt: skip
    assert answer.status_code == 200, answer.text
    return str(answer.json()["SAD"])


def test_a_csc_credential_signs_a_rendered_act(client, keys, service, monkeypatch, csc):
    monkeypatch.setattr(service, "config", dataclasses.replace(service.config, csc_services=(csc + "/",)))
    body = {"render": {"case": unique(), "form": "by-act"}, "csc": {"service": csc, "credential_id": CREDENTIAL},
            "level": "B-T", "role": "Председатель комиссии"}  # fmt: skip
    answer = open_session(client, keys["signer"], body)
    assert answer.status_code == 201, answer.text
    session = answer.json()
    assert session["key_source"] == "csc" and session["csc"] == {"service": csc, "credential_id": CREDENTIAL}
    assert "TEST Председатель комиссии" in session["certificate"]["subject"]
    # a SAD pinned to another hash is refused by the service: 422, the session still open
    other = dict(session, data_to_sign_sha256=base64.b64encode(bytes(32)).decode())
    wrong = client.put(f"/v1/signing-sessions/{session['id']}/signature", json={"csc": {"sad": authorize(csc, other)}},
                       headers=auth(keys["signer"]))  # fmt: skip
    assert is_problem(wrong, 422, "invalid-request")["errors"][0]["path"] == "csc.sad"
    is_problem(client.put(f"/v1/signing-sessions/{session['id']}/signature", json={"signature": "AAAA"},
                          headers=auth(keys["signer"])), 422, "invalid-request")  # fmt: skip
    done = client.put(f"/v1/signing-sessions/{session['id']}/signature", json={"csc": {"sad": authorize(csc, session)}},
                      headers=auth(keys["signer"]))  # fmt: skip
    assert done.status_code == 200, done.text
    pdf = client.get(done.json()["signed_document"], headers=auth(keys["signer"])).content
    status = _validate(pdf, csc, Path(service.config.pki_dir) / "root-ca.pem")
    assert status.intact and status.valid and status.trusted, status.pretty_print_details()
    assert status.timestamp_validity is not None and status.timestamp_validity.intact  # B-T: the service's timestamp


def test_only_configured_csc_services_are_called(client, keys, service, monkeypatch, csc):
    monkeypatch.setattr(service, "config", dataclasses.replace(service.config, csc_services=()))
    body = {"render": {"case": unique(), "form": "by-act"}, "csc": {"service": csc, "credential_id": CREDENTIAL}}
    problem = is_problem(open_session(client, keys["signer"], body), 422, "invalid-request")
    assert problem["errors"][0]["path"] == "csc.service"
    monkeypatch.setattr(service, "config", dataclasses.replace(service.config, csc_services=(csc,)))
    unknown = {**body, "csc": {"service": csc, "credential_id": "testing-ca/nobody"}}
    assert is_problem(open_session(client, keys["signer"], unknown), 422, "invalid-request")["errors"][0][
        "path"] == "csc.credential_id"
    both = {**body, "certificate": "AAAA"}
    is_problem(open_session(client, keys["signer"], both), 422, "invalid-request")


def _validate(pdf: bytes, csc: str, tsa_root: Path):
    """pyHanko's own validation of the signature, trusting the CSC service's root."""
    from asn1crypto import x509 as asn1_x509
    from pyhanko.pdf_utils.reader import PdfFileReader
    from pyhanko.sign.validation import validate_pdf_signature
    from pyhanko_certvalidator import ValidationContext

    info = httpx.post(csc + "/csc/v1/credentials/info", json={"credentialID": CREDENTIAL, "certificates": "chain"},
                      timeout=30).json()  # fmt: skip
    certs = [asn1_x509.Certificate.load(base64.b64decode(c)) for c in info["cert"]["certificates"]]
    roots = [c for c in certs if c.self_signed]
    (sig,) = PdfFileReader(io.BytesIO(pdf)).embedded_signatures
    from asn1crypto import pem

    _, _, der = pem.unarmor(tsa_root.read_bytes())  # the timestamp is the service's own TSA's
    return validate_pdf_signature(
        sig, ValidationContext(trust_roots=roots, allow_fetching=False, revocation_mode="soft-fail"),
        ts_validation_context=ValidationContext(trust_roots=[asn1_x509.Certificate.load(der)], allow_fetching=False,
                                                revocation_mode="soft-fail"),
    )
