"""B-LTA: an archive timestamp over the signatures and their validation data, in all three formats.

PAdES is checked with stock pyHanko: the ``pyhanko sign adesverify`` command (pyhanko-cli)
and its ``ades_lta_validation`` (EN 319 102-1 5.6.3), offline, with only this module's
test root trusted. The PKI names a service URL on a port nobody listens on, so nothing
can be fetched: whatever makes a signature pass is inside the PDF.
"""

from __future__ import annotations

import asyncio
import base64
import datetime as dt
import hashlib
import shutil
import socket
from io import BytesIO
from pathlib import Path

import pytest
import time_machine
from asn1crypto import cms
from cryptography.hazmat.primitives.serialization import Encoding
from lxml import etree
from pyhanko.pdf_utils import generic
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
from pyhanko.pdf_utils.reader import PdfFileReader

from signing import (
    Level,
    SigningProfile,
    TestPki,
    init_pki,
    pki_profile,
    sign_detached,
    sign_pdf,
    sign_xml,
    verify_detached,
    verify_pdf,
    verify_xml,
)

from .helpers import need, run
from .test_xades import xmlsec_verify

COMMISSION = ["chairman", "member1", "member2"]


@pytest.fixture(scope="module")
def offline_pki(tmp_path_factory: pytest.TempPathFactory) -> TestPki:
    with socket.socket() as s:  # a port that was free a moment ago and that nobody serves
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return init_pki(tmp_path_factory.mktemp("lta") / "pki", service_url=f"http://127.0.0.1:{port}")


@pytest.fixture(scope="module")
def lta_profiles(offline_pki: TestPki) -> dict[Level, SigningProfile]:
    return {level: pki_profile(offline_pki.dir, level) for level in (Level.B_LT, Level.B_LTA)}


@pytest.fixture(scope="module")
def pdfs(lta_profiles: dict[Level, SigningProfile], sample_pdf: bytes) -> dict[Level, bytes]:
    return {level: sign_pdf(sample_pdf, p.signers_for(COMMISSION), p) for level, p in lta_profiles.items()}


def _pyhanko_cli() -> str:
    exe = Path(__file__).resolve().parents[2] / ".venv" / "bin" / "pyhanko"
    found = str(exe) if exe.is_file() else shutil.which("pyhanko")
    if found is None:
        pytest.skip("pyhanko-cli is not installed: the stock adesverify check did NOT run")
    return found


def adesverify(pdf: bytes, pki: TestPki, tmp_path: Path) -> tuple[int, str, str]:
    """Stock ``pyhanko sign adesverify``, trusting only ``pki``'s root (not the OS store)."""
    path = tmp_path / "doc.pdf"
    path.write_bytes(pdf)
    res = run(_pyhanko_cli(), "sign", "adesverify", "--trust", pki.root_path, "--trust-replace", path)
    return res.returncode, res.stdout, res.stderr


def stock_ades(pdf: bytes, pki: TestPki) -> list[tuple[str, str, dt.datetime | None]]:
    """(field, AdES status/sub-indication, oldest archive timestamp) per signature, from pyHanko's
    own EN 319 102-1 LTA validation set up as ``adesverify`` sets it up (revocation information
    required), with only our root trusted and no fetching."""
    from pyhanko.keys import load_cert_from_pemder
    from pyhanko.sign.diff_analysis import DEFAULT_DIFF_POLICY
    from pyhanko.sign.validation.ades import ades_lta_validation
    from pyhanko.sign.validation.policy_decl import PdfSignatureValidationSpec, SignatureValidationSpec
    from pyhanko_certvalidator.context import CertValidationPolicySpec
    from pyhanko_certvalidator.policy_decl import REQUIRE_REVINFO, CertRevTrustPolicy, FreshnessReqType
    from pyhanko_certvalidator.registry import SimpleTrustManager

    rev = CertRevTrustPolicy(
        REQUIRE_REVINFO, freshness=None, freshness_req_type=FreshnessReqType.MAX_DIFF_REVOCATION_VALIDATION
    )
    root = load_cert_from_pemder(str(pki.root_path))
    cert_policy = CertValidationPolicySpec(trust_manager=SimpleTrustManager.build([root]), revinfo_policy=rev)
    spec = PdfSignatureValidationSpec(SignatureValidationSpec(cert_policy), diff_policy=DEFAULT_DIFF_POLICY)
    reader = PdfFileReader(BytesIO(pdf))
    out = []
    for emb in reader.embedded_regular_signatures:
        res = asyncio.run(ades_lta_validation(emb, spec))
        ind = f"{res.ades_subindic.status.name}/{res.ades_subindic.name}"
        out.append((emb.field_name, ind, res.oldest_evidence_record_timestamp))
    return out


