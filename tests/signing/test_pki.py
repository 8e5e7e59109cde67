"""The test PKI: what `msedocs pki init` writes, checked with cryptography and openssl."""

from __future__ import annotations

import pytest
from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.x509.oid import ExtendedKeyUsageOID

from signing import ROLE_TITLES, PkiError, TestPki, init_pki, load_pki
from signing.validation import qualified_flags

from .helpers import need, run


def test_files_and_roles(pki: TestPki) -> None:
    assert (pki.dir / "root-ca.pem").is_file()
    assert (pki.dir / "crl" / "ca.crl").is_file()
    assert set(ROLE_TITLES) <= set(pki.signers)
    assert pki.titles["chairman"] == "Председатель МРЭК"
    assert pki.titles["bureau_head"] == "Руководитель бюро"
    for role in pki.signers:
        assert pki.key_path(role).is_file()


def test_every_subject_says_test(pki: TestPki) -> None:
    for cert in [pki.root, pki.ca, pki.tsa, pki.ocsp, *pki.signers.values()]:
        assert "TEST" in cert.subject.rfc4514_string()


@pytest.mark.parametrize("role", sorted(ROLE_TITLES))
def test_signer_certificate_is_qualified_style(pki: TestPki, role: str) -> None:
    cert = pki.signers[role]
    ku = cert.extensions.get_extension_for_class(x509.KeyUsage)
    assert ku.critical and ku.value.digital_signature and ku.value.content_commitment
    flags = qualified_flags(asn1_x509.Certificate.load(cert.public_bytes(serialization.Encoding.DER)))
    assert flags.qc_compliance and flags.qc_sscd and flags.qc_type_esign
    assert flags.policy_qcp_n_qscd and flags.non_repudiation and flags.test


def _check_digit_ogrn(v: str) -> bool:
    return int(v[:12]) % 11 % 10 == int(v[12])


def _check_digits_inn12(v: str) -> bool:
    d = [int(c) for c in v]
    w11 = (7, 2, 4, 10, 3, 5, 9, 4, 6, 8)
    w12 = (3, 7, 2, 4, 10, 3, 5, 9, 4, 6, 8)
    return (
        sum(a * b for a, b in zip(d, w11, strict=False)) % 11 % 10 == d[10]
        and sum(a * b for a, b in zip(d, w12, strict=False)) % 11 % 10 == d[11]
    )


def test_bureau_head_has_russian_attributes(pki: TestPki) -> None:
    subject = pki.signers["bureau_head"].subject
    snils = subject.get_attributes_for_oid(x509.ObjectIdentifier("1.2.643.100.3"))[0].value
    ogrn = subject.get_attributes_for_oid(x509.ObjectIdentifier("1.2.643.100.1"))[0].value
    inn = subject.get_attributes_for_oid(x509.ObjectIdentifier("1.2.643.3.131.1.1"))[0].value
    assert snils == "11223344595"
    assert len(ogrn) == 13 and _check_digit_ogrn(str(ogrn))
    assert len(inn) == 12 and _check_digits_inn12(str(inn))


def test_tsa_and_ocsp_certificates(pki: TestPki) -> None:
    eku = pki.tsa.extensions.get_extension_for_class(x509.ExtendedKeyUsage)
    assert eku.critical and list(eku.value) == [ExtendedKeyUsageOID.TIME_STAMPING]
    assert ExtendedKeyUsageOID.OCSP_SIGNING in pki.ocsp.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    pki.ocsp.extensions.get_extension_for_class(x509.OCSPNoCheck)


def test_openssl_verifies_chains_and_crl(pki: TestPki) -> None:
    need("openssl")
    for role in ("chairman", "bureau_head"):
        r = run(
            "openssl",
            "verify",
            "-CAfile",
            pki.root_path,
            "-untrusted",
            pki.dir / "ca.pem",
            pki.cert_path(role),
        )
        assert r.returncode == 0, r.stderr
    crl = run("openssl", "crl", "-inform", "DER", "-in", pki.dir / "crl" / "ca.crl", "-noout", "-text")
    assert f"{pki.signers['revoked'].serial_number:X}" in crl.stdout.replace(":", "").upper()
    assert f"{pki.signers['chairman'].serial_number:X}" not in crl.stdout.replace(":", "").upper()


def test_load_pki_round_trip_and_no_overwrite(pki: TestPki) -> None:
    again = load_pki(pki.dir)
    assert again.signers["member1"] == pki.signers["member1"]
    assert pki.signers["revoked"].serial_number in again.revoked
    with pytest.raises(PkiError, match="already holds"):
        init_pki(pki.dir)


def test_load_pki_missing_dir(tmp_path) -> None:
    with pytest.raises(PkiError, match="pki init"):
        load_pki(tmp_path / "nothing")
