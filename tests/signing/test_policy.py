"""The validation policy: what is missing (a signer, a timestamp) or added (unsigned content,
later PDF changes) fails, and the CLI refuses special or oversized files.

Each attack leaves a file that independent tools (xmlsec1, pdfsig, openssl cms) still find
well-signed: only the policy, fed by the signature-set declaration every signature carries,
notices what was taken away.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from io import BytesIO
from pathlib import Path

import pytest
from asn1crypto import cms
from lxml import etree
from pyhanko.pdf_utils import generic
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter

from signing import (
    Level,
    SigningProfile,
    TestPki,
    sign_detached,
    sign_pdf,
    sign_xml,
    verify_detached,
    verify_pdf,
    verify_xml,
)
from signing._xml import DS, XADES

from .helpers import dump, need, run
from .nss import SIGNATURE_VALID, nss_db, pdfsig

NS = {"ds": DS, "xades": XADES}
ROOT = Path(__file__).resolve().parents[2]
MSEDOCS = [sys.executable, "-m", "msedocs"]
DATA = b"docx bytes " * 100


def cli_verify(path: Path, pki: TestPki, *extra: str) -> subprocess.CompletedProcess[str]:
    """``msedocs verify`` as a user runs it."""
    return subprocess.run(
        [*MSEDOCS, "verify", str(path), "--pki", str(pki.dir), *extra],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=ROOT,
        env={**os.environ, "PYTHONWARNINGS": "error"},
    )


@pytest.fixture(scope="module")
def p7s_two(profiles: dict[Level, SigningProfile]) -> bytes:
    p = profiles[Level.B_T]
    return sign_detached(DATA, p.signers_for(["chairman", "member1"]), p)


@pytest.fixture(scope="module")
def pdf_two(profiles: dict[Level, SigningProfile], sample_pdf: bytes) -> bytes:
    p = profiles[Level.B_T]
    return sign_pdf(sample_pdf, p.signers_for(["chairman", "member1"]), p)


# ------------------------------------------------------------------ untouched documents pass


def test_untouched_documents_pass_and_report_the_declaration(
    xml_bt: bytes, p7s_two: bytes, pdf_two: bytes, pki: TestPki
) -> None:
    for report in (
        verify_xml(xml_bt, pki_dir=pki.dir),
        verify_detached(DATA, p7s_two, pki_dir=pki.dir),
        verify_pdf(pdf_two, pki_dir=pki.dir),
    ):
        assert report.passed, report.to_json()
        pol = report.to_dict()["policy"]
        assert pol["name"] == "default" and pol["passed"] is True
        assert pol["declared_level"] == "B-T" and pol["required_level"] == "B-T"
        assert pol["declared_signers"] == ["chairman", "member1"]
        assert pol["missing_signers"] == [] and pol["unsigned_content"] == []
        assert {s["signer_role"] for s in report.to_dict()["signatures"]} == {"chairman", "member1"}


# ------------------------------------------------------------------ 1. a removed signature


def test_xml_one_signature_removed_fails(xml_bt: bytes, pki: TestPki, tmp_path: Path) -> None:
    root = etree.fromstring(xml_bt)
    member = root.findall("ds:Signature", NS)[1]
    root.remove(member)
    path = tmp_path / "one-left.xml"
    path.write_bytes(dump(root))
    # the remaining signature is still a good signature for xmlsec1
    need("xmlsec1")
    left = root.find("ds:Signature", NS).get("Id")
    r = run(
        "xmlsec1", "--verify", "--trusted-pem", pki.root_path, "--untrusted-pem", pki.dir / "ca.pem",
        "--id-attr:Id", f"{XADES}:SignedProperties", "--id-attr:Id", f"{DS}:Signature",
        "--node-id", left, path,
    )  # fmt: skip
    assert r.returncode == 0, r.stderr
    res = cli_verify(path, pki, "--json")
    assert res.returncode == 1, res.stdout + res.stderr
    data = json.loads(res.stdout)
    assert data["passed"] is False
    assert data["policy"]["missing_signers"] == ["member1"]
    assert all(s["indication"] == "TOTAL_PASSED" for s in data["signatures"])
    text = cli_verify(path, pki)
    assert text.returncode == 1 and "missing signer: member1 (Член МРЭК)" in text.stdout, text.stdout
    assert "Traceback" not in text.stderr


def test_pdf_cut_back_to_an_earlier_revision_fails(pdf_two: bytes, pki: TestPki, tmp_path: Path) -> None:
    from pyhanko.pdf_utils.reader import PdfFileReader

    first = PdfFileReader(BytesIO(pdf_two)).embedded_signatures[0]
    br = list(first.sig_object["/ByteRange"])
    cut = pdf_two[: br[2] + br[3]]
    path = tmp_path / "cut.pdf"
    path.write_bytes(cut)
    report = pdfsig(path, nss_db(tmp_path / "nss", [pki.root_path]))
    assert [s.signature for s in report.signatures] == [SIGNATURE_VALID]
    res = cli_verify(path, pki, "--json")
    assert res.returncode == 1, res.stdout + res.stderr
    data = json.loads(res.stdout)
    assert data["policy"]["missing_signers"] == ["member1"] and data["passed"] is False


def _with_signer_infos(sd: cms.SignedData, infos: list[cms.SignerInfo]) -> bytes:
    """The same SignedData (content, certificates) with other SignerInfos, as DER."""
    new = {k: sd[k] for k in ("version", "digest_algorithms", "encap_content_info", "certificates")}
    new["signer_infos"] = cms.SignerInfos(infos)
    return cms.ContentInfo({"content_type": "signed_data", "content": cms.SignedData(new)}).dump()


def _without_unsigned_attrs(si: cms.SignerInfo) -> cms.SignerInfo:
    """A SignerInfo without its unsigned attributes (its timestamp): the signature still verifies."""
    keep = ("version", "sid", "digest_algorithm", "signed_attrs", "signature_algorithm", "signature")
    return cms.SignerInfo({k: si[k] for k in keep})


def _without_signer_info(p7s: bytes, drop: int) -> bytes:
    sd = cms.ContentInfo.load(p7s)["content"]
    return _with_signer_infos(sd, [si for i, si in enumerate(sd["signer_infos"]) if i != drop])


def test_cades_signer_info_dropped_fails(p7s_two: bytes, pki: TestPki, tmp_path: Path) -> None:
    (tmp_path / "f.docx").write_bytes(DATA)
    (tmp_path / "f.docx.p7s").write_bytes(_without_signer_info(p7s_two, 0))
    need("openssl")
    r = run(
        "openssl", "cms", "-verify", "-binary", "-inform", "DER", "-in", tmp_path / "f.docx.p7s",
        "-content", tmp_path / "f.docx", "-CAfile", pki.root_path, "-purpose", "any", "-out", "/dev/null",
    )  # fmt: skip
    assert r.returncode == 0 and "Verification successful" in r.stderr, r.stderr
    res = cli_verify(tmp_path / "f.docx", pki, "--json")
    assert res.returncode == 1, res.stdout + res.stderr
    data = json.loads(res.stdout)
    # a SET OF SignerInfos is sorted by its DER, so which one was first is not fixed
    (left,) = [s["signer_role"] for s in data["signatures"]]
    assert data["policy"]["missing_signers"] == [{"chairman": "member1", "member1": "chairman"}[left]]


def test_basic_policy_only_asks_every_present_signature_to_pass(p7s_two: bytes, pki: TestPki, tmp_path: Path) -> None:
    (tmp_path / "f.docx").write_bytes(DATA)
    (tmp_path / "f.docx.p7s").write_bytes(_without_signer_info(p7s_two, 0))
    res = cli_verify(tmp_path / "f.docx", pki, "--json", "--policy", "basic")
    assert res.returncode == 0, res.stdout + res.stderr
    pol = json.loads(res.stdout)["policy"]
    assert pol["name"] == "basic" and pol["missing_signers"] == []


def test_policy_file(p7s_two: bytes, pki: TestPki, tmp_path: Path) -> None:
    (tmp_path / "f.docx").write_bytes(DATA)
    (tmp_path / "f.docx.p7s").write_bytes(p7s_two)
    pol = tmp_path / "strict.toml"
    pol.write_text('[policy]\nname = "strict"\nrequired_signers = ["chairman", "bureau_head"]\nmin_level = "B-LT"\n')
    res = cli_verify(tmp_path / "f.docx", pki, "--json", "--policy", str(pol))
    assert res.returncode == 1, res.stdout + res.stderr
    data = json.loads(res.stdout)
    assert data["policy"]["name"] == "strict" and data["policy"]["missing_signers"] == ["bureau_head"]
    assert {s["sub_indication"] for s in data["signatures"]} == {"SIG_CONSTRAINTS_FAILURE"}
    bad = tmp_path / "bad.toml"
    bad.write_text('[policy]\nmin_level = "B-Z"\n')
    res = cli_verify(tmp_path / "f.docx", pki, "--policy", str(bad))
    assert res.returncode == 2 and "min_level" in res.stderr and str(bad) in res.stderr, res.stderr
    assert "Traceback" not in res.stderr
    res = cli_verify(tmp_path / "f.docx", pki, "--policy", "lenient")
    assert res.returncode == 2 and "--policy" in res.stderr, res.stderr


def test_third_party_document_without_declaration(
    profiles: dict[Level, SigningProfile], sample_xml: bytes, pki: TestPki
) -> None:
    p = profiles[Level.B_B]
    signed = sign_xml(sample_xml, p.signers_for(["chairman"]), p, declare=False)
    report = verify_xml(signed, pki_dir=pki.dir)
    assert report.passed, report.to_json()
    pol = report.to_dict()["policy"]
    assert pol["declared_signers"] is None and pol["missing_signers"] == []
    assert any("no signer requirement declared" in n for n in pol["notes"]), pol


# ------------------------------------------------------------------ 2. a removed timestamp


def test_xml_removed_timestamp_fails_under_the_default_policy(xml_bt: bytes, pki: TestPki) -> None:
    root = etree.fromstring(xml_bt)
    for ts in root.findall(".//xades:SignatureTimeStamp", NS):
        ts.getparent().remove(ts)
    report = verify_xml(dump(root), pki_dir=pki.dir)
    assert not report.passed
    s = report.signatures[0]
    assert (s.indication.value, s.sub_indication, s.level) == ("INDETERMINATE", "SIG_CONSTRAINTS_FAILURE", "B-B")
    assert "B-T" in s.message
    assert report.to_dict()["policy"]["level_shortfalls"]
    assert verify_xml(dump(root), pki_dir=pki.dir, policy="basic").passed


def test_cades_removed_timestamp_fails_under_the_default_policy(p7s_two: bytes, pki: TestPki) -> None:
    sd = cms.ContentInfo.load(p7s_two)["content"]
    stripped = _with_signer_infos(sd, [_without_unsigned_attrs(si) for si in sd["signer_infos"]])
    report = verify_detached(DATA, stripped, pki_dir=pki.dir)
    assert not report.passed
    assert {(s.sub_indication, s.level) for s in report.signatures} == {("SIG_CONSTRAINTS_FAILURE", "B-B")}


def test_pdf_removed_timestamp_fails_under_the_default_policy(pdf_two: bytes, pki: TestPki, tmp_path: Path) -> None:
    """The last signature's timestamp (an unsigned attribute of its CMS) taken out in place, the
    /Contents padded back to its length: pdfsig still finds every signature valid, the default
    policy notices that the signature no longer reaches the B-T it declares."""
    from pyhanko.pdf_utils.reader import PdfFileReader

    last = PdfFileReader(BytesIO(pdf_two)).embedded_signatures[-1]
    br = list(last.sig_object["/ByteRange"])
    gap = pdf_two[br[1] : br[2]]
    assert gap.startswith(b"<") and gap.endswith(b">")
    sd = cms.ContentInfo.load(bytes.fromhex(gap[1:-1].decode()), strict=False)["content"]
    assert all(si["unsigned_attrs"].native for si in sd["signer_infos"])  # there is a timestamp to take away
    stripped = _with_signer_infos(sd, [_without_unsigned_attrs(si) for si in sd["signer_infos"]]).hex().encode()
    assert len(stripped) < len(gap) - 2
    tampered = pdf_two[: br[1]] + b"<" + stripped.ljust(len(gap) - 2, b"0") + b">" + pdf_two[br[2] :]
    assert len(tampered) == len(pdf_two)
    path = tmp_path / "no-timestamp.pdf"
    path.write_bytes(tampered)
    report = pdfsig(path, nss_db(tmp_path / "nss", [pki.root_path]))
    assert [s.signature for s in report.signatures] == [SIGNATURE_VALID, SIGNATURE_VALID]
    res = cli_verify(path, pki, "--json")
    assert res.returncode == 1, res.stdout + res.stderr
    data = json.loads(res.stdout)
    assert data["passed"] is False and data["policy"]["level_shortfalls"], data["policy"]
    assert cli_verify(path, pki, "--policy", "basic").returncode == 0


# ------------------------------------------------------------------ 3. unsigned content in a signature


def test_xml_content_added_in_ds_object_fails(xml_bt: bytes, pki: TestPki, tmp_path: Path) -> None:
    root = etree.fromstring(xml_bt)
    sig = root.find("ds:Signature", NS)
    obj = etree.SubElement(sig, f"{{{DS}}}Object")
    etree.SubElement(obj, "{urn:msedocs:test:1}Decision").text = "отказать"
    path = tmp_path / "added.xml"
    path.write_bytes(dump(root))
    res = cli_verify(path, pki, "--json")
    assert res.returncode == 1, res.stdout + res.stderr
    data = json.loads(res.stdout)
    assert data["policy"]["unsigned_content"] and "ds:Object[2]" in data["policy"]["unsigned_content"][0]
    assert data["signatures"][0]["sub_indication"] == "SIG_CONSTRAINTS_FAILURE"
    assert data["signatures"][1]["indication"] == "TOTAL_PASSED"


def test_xml_content_added_in_unsigned_properties_fails(xml_bt: bytes, pki: TestPki) -> None:
    root = etree.fromstring(xml_bt)
    usp = root.find(".//xades:UnsignedSignatureProperties", NS)
    etree.SubElement(usp, "{urn:msedocs:test:1}Note").text = "добавлено"
    qp = root.find(".//xades:QualifyingProperties", NS)
    etree.SubElement(qp, "{urn:msedocs:test:1}Extra")
    report = verify_xml(dump(root), pki_dir=pki.dir)
    assert not report.passed
    found = report.to_dict()["policy"]["unsigned_content"]
    assert any("UnsignedSignatureProperties/Note" in f for f in found), found
    assert any("QualifyingProperties/Extra" in f for f in found), found


def test_xml_b_lt_unsigned_properties_are_allowed(
    profiles: dict[Level, SigningProfile], sample_xml: bytes, pki: TestPki
) -> None:
    p = profiles[Level.B_LT]
    report = verify_xml(sign_xml(sample_xml, p.signers_for(["chairman"]), p), pki_dir=pki.dir)
    assert report.passed, report.to_json()
    assert report.to_dict()["policy"]["unsigned_content"] == []


# ------------------------------------------------------------------ 4. PDF changed after the last signature


def _info_update(pdf: bytes) -> bytes:
    w = IncrementalPdfFileWriter(BytesIO(pdf))
    info = w.trailer["/Info"]
    info_obj = info.get_object()
    info_obj["/Title"] = generic.TextStringObject("Изменено после подписи")
    w.update_container(info_obj)
    out = BytesIO()
    w.write(out)
    return out.getvalue()


def test_pdf_info_changed_after_signing_fails(pdf_two: bytes, pki: TestPki, tmp_path: Path) -> None:
    path = tmp_path / "info.pdf"
    path.write_bytes(_info_update(pdf_two))
    res = cli_verify(path, pki, "--json")
    assert res.returncode == 1, res.stdout + res.stderr
    data = json.loads(res.stdout)
    mods = data["policy"]["pdf_modification"]
    assert mods["after_last_signature"] is True and mods["level"] not in ("NONE", "LTA_UPDATES", "FORM_FILLING")
    assert data["signatures"][-1]["modification_level"] == mods["level"]
    text = cli_verify(path, pki)
    assert "changed after the last signature" in text.stdout, text.stdout


def test_pdf_untouched_modification_level(pdf_two: bytes, pki: TestPki) -> None:
    report = verify_pdf(pdf_two, pki_dir=pki.dir)
    sigs = report.to_dict()["signatures"]
    # the first signature sees the second signer's field being filled in, the last sees nothing
    assert [s["modification_level"] for s in sigs] == ["FORM_FILLING", "NONE"]
    assert report.to_dict()["policy"]["pdf_modification"]["after_last_signature"] is False


# ------------------------------------------------------------------ 5. special and oversized files


def test_special_files_are_refused(pki: TestPki, tmp_path: Path, xml_bt: bytes, p7s_two: bytes) -> None:
    res = cli_verify(Path("/dev/zero"), pki)
    assert res.returncode == 2 and "/dev/zero" in res.stderr and "not a regular file" in res.stderr, res.stderr
    fifo = tmp_path / "pipe.xml"
    os.mkfifo(fifo)
    res = cli_verify(fifo, pki)
    assert res.returncode == 2 and "not a regular file" in res.stderr, res.stderr
    (tmp_path / "f.docx").write_bytes(DATA)
    os.mkfifo(tmp_path / "f.docx.p7s")
    res = cli_verify(tmp_path / "f.docx", pki)
    assert res.returncode == 2 and "f.docx.p7s" in res.stderr and "not a regular file" in res.stderr, res.stderr
    assert "Traceback" not in res.stderr
    (tmp_path / "folder.xml").mkdir()  # a folder opens read-only on Linux: refused by its type, not by fdopen
    res = cli_verify(tmp_path / "folder.xml", pki)
    assert res.returncode == 2 and "folder.xml: not a regular file" in res.stderr, res.stderr
    assert "internal error" not in res.stderr


def test_oversized_files_are_refused(pki: TestPki, tmp_path: Path) -> None:
    from signing.verify import MAX_INPUT_BYTES

    big = tmp_path / "big.pdf"
    with big.open("wb") as f:
        f.write(b"%PDF-1.7\n")
        f.truncate(MAX_INPUT_BYTES + 1)
    res = cli_verify(big, pki)
    assert res.returncode == 2 and "big.pdf" in res.stderr and "limit" in res.stderr, res.stderr
    (tmp_path / "f.docx").write_bytes(DATA)
    with (tmp_path / "f.docx.p7s").open("wb") as f:
        f.truncate(MAX_INPUT_BYTES + 1)
    res = cli_verify(tmp_path / "f.docx", pki)
    assert res.returncode == 2 and "f.docx.p7s" in res.stderr and "limit" in res.stderr, res.stderr