# ------------------------------------------------------------------ PAdES


def test_stock_pyhanko_finds_no_proof_of_existence_at_b_lt(pdfs: dict[Level, bytes], offline_pki: TestPki) -> None:
    """What B-LTA is for: at B-LT nothing after the signature proves when it existed."""
    results = stock_ades(pdfs[Level.B_LT], offline_pki)
    assert [r[1] for r in results] == ["INDETERMINATE/NO_POE"] * 3, results
    assert all(r[2] is None for r in results)


def test_stock_pyhanko_passes_b_lta_with_the_document_timestamp_as_proof(
    pdfs: dict[Level, bytes], offline_pki: TestPki
) -> None:
    results = stock_ades(pdfs[Level.B_LTA], offline_pki)
    assert [r[1] for r in results] == ["PASSED/OK"] * 3, results
    ts_time = _doc_timestamp_time(pdfs[Level.B_LTA])
    assert all(r[2] == ts_time for r in results), (results, ts_time)


def test_stock_adesverify_cli(pdfs: dict[Level, bytes], offline_pki: TestPki, tmp_path: Path) -> None:
    rc, out, err = adesverify(pdfs[Level.B_LT], offline_pki, tmp_path)
    assert "No document timestamps after signature" in err, err  # B-LT: no proof of existence
    rc, out, err = adesverify(pdfs[Level.B_LTA], offline_pki, tmp_path)
    assert rc == 0, out + err
    lines = [line for line in out.splitlines() if line.startswith("Signature")]
    assert len(lines) == 3 and all(line.split(":")[2] == "INTACT" and ":TRUSTED," in line for line in lines), out
    assert "No document timestamps after signature" not in err, err
    assert "Validation error" not in err and "ERROR" not in err, err


def _doc_timestamp_time(pdf: bytes) -> dt.datetime:
    reader = PdfFileReader(BytesIO(pdf))
    tss = [s for s in reader.embedded_signatures if s.sig_object.get("/Type") == "/DocTimeStamp"]
    assert len(tss) == 1
    return tss[0].signed_data["encap_content_info"]["content"].parsed["gen_time"].native


def test_b_lta_pdf_layout(pdfs: dict[Level, bytes], offline_pki: TestPki) -> None:
    """Signatures, then the DSS with the signature timestamps' TSA chain and revocation data and a VRI
    per signature, then the document timestamp covering all of it, then the DSS for its own TSA."""
    pdf = pdfs[Level.B_LTA]
    reader = PdfFileReader(BytesIO(pdf))
    sigs = reader.embedded_signatures
    assert [s.sig_object.get("/Type") for s in sigs] == ["/Sig"] * 3 + ["/DocTimeStamp"]
    ts = sigs[-1]
    assert ts.sig_object["/SubFilter"] == "/ETSI.RFC3161"
    assert ts.signed_revision > max(s.signed_revision for s in sigs[:3])
    # the DSS the timestamp covers already holds the TSA's certificate and its OCSP response
    covered = reader.get_historical_root(ts.signed_revision)
    dss = covered["/DSS"]
    certs = [c.get_object().data for c in dss["/Certs"]]
    assert offline_pki.tsa.public_bytes(_DER) in certs
    assert len(dss["/OCSPs"]) >= 2  # a signer's and the TSA's
    vri = dss["/VRI"]
    tsa = offline_pki.tsa.public_bytes(_DER)
    for sig in sigs[:3]:  # each signature's VRI: its own chain and the TSA's, an OCSP response for each
        entry = vri["/" + hashlib.sha1(sig.pkcs7_content).hexdigest().upper()]
        assert tsa in [c.get_object().data for c in entry["/Cert"]]
        assert len(entry["/OCSP"]) >= 2
    # nothing after the last signature but the DSS and the timestamp: the default policy is met
    report = verify_pdf(pdf, pki_dir=offline_pki.dir)
    assert report.passed, report.to_json()
    assert report.policy is not None and report.policy.pdf_modification["changes"] == []


_DER = Encoding.DER


