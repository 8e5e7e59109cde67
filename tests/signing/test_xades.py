"""XAdES: signing at every level, parallel signatures, checked by xmlsec1 and our verifier."""

from __future__ import annotations

import base64
import datetime as dt
from pathlib import Path

import pytest
from lxml import etree

from signing import Level, SigningProfile, TestPki, UnsupportedDocumentError, sign_xml, verify_xml
from signing._xml import DS, XADES

from .helpers import need, run

NS = {"ds": DS, "xades": XADES}
COMMISSION = ["chairman", "member1", "member2"]


def xmlsec_verify(path: Path, pki: TestPki, sig_id: str) -> None:
    r = run(
        "xmlsec1", "--verify",
        "--trusted-pem", pki.root_path, "--untrusted-pem", pki.dir / "ca.pem",
        "--id-attr:Id", f"{XADES}:SignedProperties",
        "--id-attr:Id", f"{DS}:Signature",
        "--node-id", sig_id,
        path,
    )  # fmt: skip
    assert r.returncode == 0, r.stdout + r.stderr
    assert "SignedInfo References (ok/all): 2/2" in r.stdout + r.stderr


@pytest.fixture(scope="module")
def signed(profiles: dict[Level, SigningProfile], sample_xml: bytes) -> dict[Level, bytes]:
    return {level: sign_xml(sample_xml, prof.signers_for(COMMISSION), prof) for level, prof in profiles.items()}


@pytest.mark.parametrize("level", list(Level))
def test_xmlsec1_verifies_every_parallel_signature(
    signed: dict[Level, bytes], level: Level, pki: TestPki, tmp_path: Path
) -> None:
    need("xmlsec1")
    path = tmp_path / "signed.xml"
    path.write_bytes(signed[level])
    ids = etree.fromstring(signed[level]).xpath("/*/ds:Signature/@Id", namespaces=NS)
    assert len(ids) == 3
    for sig_id in ids:
        xmlsec_verify(path, pki, sig_id)


@pytest.mark.parametrize("level", list(Level))
def test_our_verifier_passes_with_level_and_roles(signed: dict[Level, bytes], level: Level, pki: TestPki) -> None:
    report = verify_xml(signed[level], pki_dir=pki.dir, required_level=level)
    assert report.passed, report.to_json()
    assert [s.level for s in report.signatures] == [level.value] * 3
    assert [s.role for s in report.signatures] == ["Председатель МРЭК", "Член МРЭК", "Член МРЭК"]
    first = report.signatures[0]
    assert "Петров" in (first.signer_subject or "")
    assert first.covers is not None and first.covers.startswith(
        '/Conclusion (xmlns="urn:msedocs:test:1"): whole document'
    )
    assert "SignedProperties" in first.covers
    assert first.qualified.qc_compliance and first.qualified.qc_sscd
    assert (first.timestamp_time is not None) == (level >= Level.B_T)


def test_signed_properties_content(signed: dict[Level, bytes]) -> None:
    root = etree.fromstring(signed[Level.B_LT])
    sig = root.find("ds:Signature", NS)
    sp = sig.find(".//xades:SignedProperties", NS)
    assert sp.find(".//xades:SigningTime", NS) is not None
    assert sp.find(".//xades:SigningCertificateV2/xades:Cert/xades:CertDigest", NS) is not None
    assert sp.findtext(".//xades:SignerRoleV2/xades:ClaimedRoles/xades:ClaimedRole", namespaces=NS) == (
        "Председатель МРЭК"
    )
    assert sp.findtext(".//xades:DataObjectFormat/xades:MimeType", namespaces=NS) == "text/xml"
    usp = sig.find(".//xades:UnsignedSignatureProperties", NS)
    assert usp.find("xades:SignatureTimeStamp/xades:EncapsulatedTimeStamp", NS) is not None
    assert len(usp.findall("xades:CertificateValues/xades:EncapsulatedX509Certificate", NS)) >= 4
    assert usp.findall("xades:RevocationValues/xades:OCSPValues/xades:EncapsulatedOCSPValue", NS)
    assert usp.findall("xades:RevocationValues/xades:CRLValues/xades:EncapsulatedCRLValue", NS)
    # no SHA-1 anywhere
    assert b"sha1" not in signed[Level.B_LT]


