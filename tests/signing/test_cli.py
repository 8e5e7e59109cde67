"""The CLI pieces the lead mounts: `pki init`, `pki serve`, `verify` with exit codes 0/1/2."""

from __future__ import annotations

import base64
import json
import threading
import urllib.parse
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import typer
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.x509 import ocsp
from typer.testing import CliRunner

from signing import Level, SigningProfile, TestPki, serve, sign_detached, sign_xml, verify_xml
from signing.cli import pki_app, verify_cmd

app = typer.Typer()
app.add_typer(pki_app, name="pki")
app.command("verify")(verify_cmd)
runner = CliRunner()


def test_pki_init(tmp_path: Path) -> None:
    r = runner.invoke(app, ["pki", "init", str(tmp_path / "p")])
    assert r.exit_code == 0, r.output
    assert "TEST" in r.output and (tmp_path / "p" / "root-ca.pem").is_file()
    again = runner.invoke(app, ["pki", "init", str(tmp_path / "p")])
    assert again.exit_code == 2 and "already holds" in again.output


@pytest.fixture(scope="module")
def files(tmp_path_factory, profiles: dict[Level, SigningProfile], sample_xml: bytes) -> dict[str, Path]:
    d = tmp_path_factory.mktemp("cli")
    p = profiles[Level.B_T]
    good = d / "good.xml"
    good.write_bytes(sign_xml(sample_xml, p.signers_for(["chairman", "member1"]), p))
    bad = d / "bad.xml"
    bad.write_bytes(good.read_bytes().replace("Иванов".encode(), "Петров".encode()))
    docx = d / "f.docx"
    docx.write_bytes(b"docx")
    (d / "f.docx.p7s").write_bytes(sign_detached(b"docx", p.signers_for(["chairman"]), p))
    unknown = d / "f.bin"
    unknown.write_bytes(b"\x00\x01")
    return {"good": good, "bad": bad, "docx": docx, "unknown": unknown, "missing": d / "nope.xml"}


def test_verify_exit_codes(files: dict[str, Path], pki: TestPki) -> None:
    ok = runner.invoke(app, ["verify", str(files["good"]), "--pki", str(pki.dir)])
    assert ok.exit_code == 0, ok.output
    assert "TOTAL_PASSED" in ok.output and "Председатель МРЭК" in ok.output
    assert runner.invoke(app, ["verify", str(files["docx"]), "--pki", str(pki.dir)]).exit_code == 0
    bad = runner.invoke(app, ["verify", str(files["bad"]), "--pki", str(pki.dir)])
    assert bad.exit_code == 1 and "HASH_FAILURE" in bad.output
    for name in ("unknown", "missing"):
        r = runner.invoke(app, ["verify", str(files[name]), "--pki", str(pki.dir)])
        assert r.exit_code == 2, r.output
        assert "Traceback" not in r.output
    lvl = runner.invoke(app, ["verify", str(files["good"]), "--pki", str(pki.dir), "--require-level", "B-LT"])
    assert lvl.exit_code == 1 and "SIG_CONSTRAINTS_FAILURE" in lvl.output


def test_verify_json(files: dict[str, Path], pki: TestPki) -> None:
    r = runner.invoke(app, ["verify", str(files["good"]), "--pki", str(pki.dir), "--json"])
    assert r.exit_code == 0
    data = json.loads(r.output)
    assert data["passed"] is True and data["format"] == "XML"
    sig = data["signatures"][0]
    assert sig["indication"] == "TOTAL_PASSED" and sig["level"] == "B-T"
    assert sig["role"] == "Председатель МРЭК" and sig["timestamp_time"]
    assert sig["qualified"]["qc_compliance"] is True and sig["covers"].startswith("/Conclusion")


@pytest.fixture(scope="module")
def server(pki: TestPki) -> Iterator[str]:
    srv = serve(pki.dir, "127.0.0.1", 0)
    t = threading.Thread(target=srv.serve_forever, daemon=True)
    t.start()
    yield f"http://127.0.0.1:{srv.server_address[1]}"
    srv.shutdown()
    srv.server_close()


