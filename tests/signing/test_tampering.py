"""Each tampering gives TOTAL_FAILED or INDETERMINATE with the right sub-indication."""

from __future__ import annotations

import base64
import copy
import datetime as dt
from io import BytesIO

import pytest
import time_machine
from asn1crypto import cms, core
from cryptography.hazmat.primitives import serialization
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
)
from signing import verify_xml as _verify_xml
from signing._xml import DS, XADES

from .helpers import dump

NS = {"ds": DS, "xades": XADES}


def verify_xml(data: bytes, pki: TestPki, **kw):
    return _verify_xml(data, pki_dir=pki.dir, **kw)


def outcome(report, i: int = 0) -> tuple[str, str | None]:
    s = report.signatures[i]
    return s.indication.value, s.sub_indication


def xml(data: bytes) -> etree._Element:
    return etree.fromstring(data)


@pytest.fixture(scope="module")
def xml_lt(profiles: dict[Level, SigningProfile], sample_xml: bytes) -> bytes:
    p = profiles[Level.B_LT]
    return sign_xml(sample_xml, p.signers_for(["chairman"]), p)


@pytest.fixture(scope="module")
def xml_bb(profiles: dict[Level, SigningProfile], sample_xml: bytes) -> bytes:
    p = profiles[Level.B_B]
    return sign_xml(sample_xml, p.signers_for(["chairman"]), p)


# ------------------------------------------------------------------ XML


def test_xml_untampered_passes(xml_bt: bytes, pki: TestPki) -> None:
    assert verify_xml(xml_bt, pki).passed


def test_xml_changed_content_byte(xml_bt: bytes, pki: TestPki) -> None:
    bad = xml_bt.replace("Иванов".encode(), "Иваное".encode(), 1)
    report = verify_xml(bad, pki)
    assert [outcome(report, i) for i in range(2)] == [("TOTAL_FAILED", "HASH_FAILURE")] * 2


def test_xml_changed_signed_property(xml_bt: bytes, pki: TestPki) -> None:
    bad = xml_bt.replace("Председатель МРЭК".encode(), "Руководитель бюро".encode(), 1)
    assert outcome(verify_xml(bad, pki)) == ("TOTAL_FAILED", "HASH_FAILURE")


def test_xml_swapped_certificate(xml_bt: bytes, pki: TestPki) -> None:
    root = xml(xml_bt)
    other = pki.signers["member2"].public_bytes(serialization.Encoding.DER)
    root.find("ds:Signature/ds:KeyInfo/ds:X509Data/ds:X509Certificate", NS).text = base64.b64encode(other).decode()
    report = verify_xml(dump(root), pki)
    assert outcome(report) == ("TOTAL_FAILED", "SIG_CRYPTO_FAILURE")
    assert report.signatures[1].passed  # the other parallel signature is untouched


def test_xml_changed_signature_value(xml_bt: bytes, pki: TestPki) -> None:
    root = xml(xml_bt)
    sv = root.find("ds:Signature/ds:SignatureValue", NS)
    raw = bytearray(base64.b64decode(sv.text))
    raw[10] ^= 1
    sv.text = base64.b64encode(bytes(raw)).decode()
    # the timestamp no longer matches the value either; the value is checked first
    assert outcome(verify_xml(dump(root), pki)) == ("TOTAL_FAILED", "SIG_CRYPTO_FAILURE")


def test_xml_removed_timestamp(xml_bt: bytes, pki: TestPki) -> None:
    root = xml(xml_bt)
    ts = root.find(".//xades:SignatureTimeStamp", NS)
    ts.getparent().remove(ts)
    data = dump(root)
    assert outcome(verify_xml(data, pki, required_level=Level.B_T)) == (
        "INDETERMINATE",
        "SIG_CONSTRAINTS_FAILURE",
    )
    # the signature declares B-T: the default policy holds it to that
    assert outcome(verify_xml(data, pki)) == ("INDETERMINATE", "SIG_CONSTRAINTS_FAILURE")
    relaxed = verify_xml(data, pki, policy="basic")
    assert relaxed.signatures[0].passed and relaxed.signatures[0].level == "B-B"