def test_our_verifier_reports_b_lta_and_requires_it(pdfs: dict[Level, bytes], offline_pki: TestPki) -> None:
    report = verify_pdf(pdfs[Level.B_LTA], pki_dir=offline_pki.dir, required_level=Level.B_LTA)
    assert report.passed, report.to_json()
    ts_time = _doc_timestamp_time(pdfs[Level.B_LTA])
    assert [(s.level, s.archive_time) for s in report.signatures] == [("B-LTA", ts_time)] * 3
    assert report.policy is not None and report.policy.declared_level == "B-LTA"
    # a B-LT document is not B-LTA
    report = verify_pdf(pdfs[Level.B_LT], pki_dir=offline_pki.dir, required_level="B-LTA")
    assert not report.passed
    assert [s.level for s in report.signatures] == ["B-LT"] * 3
    assert [s.sub_indication for s in report.signatures] == ["SIG_CONSTRAINTS_FAILURE"] * 3


def _append_update(pdf: bytes, change) -> bytes:
    w = IncrementalPdfFileWriter(BytesIO(pdf), strict=False)
    change(w)
    out = BytesIO()
    w.write(out)
    return out.getvalue()


def test_change_after_the_archive_timestamp_fails(
    pdfs: dict[Level, bytes], offline_pki: TestPki, tmp_path: Path
) -> None:
    def retitle(w: IncrementalPdfFileWriter) -> None:
        page_ref = w.root["/Pages"]["/Kids"].raw_get(0)
        page = page_ref.get_object()
        page["/Rotate"] = generic.NumberObject(90)
        w.update_container(page)

    bad = _append_update(pdfs[Level.B_LTA], retitle)
    report = verify_pdf(bad, pki_dir=offline_pki.dir)
    assert not report.passed
    assert report.policy is not None and any("/Page" in c for c in report.policy.pdf_modification["changes"])
    rc, out, err = adesverify(bad, offline_pki, tmp_path)  # stock pyHanko agrees
    assert rc != 0 and out.count("ILLEGAL_MODIFICATIONS") == 3, out + err


def test_broken_archive_timestamp_fails(pdfs: dict[Level, bytes], offline_pki: TestPki) -> None:
    pdf = pdfs[Level.B_LTA]
    reader = PdfFileReader(BytesIO(pdf))
    ts = reader.embedded_signatures[-1]
    br = list(ts.sig_object["/ByteRange"])
    hole = pdf[br[1] : br[2]]  # "<hex…>" of the timestamp token
    der_len = len(cms.ContentInfo({"content_type": "signed_data", "content": ts.signed_data}).dump())
    pos = br[1] + 1 + 2 * (der_len - 40)  # a hex digit inside the TSA's signature value (the token's last bytes)
    flipped = b"0" if pdf[pos : pos + 1] != b"0" else b"1"
    bad = pdf[:pos] + flipped + pdf[pos + 1 :]
    assert len(hole) >= 2 * der_len and bad != pdf
    report = verify_pdf(bad, pki_dir=offline_pki.dir, policy="default")
    assert not report.passed
    assert [s.level for s in report.signatures] == ["B-LT"] * 3  # the archive timestamp no longer counts
    problems = [a for a in report.policy.pdf_modification["archive_timestamps"] if "problem" in a]
    assert problems, report.to_json()


def test_b_lta_signature_outlives_its_certificates(pdfs: dict[Level, bytes], offline_pki: TestPki) -> None:
    later = dt.datetime.now(dt.UTC) + dt.timedelta(days=365 * 4)
    with time_machine.travel(later, tick=False):
        report = verify_pdf(pdfs[Level.B_LTA], pki_dir=offline_pki.dir)
    assert report.passed, report.to_json()


# ------------------------------------------------------------------ XAdES

X141 = "http://uri.etsi.org/01903/v1.4.1#"
XNS = {"ds": "http://www.w3.org/2000/09/xmldsig#", "xades": "http://uri.etsi.org/01903/v1.3.2#", "x141": X141}


@pytest.fixture(scope="module")
def xmls(lta_profiles: dict[Level, SigningProfile], sample_xml: bytes) -> dict[Level, bytes]:
    return {level: sign_xml(sample_xml, p.signers_for(COMMISSION[:2]), p) for level, p in lta_profiles.items()}