def test_served_ocsp_and_crl(server: str, pki: TestPki) -> None:
    for role, status in (("chairman", ocsp.OCSPCertStatus.GOOD), ("revoked", ocsp.OCSPCertStatus.REVOKED)):
        req = ocsp.OCSPRequestBuilder().add_certificate(pki.signers[role], pki.ca, hashes.SHA256()).build()
        r = httpx.post(
            f"{server}/ocsp",
            content=req.public_bytes(serialization.Encoding.DER),
            headers={"Content-Type": "application/ocsp-request"},
        )
        resp = ocsp.load_der_ocsp_response(r.content)
        assert resp.response_status is ocsp.OCSPResponseStatus.SUCCESSFUL
        assert resp.certificate_status is status
        resp.responder_key_hash  # noqa: B018
        # GET: base64, then URL-encoded as RFC 6960 A.1 asks (NSS, so pdfsig, sends it so)
        encoded = urllib.parse.quote(base64.b64encode(req.public_bytes(serialization.Encoding.DER)).decode(), safe="")
        assert "%2B" in encoded or "%2F" in encoded or "%3D" in encoded
        got = ocsp.load_der_ocsp_response(httpx.get(f"{server}/ocsp/{encoded}").content)
        assert got.response_status is ocsp.OCSPResponseStatus.SUCCESSFUL and got.certificate_status is status
    crl = x509.load_der_x509_crl(httpx.get(f"{server}/crl/ca.crl").content)
    assert crl.is_signature_valid(pki.ca.public_key())
    assert crl.get_revoked_certificate_by_serial_number(pki.signers["revoked"].serial_number) is not None
    assert httpx.get(f"{server}/nothing").status_code == 404


def test_sign_with_served_tsa(server: str, pki: TestPki, sample_xml: bytes) -> None:
    from dataclasses import replace

    from signing import pki_profile

    prof = replace(pki_profile(pki.dir, Level.B_T), tsa_url=f"{server}/tsa")
    signed = sign_xml(sample_xml, prof.signers_for(["member2"]), prof)
    report = verify_xml(signed, pki_dir=pki.dir, required_level="B-T")
    assert report.passed, report.to_json()


def test_openssl_checks_served_tsa_and_ocsp(server: str, pki: TestPki, tmp_path: Path) -> None:
    from .helpers import need, run

    need("openssl")
    data = tmp_path / "data.bin"
    data.write_bytes(b"document bytes")
    r = run("openssl", "ts", "-query", "-data", data, "-sha256", "-cert", "-out", tmp_path / "req.tsq")
    assert r.returncode == 0, r.stderr
    resp = httpx.post(
        f"{server}/tsa",
        content=(tmp_path / "req.tsq").read_bytes(),
        headers={"Content-Type": "application/timestamp-query"},
    )
    (tmp_path / "resp.tsr").write_bytes(resp.content)
    v = run(
        "openssl", "ts", "-verify", "-in", tmp_path / "resp.tsr", "-queryfile", tmp_path / "req.tsq",
        "-CAfile", pki.root_path, "-untrusted", pki.dir / "ca.pem",
    )  # fmt: skip
    assert v.returncode == 0 and "Verification: OK" in v.stdout, v.stdout + v.stderr
    for role, expect in (("chairman", ": good"), ("revoked", ": revoked")):
        o = run(
            "openssl", "ocsp", "-issuer", pki.dir / "ca.pem", "-cert", pki.cert_path(role),
            "-url", f"{server}/ocsp", "-CAfile", pki.root_path, "-verify_other", pki.dir / "ca.pem",
        )  # fmt: skip
        assert "Response verify OK" in o.stderr + o.stdout, o.stdout + o.stderr
        assert expect in o.stdout


def test_verify_bad_pki_dir(files: dict[str, Path], tmp_path: Path) -> None:
    r = runner.invoke(app, ["verify", str(files["good"]), "--pki", str(tmp_path / "none")])
    assert r.exit_code == 2 and "not a test PKI" in r.output
    r = runner.invoke(app, ["verify", str(files["good"]), "--require-level", "B-X"])
    assert r.exit_code == 2 and "B-X" in r.output


def test_cli_default_service_url_matches_pki() -> None:
    from signing import cli, pki

    assert cli.DEFAULT_SERVICE_URL == pki.DEFAULT_SERVICE_URL


def test_b_lt_with_everything_fetched_over_http(tmp_path: Path, sample_xml: bytes, sample_pdf: bytes) -> None:
    """No in-process shortcuts: TSA by URL, OCSP and CRLs fetched from the URLs in the certificates."""
    import socket
    from dataclasses import replace

    from signing import init_pki, pki_profile, sign_pdf, verify_pdf

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    url = f"http://127.0.0.1:{port}"
    pki = init_pki(tmp_path / "pki", service_url=url)
    srv = serve(pki.dir, "127.0.0.1", port)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    try:
        base = pki_profile(pki.dir, Level.B_LT)
        prof = replace(
            base, pki_dir=None, tsa_url=f"{url}/tsa", revocation_sources=("fetch",), trust_roots=(pki.root_path,)
        )
        signers = prof.signers_for(["member1"])
        xml_report = verify_xml(sign_xml(sample_xml, signers, prof), trust_roots=[pki.root_path])
        assert xml_report.passed and xml_report.signatures[0].level == "B-LT", xml_report.to_json()
        pdf_report = verify_pdf(sign_pdf(sample_pdf, signers, prof), trust_roots=[pki.root_path])
        assert pdf_report.passed and pdf_report.signatures[0].level == "B-LT", pdf_report.to_json()
    finally:
        srv.shutdown()
        srv.server_close()