def test_adding_a_signer_later_keeps_earlier_signatures_valid(
    profiles: dict[Level, SigningProfile], sample_xml: bytes, pki: TestPki
) -> None:
    prof = profiles[Level.B_B]
    once = sign_xml(sample_xml, prof.signers_for(["vkk_chairman"]), prof)
    twice = sign_xml(once, prof.signers_for(["vkk_member"]), prof)
    report = verify_xml(twice, pki_dir=pki.dir)
    assert report.passed and len(report.signatures) == 2


def test_bureau_head_russian_certificate_signs(profiles: dict[Level, SigningProfile], sample_xml: bytes, pki) -> None:
    prof = profiles[Level.B_T]
    report = verify_xml(sign_xml(sample_xml, prof.signers_for(["bureau_head"]), prof), pki_dir=pki.dir)
    assert report.passed
    assert "SNILS=11223344595" in (report.signatures[0].signer_subject or "")
    assert report.signatures[0].role == "Руководитель бюро"


@pytest.mark.parametrize(
    "bad",
    [
        b'<?xml version="1.0"?><!DOCTYPE a [<!ENTITY e SYSTEM "file:///etc/passwd">]><a>&e;</a>',
        b'<?xml version="1.0"?><!DOCTYPE a SYSTEM "http://example.com/a.dtd"><a/>',
        b"<a><b></a>",
    ],
    ids=["external-entity", "external-dtd", "not-well-formed"],
)
def test_unsafe_or_broken_xml_is_refused(bad: bytes, profiles: dict[Level, SigningProfile], pki) -> None:
    prof = profiles[Level.B_B]
    with pytest.raises(UnsupportedDocumentError):
        sign_xml(bad, prof.signers_for(["chairman"]), prof)
    with pytest.raises(UnsupportedDocumentError):
        verify_xml(bad, pki_dir=pki.dir)


def test_signing_time_is_the_one_given(profiles: dict[Level, SigningProfile], sample_xml: bytes, pki) -> None:
    prof = profiles[Level.B_B]
    when = dt.datetime.now(dt.UTC).replace(microsecond=0) - dt.timedelta(minutes=5)
    out = sign_xml(sample_xml, prof.signers_for(["mpr_head"]), prof, signing_time=when)
    report = verify_xml(out, pki_dir=pki.dir)
    assert report.signatures[0].signing_time == when
    assert report.signatures[0].role == "Заведующий кабинетом МПР"


def test_signature_value_is_base64_rsa_2048(signed: dict[Level, bytes]) -> None:
    value = etree.fromstring(signed[Level.B_B]).findtext(".//ds:SignatureValue", namespaces=NS)
    assert len(base64.b64decode(value)) == 256


@pytest.mark.parametrize("level", list(Level))
def test_signatures_validate_against_the_xades_schema(signed: dict[Level, bytes], level: Level, tmp_path: Path) -> None:
    """xmllint against ETSI's XAdES 1.4.1 XSD (shipped with signxml), which imports the 1.3.2 one and
    XMLDSig's: B-LTA's TimeStampValidationData and ArchiveTimeStamp are 1.4.1 elements."""
    need("xmllint")
    import signxml

    xsd = Path(signxml.__file__).parent / "xades" / "schemas" / "XAdES01903v141-201601.xsd"
    for i, sig in enumerate(etree.fromstring(signed[level]).findall("ds:Signature", NS)):
        path = tmp_path / f"sig{i}.xml"
        path.write_bytes(etree.tostring(sig))
        r = run("xmllint", "--nonet", "--noout", "--schema", xsd, path)
        assert r.returncode == 0, r.stderr