def _usp(sig: etree._Element) -> etree._Element:
    return sig.find(
        "ds:Object/xades:QualifyingProperties/xades:UnsignedProperties/xades:UnsignedSignatureProperties", XNS
    )


def test_xades_b_lta_layout(xmls: dict[Level, bytes], offline_pki: TestPki) -> None:
    """Signature timestamp, the signer's validation data, the TSA's in TimeStampValidationData, then the
    archive timestamp last."""
    tsa_b64 = base64.b64encode(offline_pki.tsa.public_bytes(_DER)).decode()
    for sig in etree.fromstring(xmls[Level.B_LTA]).findall("ds:Signature", XNS):
        usp = _usp(sig)
        assert [etree.QName(c).localname for c in usp] == [
            "SignatureTimeStamp", "CertificateValues", "RevocationValues", "TimeStampValidationData", "ArchiveTimeStamp"
        ]  # fmt: skip
        own = [e.text for e in usp.findall("xades:CertificateValues/xades:EncapsulatedX509Certificate", XNS)]
        tsvd = [e.text for e in usp.findall("x141:TimeStampValidationData//xades:EncapsulatedX509Certificate", XNS)]
        assert tsa_b64 not in own and tsa_b64 in tsvd
        assert usp.findall("x141:TimeStampValidationData/xades:RevocationValues//xades:EncapsulatedOCSPValue", XNS)
    # at B-LT the TSA's data stays where it was
    sig = etree.fromstring(xmls[Level.B_LT]).find("ds:Signature", XNS)
    assert usp_names(sig) == ["SignatureTimeStamp", "CertificateValues", "RevocationValues"]


def usp_names(sig: etree._Element) -> list[str]:
    return [etree.QName(c).localname for c in _usp(sig)]


def test_xades_b_lta_verifies(xmls: dict[Level, bytes], offline_pki: TestPki, tmp_path: Path) -> None:
    report = verify_xml(xmls[Level.B_LTA], pki_dir=offline_pki.dir, required_level="B-LTA")
    assert report.passed, report.to_json()
    assert [s.level for s in report.signatures] == ["B-LTA"] * 2
    assert all(s.archive_time is not None and s.archive_time >= s.timestamp_time for s in report.signatures)
    assert not verify_xml(xmls[Level.B_LT], pki_dir=offline_pki.dir, required_level="B-LTA").passed
    # xmlsec1 still verifies each signature (trusting only our root)
    need("xmlsec1")
    path = tmp_path / "signed.xml"
    path.write_bytes(xmls[Level.B_LTA])
    for sig in etree.fromstring(xmls[Level.B_LTA]).findall("ds:Signature", XNS):
        xmlsec_verify(path, offline_pki, sig.get("Id"))


def _tamper_xml(data: bytes, change) -> bytes:
    root = etree.fromstring(data)
    change(root)
    return etree.tostring(root.getroottree(), xml_declaration=True, encoding="UTF-8")


@pytest.mark.parametrize(
    "what",
    ["drop an OCSP response", "drop the TSA certificate", "change the archive token", "remove the archive timestamp"],
)
def test_xades_tampering_under_the_archive_timestamp_fails(
    xmls: dict[Level, bytes], offline_pki: TestPki, what: str
) -> None:
    def change(root: etree._Element) -> None:
        usp = _usp(root.find("ds:Signature", XNS))
        if what == "drop an OCSP response":
            el = usp.find("xades:RevocationValues//xades:EncapsulatedOCSPValue", XNS)
            el.getparent().remove(el)
        elif what == "drop the TSA certificate":
            el = usp.find("x141:TimeStampValidationData//xades:EncapsulatedX509Certificate", XNS)
            el.getparent().remove(el)
        elif what == "change the archive token":
            el = usp.find("x141:ArchiveTimeStamp/xades:EncapsulatedTimeStamp", XNS)
            raw = bytearray(base64.b64decode(el.text))
            raw[-10] ^= 1
            el.text = base64.b64encode(bytes(raw)).decode()
        else:
            usp.remove(usp.find("x141:ArchiveTimeStamp", XNS))

    report = verify_xml(_tamper_xml(xmls[Level.B_LTA], change), pki_dir=offline_pki.dir)
    assert not report.passed
    first = report.signatures[0]
    assert first.indication.value != "TOTAL_PASSED", report.to_json()
    if what == "remove the archive timestamp":
        assert (first.level, first.sub_indication) == ("B-LT", "SIG_CONSTRAINTS_FAILURE")  # below the declared B-LTA
    else:
        assert first.indication.value == "TOTAL_FAILED", report.to_json()
    assert report.signatures[1].passed