def test_xml_timestamp_of_another_signature(xml_bt: bytes, pki: TestPki) -> None:
    root = xml(xml_bt)
    a, b = root.findall(".//xades:EncapsulatedTimeStamp", NS)
    a.text, b.text = b.text, a.text
    assert outcome(verify_xml(dump(root), pki)) == ("TOTAL_FAILED", "HASH_FAILURE")


def test_xml_wrapped_element_moved(xml_bt: bytes, pki: TestPki) -> None:
    root = xml(xml_bt)
    patient = root.find("{urn:msedocs:test:1}Patient")
    wrapper = etree.SubElement(root, "{urn:msedocs:test:1}Wrapper")
    root.remove(patient)
    wrapper.append(patient)
    root.insert(0, wrapper)
    assert outcome(verify_xml(dump(root), pki)) == ("TOTAL_FAILED", "HASH_FAILURE")


def test_xml_wrapped_element_duplicated(xml_bt: bytes, pki: TestPki) -> None:
    root = xml(xml_bt)
    patient = root.find("{urn:msedocs:test:1}Patient")
    root.insert(0, copy.deepcopy(patient))
    assert outcome(verify_xml(dump(root), pki)) == ("TOTAL_FAILED", "HASH_FAILURE")


def test_xml_signed_properties_id_reused_in_body(xml_bt: bytes, pki: TestPki) -> None:
    root = xml(xml_bt)
    sp_id = root.find(".//xades:SignedProperties", NS).get("Id")
    root.find("{urn:msedocs:test:1}Patient").set("Id", sp_id)
    report = verify_xml(dump(root), pki)
    assert outcome(report) == ("TOTAL_FAILED", "FORMAT_FAILURE")
    assert f"duplicate Id {sp_id!r}" in report.signatures[0].message


def test_xml_signed_properties_duplicated(xml_bt: bytes, pki: TestPki) -> None:
    root = xml(xml_bt)
    sig = root.find("ds:Signature", NS)
    sp = sig.find(".//xades:SignedProperties", NS)
    fake = etree.SubElement(sig, f"{{{DS}}}Object")
    fake.append(copy.deepcopy(sp))
    assert outcome(verify_xml(dump(root), pki)) == ("TOTAL_FAILED", "FORMAT_FAILURE")


def test_xml_extra_reference_by_id_is_refused(xml_bt: bytes, pki: TestPki) -> None:
    root = xml(xml_bt)
    signed_info = root.find("ds:Signature/ds:SignedInfo", NS)
    extra = copy.deepcopy(signed_info.find("ds:Reference", NS))
    extra.set("URI", "#patient")
    del extra.attrib["Id"]
    signed_info.append(extra)
    report = verify_xml(dump(root), pki)
    assert outcome(report) == ("TOTAL_FAILED", "FORMAT_FAILURE")
    assert "unexpected reference URI='#patient'" in report.signatures[0].message


def test_xml_content_hidden_in_a_fake_signature(xml_bt: bytes, pki: TestPki) -> None:
    root = xml(xml_bt)
    patient = root.find("{urn:msedocs:test:1}Patient")
    fake = etree.SubElement(patient, f"{{{DS}}}Signature")
    etree.SubElement(fake, "{urn:msedocs:test:1}Group").text = "1"
    report = verify_xml(dump(root), pki)
    assert outcome(report) == ("TOTAL_FAILED", "FORMAT_FAILURE")
    assert "not a child of the document element" in report.signatures[0].message


@pytest.mark.parametrize(
    ("old", "new"),
    [
        ("http://www.w3.org/2001/04/xmldsig-more#rsa-sha256", "http://www.w3.org/2000/09/xmldsig#rsa-sha1"),
        ("http://www.w3.org/2001/04/xmlenc#sha256", "http://www.w3.org/2000/09/xmldsig#sha1"),
    ],
    ids=["rsa-sha1", "sha1-digest"],
)
def test_xml_sha1_rejected(xml_bb: bytes, pki: TestPki, old: str, new: str) -> None:
    bad = xml_bb.replace(old.encode(), new.encode(), 1)
    assert outcome(verify_xml(bad, pki)) == ("INDETERMINATE", "CRYPTO_CONSTRAINTS_FAILURE_NO_POE")


def test_xml_untrusted_root(xml_bt: bytes, other_pki: TestPki) -> None:
    report = _verify_xml(xml_bt, pki_dir=other_pki.dir)
    assert outcome(report) == ("INDETERMINATE", "NO_CERTIFICATE_CHAIN_FOUND")


