"""PKCS#11 through python-pkcs11 against SoftHSM2: the key is generated on the token and never leaves it."""

from __future__ import annotations

import datetime as dt
import os
import shutil
import subprocess
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID

from signing import (
    KeyLoadError,
    Level,
    SignerRef,
    SigningProfile,
    TestPki,
    load_pkcs11,
    load_pkcs12,
    sign_detached,
    sign_pdf,
    sign_xml,
    verify_detached,
    verify_pdf,
    verify_xml,
)
from signing.pki import DEFAULT_TEST_PASSWORD

MODULES = ["/usr/lib/softhsm/libsofthsm2.so", "/usr/lib/x86_64-linux-gnu/softhsm/libsofthsm2.so"]
TOKEN, PIN, LABEL = "msedocs-test", "5678", "hsm_signer"


@pytest.fixture(scope="module")
def token(tmp_path_factory: pytest.TempPathFactory, pki: TestPki) -> Iterator[tuple[str, x509.Certificate]]:
    if shutil.which("softhsm2-util") is None:
        pytest.skip("softhsm2-util is NOT installed: the PKCS#11 tests did NOT run")
    module = next((m for m in MODULES if Path(m).is_file()), None)
    if module is None:
        pytest.skip("libsofthsm2.so NOT found: the PKCS#11 tests did NOT run")
    import pkcs11
    from pkcs11 import Attribute, CertificateType, KeyType, ObjectClass

    d = tmp_path_factory.mktemp("softhsm")
    (d / "tokens").mkdir()
    conf = d / "softhsm2.conf"
    conf.write_text(f"directories.tokendir = {d / 'tokens'}\nobjectstore.backend = file\nlog.level = ERROR\n")
    old = os.environ.get("SOFTHSM2_CONF")
    os.environ["SOFTHSM2_CONF"] = str(conf)
    subprocess.run(
        ["softhsm2-util", "--init-token", "--free", "--label", TOKEN, "--so-pin", "1234", "--pin", PIN],
        check=True,
        capture_output=True,
    )
    lib = pkcs11.lib(module)
    lib.reinitialize()  # pick up SOFTHSM2_CONF even if the module was loaded before
    tok = lib.get_token(token_label=TOKEN)
    ca = load_pkcs12(pki.key_path("ca"), DEFAULT_TEST_PASSWORD, role="pki:ca", title="ca")
    with tok.open(rw=True, user_pin=PIN) as session:
        pub, priv = session.generate_keypair(
            KeyType.RSA,
            2048,
            label=LABEL,
            store=True,
            private_template={Attribute.SENSITIVE: True, Attribute.EXTRACTABLE: False},
        )
        public = rsa.RSAPublicNumbers(
            int.from_bytes(pub[Attribute.PUBLIC_EXPONENT], "big"),
            int.from_bytes(pub[Attribute.MODULUS], "big"),
        ).public_key()
        now = dt.datetime.now(dt.UTC)
        cert = (
            x509.CertificateBuilder()
            .subject_name(
                x509.Name(
                    [
                        x509.NameAttribute(NameOID.COUNTRY_NAME, "BY"),
                        x509.NameAttribute(NameOID.ORGANIZATION_NAME, "TEST МРЭК (HSM)"),
                        x509.NameAttribute(NameOID.COMMON_NAME, "TEST Ключ на токене"),
                    ]
                )
            )
            .issuer_name(pki.ca.subject)
            .public_key(public)
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(days=1))
            .not_valid_after(now + dt.timedelta(days=365))
            .add_extension(x509.KeyUsage(True, True, False, False, False, False, False, False, False), critical=True)
            .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(pki.ca.public_key()), critical=False)
            .sign(ca.key.private_key, hashes.SHA256())  # type: ignore[attr-defined]
        )
        session.create_object(
            {
                Attribute.CLASS: ObjectClass.CERTIFICATE,
                Attribute.CERTIFICATE_TYPE: CertificateType.X_509,
                Attribute.TOKEN: True,
                Attribute.LABEL: LABEL,
                Attribute.SUBJECT: cert.subject.public_bytes(),
                Attribute.VALUE: cert.public_bytes(serialization.Encoding.DER),
            }
        )
        assert priv[Attribute.SENSITIVE] is True and priv[Attribute.EXTRACTABLE] is False
    yield module, cert
    if old is None:
        os.environ.pop("SOFTHSM2_CONF", None)
    else:
        os.environ["SOFTHSM2_CONF"] = old


def test_key_stays_on_token(token: tuple[str, x509.Certificate]) -> None:
    import pkcs11
    from pkcs11 import Attribute, ObjectClass

    module, _ = token
    with pkcs11.lib(module).get_token(token_label=TOKEN).open(user_pin=PIN) as session:
        priv = session.get_key(object_class=ObjectClass.PRIVATE_KEY, label=LABEL)
        assert priv[Attribute.EXTRACTABLE] is False and priv[Attribute.NEVER_EXTRACTABLE] is True
        with pytest.raises(pkcs11.PKCS11Error):
            priv[Attribute.PRIVATE_EXPONENT]  # noqa: B018


def test_sign_all_formats_with_token_key(
    token: tuple[str, x509.Certificate],
    pki: TestPki,
    profiles: dict[Level, SigningProfile],
    sample_xml,
    sample_pdf,
) -> None:
    module, cert = token
    signer = load_pkcs11(
        module, token_label=TOKEN, key_label=LABEL, pin=PIN, role="hsm", title="Член МРЭК", chain=pki.chain
    )
    assert signer.certificate == cert  # read from the token
    assert load_pkcs11(module, token_label=TOKEN, key_label=LABEL, pin=PIN, role="hsm", title="Член МРЭК") is signer
    prof = profiles[Level.B_T]
    xml_report = verify_xml(sign_xml(sample_xml, [signer], prof), pki_dir=pki.dir)
    assert xml_report.passed, xml_report.to_json()
    pdf_report = verify_pdf(sign_pdf(sample_pdf, [signer], prof), pki_dir=pki.dir)
    assert pdf_report.passed, pdf_report.to_json()
    cms_report = verify_detached(b"data", sign_detached(b"data", [signer], prof), pki_dir=pki.dir)
    assert cms_report.passed, cms_report.to_json()


def test_signer_ref_with_pin_from_environment(
    token: tuple[str, x509.Certificate],
    pki: TestPki,
    profiles: dict[Level, SigningProfile],
    sample_xml,
    monkeypatch,
) -> None:
    module, _ = token
    ref = SignerRef(
        role="hsm2", title="Руководитель бюро", pkcs11_module=module, token_label=TOKEN, key_label=LABEL,
        pin_env="TEST_HSM_PIN", chain=(pki.dir / "ca.pem", pki.root_path),
    )  # fmt: skip
    prof = replace(profiles[Level.B_B], signers={"hsm2": ref})
    with pytest.raises(KeyLoadError, match="TEST_HSM_PIN"):
        prof.signer("hsm2")
    monkeypatch.setenv("TEST_HSM_PIN", PIN)
    report = verify_xml(sign_xml(sample_xml, prof.signers_for(["hsm2"]), prof), pki_dir=pki.dir)
    assert report.passed and report.signatures[0].role == "Руководитель бюро"


def test_wrong_pin(token: tuple[str, x509.Certificate]) -> None:
    module, _ = token
    with pytest.raises(KeyLoadError, match="PKCS#11"):
        load_pkcs11(module, token_label=TOKEN, key_label=LABEL, pin="0000", role="x", title="x")