# ------------------------------------------------------------------ CAdES

DOCX = b"PK\x03\x04 pretend this is a DOCX " * 50


@pytest.fixture(scope="module")
def p7s(lta_profiles: dict[Level, SigningProfile]) -> dict[Level, bytes]:
    return {level: sign_detached(DOCX, p.signers_for(COMMISSION), p) for level, p in lta_profiles.items()}


def _unsigned_types(si: cms.SignerInfo) -> list[str]:
    return [a["type"].dotted for a in si["unsigned_attrs"]]


def test_cades_b_lta_layout_and_openssl(p7s: dict[Level, bytes], offline_pki: TestPki, tmp_path: Path) -> None:
    """Each SignerInfo: signature timestamp, then an archive-time-stamp-v3 whose token carries an
    ats-hash-index-v3 listing every certificate, revocation value and earlier unsigned attribute value."""
    sd = cms.ContentInfo.load(p7s[Level.B_LTA])["content"]
    n_certs, n_crls = len(sd["certificates"]), len(sd["crls"])
    for si in sd["signer_infos"]:
        assert _unsigned_types(si) == ["1.2.840.113549.1.9.16.2.14", "0.4.0.1733.2.4"]
        token = si["unsigned_attrs"][1]["values"][0]
        tst_si = cms.ContentInfo.load(token.dump())["content"]["signer_infos"][0]
        index_attr = [a for a in tst_si["unsigned_attrs"] if a["type"].dotted == "0.4.0.19122.1.5"]
        assert len(index_attr) == 1
        fields = list(cms.ContentInfo.load(token.dump())["content"]["signer_infos"][0]["unsigned_attrs"])
        assert fields
        raw = index_attr[0]["values"][0]
        from asn1crypto import core

        lists = core.SequenceOf(spec=core.Any).load(raw.dump())  # default SHA-256 omitted: three lists
        assert [len(core.SequenceOf(spec=core.OctetString).load(x.dump())) for x in lists] == [n_certs, n_crls, 1]
        # openssl checks the archive token itself: signed by our TSA, chain to our root
        tok = tmp_path / "ats.tst"
        tok.write_bytes(token.dump())
        res = run("openssl", "ts", "-verify", "-in", tok, "-token_in", "-digest",
                  cms.ContentInfo.load(token.dump())["content"]["encap_content_info"]["content"].parsed[
                      "message_imprint"]["hashed_message"].native.hex(),
                  "-CAfile", offline_pki.root_path, "-untrusted", offline_pki.dir / "ca.pem")  # fmt: skip
        assert "Verification: OK" in res.stdout, res.stdout + res.stderr
    # openssl cms still verifies every signature of the .p7s
    (tmp_path / "f.docx").write_bytes(DOCX)
    (tmp_path / "f.docx.p7s").write_bytes(p7s[Level.B_LTA])
    r = run(
        "openssl", "cms", "-verify", "-binary", "-inform", "DER", "-in", tmp_path / "f.docx.p7s",
        "-content", tmp_path / "f.docx", "-CAfile", offline_pki.root_path, "-purpose", "any", "-out", "/dev/null",
    )  # fmt: skip
    assert r.returncode == 0 and "Verification successful" in r.stderr, r.stderr


def test_cades_b_lta_verifies(p7s: dict[Level, bytes], offline_pki: TestPki) -> None:
    report = verify_detached(DOCX, p7s[Level.B_LTA], pki_dir=offline_pki.dir, required_level="B-LTA")
    assert report.passed, report.to_json()
    assert [s.level for s in report.signatures] == ["B-LTA"] * 3
    assert all(s.archive_time and s.timestamp_time and s.archive_time >= s.timestamp_time for s in report.signatures)
    assert not verify_detached(DOCX, p7s[Level.B_LT], pki_dir=offline_pki.dir, required_level="B-LTA").passed


def _resign(p7s: bytes, change) -> bytes:
    ci = cms.ContentInfo.load(p7s)
    sd = ci["content"]
    fields = {name: sd[name] for name, *_ in cms.SignedData._fields if not isinstance(sd[name], core_void())}
    change(fields)
    return cms.ContentInfo({"content_type": "signed_data", "content": cms.SignedData(fields)}).dump()