def test_xml_revoked_signer(profiles: dict[Level, SigningProfile], sample_xml: bytes, pki: TestPki) -> None:
    bb = profiles[Level.B_B]
    report = verify_xml(sign_xml(sample_xml, bb.signers_for(["revoked"]), bb), pki)
    assert outcome(report) == ("INDETERMINATE", "REVOKED_NO_POE")
    bt = profiles[Level.B_T]
    # the timestamp proves the signature was made after the revocation
    report = verify_xml(sign_xml(sample_xml, bt.signers_for(["revoked"]), bt), pki)
    assert outcome(report) == ("TOTAL_FAILED", "REVOKED")


def test_xml_expired_certificate(xml_bb: bytes, xml_lt: bytes, pki: TestPki) -> None:
    later = dt.datetime.now(dt.UTC) + dt.timedelta(days=365 * 4)
    with time_machine.travel(later, tick=False):
        # B-B: no proof the signature existed while the certificate was valid
        assert outcome(verify_xml(xml_bb, pki)) == ("INDETERMINATE", "OUT_OF_BOUNDS_NO_POE")
        # B-LT: the timestamp is that proof, and the validation data is in the signature
        report = verify_xml(xml_lt, pki)
        assert report.passed, report.to_json()
        # its embedded validation data was sufficient at the timestamp time: still B-LT as declared
        assert report.signatures[0].level == "B-LT"


# ------------------------------------------------------------------ CAdES

DATA = b"docx bytes " * 100


@pytest.fixture(scope="module")
def p7s_bt(profiles: dict[Level, SigningProfile]) -> bytes:
    p = profiles[Level.B_T]
    return sign_detached(DATA, p.signers_for(["chairman", "member1"]), p)


def _sd(p7s: bytes) -> cms.ContentInfo:
    return cms.ContentInfo.load(p7s)


def test_cades_changed_content_byte(p7s_bt: bytes, pki: TestPki) -> None:
    report = verify_detached(DATA.replace(b"docx", b"dacx", 1), p7s_bt, pki_dir=pki.dir)
    assert [outcome(report, i) for i in range(2)] == [("TOTAL_FAILED", "HASH_FAILURE")] * 2


def _rebuild(p7s: bytes, change_si, extra_certs=()) -> bytes:
    """Re-assemble a .p7s with every SignerInfo passed through ``change_si`` (dict → dict)."""
    sd = _sd(p7s)["content"]
    fields = (
        "version",
        "sid",
        "digest_algorithm",
        "signed_attrs",
        "signature_algorithm",
        "signature",
        "unsigned_attrs",
    )
    infos = []
    for i, si in enumerate(sd["signer_infos"]):
        d = {f: si[f] for f in fields if not isinstance(si[f], core.Void)}  # .native would parse it all
        infos.append(cms.SignerInfo(change_si(i, d)))
    new = {
        "version": sd["version"],
        "digest_algorithms": sd["digest_algorithms"],
        "encap_content_info": sd["encap_content_info"],
        "certificates": [*sd["certificates"], *extra_certs],
        "signer_infos": infos,
    }
    return cms.ContentInfo({"content_type": "signed_data", "content": cms.SignedData(new)}).dump()


def test_cades_swapped_certificate(p7s_bt: bytes, pki: TestPki) -> None:
    from asn1crypto import x509 as ax

    other = ax.Certificate.load(pki.signers["member2"].public_bytes(serialization.Encoding.DER))

    def swap(i: int, d: dict) -> dict:
        if i == 0:
            d["sid"] = cms.SignerIdentifier(
                name="issuer_and_serial_number",
                value={"issuer": other.issuer, "serial_number": other.serial_number},
            )
        return d

    report = verify_detached(DATA, _rebuild(p7s_bt, swap, [other]), pki_dir=pki.dir)
    assert outcome(report, 0) == ("INDETERMINATE", "NO_SIGNING_CERTIFICATE_FOUND")
    assert report.signatures[1].passed