def core_void():
    from asn1crypto import core

    return core.Void


@pytest.mark.parametrize("what", ["drop an OCSP response", "drop a certificate", "remove the archive timestamp"])
def test_cades_tampering_under_the_archive_timestamp_fails(
    p7s: dict[Level, bytes], offline_pki: TestPki, what: str
) -> None:
    def change(fields: dict) -> None:
        if what == "drop an OCSP response":
            crls = list(fields["crls"])
            crls.remove(next(r for r in crls if r.name == "other"))
            fields["crls"] = crls
        elif what == "drop a certificate":
            certs = list(fields["certificates"])
            tsa = offline_pki.tsa.public_bytes(_DER)
            fields["certificates"] = [c for c in certs if c.chosen.dump() != tsa]
        else:
            infos = list(fields["signer_infos"])
            si = infos[0]
            kept = [a for a in si["unsigned_attrs"] if a["type"].dotted != "0.4.0.1733.2.4"]
            values = {n: si[n] for n, *_ in cms.SignerInfo._fields if not isinstance(si[n], core_void())}
            values["unsigned_attrs"] = kept
            infos[0] = cms.SignerInfo(values)
            fields["signer_infos"] = infos

    report = verify_detached(DOCX, _resign(p7s[Level.B_LTA], change), pki_dir=offline_pki.dir)
    assert not report.passed
    first = report.signatures[0]
    if what == "remove the archive timestamp":
        assert (first.level, first.sub_indication) == ("B-LT", "SIG_CONSTRAINTS_FAILURE"), report.to_json()
        assert report.signatures[1].passed
    else:
        assert all(s.indication.value == "TOTAL_FAILED" for s in report.signatures), report.to_json()
        assert {s.sub_indication for s in report.signatures} == {"HASH_FAILURE"}


# ------------------------------------------------------------------ msedocs render / verify

ROOT = Path(__file__).resolve().parents[2]
CASE = ROOT / "fixtures" / "cases" / "adult_first_group_ii.json"


def _msedocs(*args: str | Path) -> tuple[int, str]:
    exe = ROOT / ".venv" / "bin" / "msedocs"
    res = run(str(exe) if exe.is_file() else "msedocs", *args)
    return res.returncode, res.stdout + res.stderr


@pytest.fixture(scope="module")
def rendered(offline_pki: TestPki, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("render") / "out"
    rc, text = _msedocs(
        "render", CASE, "--form", "by-act", "--out", out, "--sign", "--level", "B-LTA",
        "--pki", offline_pki.dir, "--cades-per-signer",
    )  # fmt: skip
    assert rc == 0, text
    return out


def test_render_sign_b_lta_and_verify_require_level(rendered: Path, offline_pki: TestPki) -> None:
    import json

    manifest = json.loads((rendered / "manifest.json").read_text(encoding="utf-8"))
    files = manifest["files"] if isinstance(manifest, dict) and "files" in manifest else manifest
    assert "B-LTA" in json.dumps(files)
    for name in ("by-act.pdf", "by-act.xml", "by-act.docx"):
        rc, text = _msedocs("verify", rendered / name, "--pki", offline_pki.dir, "--require-level", "B-LTA")
        assert rc == 0, text
        assert "archive timestamp 20" in text and "B-LTA" in text, text
    pdf = (rendered / "by-act.pdf").read_bytes()
    assert {r[1] for r in stock_ades(pdf, offline_pki)} == {"PASSED/OK"}


def test_cades_per_signer_files(rendered: Path, offline_pki: TestPki) -> None:
    """--cades-per-signer: besides the combined .p7s, one per signer (``<file>.<role>.p7s``) that
    tools expecting a single SignerInfo accept; openssl cms verifies each."""
    docx = rendered / "by-act.docx"
    combined = cms.ContentInfo.load((rendered / "by-act.docx.p7s").read_bytes())["content"]
    singles = sorted(rendered.glob("by-act.docx.*.p7s"))
    assert len(singles) == len(combined["signer_infos"]) >= 2, singles
    serials = set()
    for p in singles:
        sd = cms.ContentInfo.load(p.read_bytes())["content"]
        assert len(sd["signer_infos"]) == 1
        serials.add(sd["signer_infos"][0]["sid"].chosen["serial_number"].native)
        r = run(
            "openssl", "cms", "-verify", "-binary", "-inform", "DER", "-in", p, "-content", docx,
            "-CAfile", offline_pki.root_path, "-purpose", "any", "-out", "/dev/null",
        )  # fmt: skip
        assert r.returncode == 0 and "Verification successful" in r.stderr, r.stderr
        role = p.name.removeprefix("by-act.docx.").removesuffix(".p7s")
        assert role in {"chairman", "member1", "member2", "bureau_head"}, role
    assert serials == {si["sid"].chosen["serial_number"].native for si in combined["signer_infos"]}
    # msedocs verify finds the DOCX next to <file>.<role>.p7s; alone, a signer's file lacks the others
    rc, text = _msedocs("verify", singles[0], "--pki", offline_pki.dir, "--policy", "basic", "--require-level", "B-LTA")
    assert rc == 0, text
    rc, text = _msedocs("verify", singles[0], "--pki", offline_pki.dir)
    assert rc == 1 and "missing signer" in text, text


def test_stripped_document_timestamp_falls_below_the_declared_level(
    pdfs: dict[Level, bytes], offline_pki: TestPki
) -> None:
    """Cutting the PDF back to before the archive timestamp leaves good signatures below the
    declared B-LTA: the default policy fails it, ``basic`` (only every signature present) passes it."""
    pdf = pdfs[Level.B_LTA]
    ts = PdfFileReader(BytesIO(pdf)).embedded_signatures[-1]
    start = list(ts.sig_object["/ByteRange"])[1]
    cut = pdf.rfind(b"%%EOF", 0, start) + len(b"%%EOF")
    cut += len(pdf[cut : cut + 2]) - len(pdf[cut : cut + 2].lstrip(b"\r\n"))
    stripped = pdf[:cut]
    assert PdfFileReader(BytesIO(stripped)).embedded_timestamp_signatures == []
    report = verify_pdf(stripped, pki_dir=offline_pki.dir)
    assert not report.passed
    assert report.policy is not None and report.policy.level_shortfalls, report.to_json()
    assert all(s.level in ("B-T", "B-LT") for s in report.signatures)
    assert verify_pdf(stripped, pki_dir=offline_pki.dir, policy="basic").passed


def test_cades_per_signer_needs_sign(tmp_path: Path) -> None:
    rc, text = _msedocs("render", CASE, "--form", "by-act", "--out", tmp_path / "o", "--cades-per-signer")
    assert rc == 2 and "--cades-per-signer" in text, text
    assert not (tmp_path / "o").exists()


def test_protocol_cades_per_signer(offline_pki: TestPki, tmp_path: Path) -> None:
    """The session protocol, signed by the chairman and the members, writes one .p7s per signer
    beside the combined one with --cades-per-signer; openssl cms verifies each against the DOCX."""
    out = tmp_path / "protocol"
    rc, text = _msedocs(
        "protocol", "--cases", CASE, "--out", out, "--format", "docx", "--sign", "--level", "B-T",
        "--pki", offline_pki.dir, "--cades-per-signer",
    )  # fmt: skip
    assert rc == 0, text
    docx = out / "by-protocol.docx"
    combined = cms.ContentInfo.load((out / "by-protocol.docx.p7s").read_bytes())["content"]
    singles = sorted(out.glob("by-protocol.docx.*.p7s"))
    assert len(singles) == len(combined["signer_infos"]) >= 3, singles
    for p in singles:
        assert len(cms.ContentInfo.load(p.read_bytes())["content"]["signer_infos"]) == 1
        r = run(
            "openssl", "cms", "-verify", "-binary", "-inform", "DER", "-in", p, "-content", docx,
            "-CAfile", offline_pki.root_path, "-purpose", "any", "-out", "/dev/null",
        )  # fmt: skip
        assert r.returncode == 0 and "Verification successful" in r.stderr, r.stderr
    manifest = (out / "manifest.json").read_text(encoding="utf-8")
    assert all(p.name in manifest for p in singles)


@pytest.mark.parametrize("command", ["journal", "protocol"])
def test_register_cades_per_signer_needs_sign(command: str, tmp_path: Path) -> None:
    period = ["by-journal-protocols", "--from", "2026-01-01", "--to", "2026-12-31"] if command == "journal" else []
    rc, text = _msedocs(command, *period, "--cases", CASE, "--out", tmp_path / "o", "--cades-per-signer")
    assert rc == 2 and "--cades-per-signer" in text, text
    assert not (tmp_path / "o").exists()