def test_cades_removed_timestamp(p7s_bt: bytes, pki: TestPki) -> None:
    def strip(i: int, d: dict) -> dict:
        d.pop("unsigned_attrs", None)
        return d

    data = _rebuild(p7s_bt, strip)
    report = verify_detached(DATA, data, pki_dir=pki.dir, required_level="B-T")
    assert outcome(report) == ("INDETERMINATE", "SIG_CONSTRAINTS_FAILURE")
    assert not verify_detached(DATA, data, pki_dir=pki.dir).passed  # B-T declared
    assert verify_detached(DATA, data, pki_dir=pki.dir, policy="basic").passed


def test_cades_revoked_signer(profiles: dict[Level, SigningProfile], pki: TestPki) -> None:
    bb = profiles[Level.B_B]
    report = verify_detached(DATA, sign_detached(DATA, bb.signers_for(["revoked"]), bb), pki_dir=pki.dir)
    assert outcome(report) == ("INDETERMINATE", "REVOKED_NO_POE")


def test_cades_untrusted_root(p7s_bt: bytes, other_pki: TestPki) -> None:
    report = verify_detached(DATA, p7s_bt, pki_dir=other_pki.dir)
    assert outcome(report) == ("INDETERMINATE", "NO_CERTIFICATE_CHAIN_FOUND")


# ------------------------------------------------------------------ PDF


@pytest.fixture(scope="module")
def pdf_bb(profiles: dict[Level, SigningProfile], sample_pdf: bytes) -> bytes:
    p = profiles[Level.B_B]
    return sign_pdf(sample_pdf, p.signers_for(["chairman"]), p)


def test_pdf_changed_content_byte(pdf_bb: bytes, pki: TestPki) -> None:
    # flip one byte inside the first stream of the original revision (covered by the byte range)
    pos = pdf_bb.index(b"stream\n") + 200
    bad = pdf_bb[:pos] + bytes([pdf_bb[pos] ^ 0x01]) + pdf_bb[pos + 1 :]
    assert outcome(verify_pdf(bad, pki_dir=pki.dir)) == ("TOTAL_FAILED", "HASH_FAILURE")


def test_pdf_changed_after_signing(pdf_bb: bytes, pki: TestPki) -> None:
    w = IncrementalPdfFileWriter(BytesIO(pdf_bb))
    page = w.root["/Pages"]["/Kids"][0].get_object()
    extra = w.add_object(generic.StreamObject(stream_data=b"BT /F1 30 Tf 100 100 Td (FORGED) Tj ET"))
    contents = page["/Contents"]
    page["/Contents"] = generic.ArrayObject([*(contents if isinstance(contents, list) else [contents]), extra])
    w.update_container(page)
    out = BytesIO()
    w.write(out)
    report = verify_pdf(out.getvalue(), pki_dir=pki.dir)
    assert outcome(report) == ("TOTAL_FAILED", "FORMAT_FAILURE")


def test_pdf_revoked_signer(profiles: dict[Level, SigningProfile], sample_pdf: bytes, pki: TestPki) -> None:
    bb = profiles[Level.B_B]
    report = verify_pdf(sign_pdf(sample_pdf, bb.signers_for(["revoked"]), bb), pki_dir=pki.dir)
    assert outcome(report) == ("INDETERMINATE", "REVOKED_NO_POE")


def test_pdf_revoked_signer_cannot_reach_b_lt(profiles: dict[Level, SigningProfile], sample_pdf: bytes) -> None:
    from signing import SigningFailure

    lt = profiles[Level.B_LT]
    with pytest.raises(SigningFailure):
        sign_pdf(sample_pdf, lt.signers_for(["revoked"]), lt)


def test_pdf_untrusted_root(pdf_bb: bytes, other_pki: TestPki) -> None:
    assert outcome(verify_pdf(pdf_bb, pki_dir=other_pki.dir)) == (
        "INDETERMINATE",
        "NO_CERTIFICATE_CHAIN_FOUND",
    )


@pytest.mark.parametrize("role", ["revoked"])
def test_revoked_signer_cannot_reach_b_lt_in_xml_or_cms(
    profiles: dict[Level, SigningProfile], sample_xml: bytes, role: str
) -> None:
    from signing import RevocationError

    lt = profiles[Level.B_LT]
    with pytest.raises(RevocationError, match="revoked"):
        sign_xml(sample_xml, lt.signers_for([role]), lt)
    with pytest.raises(RevocationError, match="revoked"):
        sign_detached(b"x", lt.signers_for([role]), lt)
