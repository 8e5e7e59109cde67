"""A test PKI in qualified-signature style, declared in one place.

``init_pki(dir)`` creates, with ``cryptography``'s builders (no hand-written ASN.1):

- ``root-ca.pem``: a self-signed root ("TEST msedocs Root CA");
- ``ca.pem``: a qualified-style issuing CA under the root;
- ``signers/<role>.pem`` and ``keys/<role>.p12``: one signer per role, with keyUsage
  digitalSignature + nonRepudiation (critical), the QCP-n-qscd certificate policy plus a
  TEST policy, and qcStatements QcCompliance, QcSSCD and QcType esign. The bureau head
  (a Russian ФКУ ГБ МСЭ) carries СНИЛС, ОГРН and ИНН in the subject;
- ``tsa.pem``: a timestamp authority (extendedKeyUsage timeStamping, critical);
- ``ocsp.pem``: an OCSP responder (OCSPSigning, id-pkix-ocsp-nocheck);
- ``crl/root.crl`` and ``crl/ca.crl``: DER CRLs; the ``revoked`` signer is on the CA's CRL;
- ``pki.json``: the manifest (roles, titles, serials, revocations, service URL).

Every subject says TEST. Keys are RSA-2048: every validator we check against (xmlsec1,
pdfsig, openssl, pyHanko) handles it, signing costs about 1 ms, and the benchmark
compares with stock pyHanko on RSA-2048.

Private keys are in PKCS#12 files (PBES2, AES-256, SHA-256 MAC) under ``keys/``; the
password is :data:`DEFAULT_TEST_PASSWORD` unless ``MSEDOCS_PKI_PASSWORD`` (or a file
named by ``MSEDOCS_PKI_PASSWORD_FILE``) says otherwise at creation time.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.serialization import pkcs12
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from .errors import PkiError

if TYPE_CHECKING:
    from .keys import Signer

try:  # Russian practice encodes СНИЛС, ОГРН and ИНН as NumericString; cryptography keeps the enum private
    from cryptography.x509.name import _ASN1Type

    _NUMERIC: dict[str, Any] = {"_type": _ASN1Type.NumericString}
except ImportError:  # pragma: no cover - fall back to UTF8String
    _NUMERIC = {}

__all__ = [
    "DEFAULT_SERVICE_URL",
    "DEFAULT_TEST_PASSWORD",
    "ROLE_TITLES",
    "TestPki",
    "init_pki",
    "load_pki",
    "pki_password",
]

DEFAULT_TEST_PASSWORD = "msedocs-TEST-only"
"""Password of the PKCS#12 files of a generated test PKI (override with ``MSEDOCS_PKI_PASSWORD``)."""

DEFAULT_SERVICE_URL = "http://127.0.0.1:8790"
"""Where ``msedocs pki serve`` listens by default; written into the certificates' AIA and CRL DP."""

ROLE_TITLES: Mapping[str, str] = {
    "chairman": "Председатель МРЭК",
    "member1": "Член МРЭК",
    "member2": "Член МРЭК",
    "vkk_chairman": "Председатель ВКК",
    "vkk_member": "Член ВКК",
    "bureau_head": "Руководитель бюро",
    "mpr_head": "Заведующий кабинетом МПР",
    "revoked": "Член МРЭК",
}
"""Signer roles of the test PKI and the SignerRole each one claims. ``revoked`` is revoked at creation."""

_NAMES = {
    "chairman": "Петров Пётр Петрович",
    "member1": "Иванова Анна Сергеевна",
    "member2": "Ковалёв Андрей Николаевич",
    "vkk_chairman": "Сидоренко Ольга Викторовна",
    "vkk_member": "Богданович Игорь Павлович",
    "bureau_head": "Смирнов Алексей Игоревич",
    "mpr_head": "Лукашевич Мария Олеговна",
    "revoked": "Отозванный Тест Тестович",
}

OID_OGRN = x509.ObjectIdentifier("1.2.643.100.1")
OID_SNILS = x509.ObjectIdentifier("1.2.643.100.3")
OID_INN = x509.ObjectIdentifier("1.2.643.3.131.1.1")
OID_QCP_N_QSCD = x509.ObjectIdentifier("0.4.0.194112.1.2")
OID_TEST_POLICY = x509.ObjectIdentifier("2.25.329800735698586629295641978511506172918")
OID_QC_STATEMENTS = x509.ObjectIdentifier("1.3.6.1.5.5.7.1.3")

# Test values: СНИЛС from the identifiers table; ОГРН and ИНН built with valid check digits below.
TEST_SNILS = "11223344595"


def _ogrn_with_check(first12: str) -> str:
    return first12 + str(int(first12) % 11 % 10)


def _inn12_with_checks(first10: str) -> str:
    w11 = (7, 2, 4, 10, 3, 5, 9, 4, 6, 8)
    c11 = sum(int(d) * w for d, w in zip(first10, w11, strict=True)) % 11 % 10
    s11 = first10 + str(c11)
    w12 = (3, 7, 2, 4, 10, 3, 5, 9, 4, 6, 8)
    c12 = sum(int(d) * w for d, w in zip(s11, w12, strict=True)) % 11 % 10
    return s11 + str(c12)


TEST_OGRN = _ogrn_with_check("102773900000")
TEST_INN = _inn12_with_checks("7707083893")


def pki_password(env: Mapping[str, str] | None = None) -> str:
    """The PKCS#12 password: ``MSEDOCS_PKI_PASSWORD``, else the file ``MSEDOCS_PKI_PASSWORD_FILE``,
    else :data:`DEFAULT_TEST_PASSWORD`."""
    env = os.environ if env is None else env
    if env.get("MSEDOCS_PKI_PASSWORD"):
        return env["MSEDOCS_PKI_PASSWORD"]
    pw_file = env.get("MSEDOCS_PKI_PASSWORD_FILE")
    if pw_file:
        try:
            return Path(pw_file).read_text(encoding="utf-8").strip()
        except OSError as exc:
            raise PkiError(f"cannot read the PKI password file {pw_file}: {exc.strerror}") from exc
    return DEFAULT_TEST_PASSWORD


@dataclass(frozen=True)
class TestPki:
    """A test PKI on disk, as written by :func:`init_pki`. Certificates are loaded; keys are not."""

    __test__ = False  # not a pytest test class

    dir: Path
    """The PKI directory."""
    root: x509.Certificate
    """The self-signed root, the trust anchor (``root-ca.pem``)."""
    ca: x509.Certificate
    """The issuing CA of signers, TSA and OCSP responder (``ca.pem``)."""
    tsa: x509.Certificate
    """The timestamp authority's certificate."""
    ocsp: x509.Certificate
    """The OCSP responder's certificate (signed by the CA, with ocsp-nocheck)."""
    signers: Mapping[str, x509.Certificate]
    """Signer certificate per role (see :data:`ROLE_TITLES`)."""
    titles: Mapping[str, str]
    """SignerRole claimed by each role."""
    revoked: Mapping[int, dt.datetime] = field(default_factory=dict)
    """Revoked certificate serial numbers and their revocation times."""
    service_url: str = DEFAULT_SERVICE_URL
    """Base URL of ``msedocs pki serve`` (OCSP at ``/ocsp``, TSA at ``/tsa``, CRLs at ``/crl/``)."""

    @property
    def root_path(self) -> Path:
        return self.dir / "root-ca.pem"

    def key_path(self, name: str) -> Path:
        """PKCS#12 file of ``name``: a role, or ``root``, ``ca``, ``tsa``, ``ocsp``."""
        return self.dir / "keys" / f"{name}.p12"

    def cert_path(self, role: str) -> Path:
        return self.dir / "signers" / f"{role}.pem"

    @property
    def chain(self) -> tuple[x509.Certificate, x509.Certificate]:
        """Issuing CA and root, in that order."""
        return (self.ca, self.root)


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC).replace(microsecond=0)


def _name(cn: str, *, org: str, country: str, extra: list[x509.NameAttribute] | None = None) -> x509.Name:
    attrs = [
        x509.NameAttribute(NameOID.COUNTRY_NAME, country),
        x509.NameAttribute(NameOID.ORGANIZATION_NAME, org),
        *(extra or []),
        x509.NameAttribute(NameOID.COMMON_NAME, cn),
    ]
    return x509.Name(attrs)


def _qc_statements_der() -> bytes:
    from pyhanko.sign.ades import qualified_asn1  # imports all of pyhanko.sign: only when a PKI is made

    value = qualified_asn1.QcStatements(
        [
            {"statement_id": "qc_compliance"},
            {"statement_id": "qc_sscd"},
            {"statement_id": "qc_type", "statement_info": qualified_asn1.QcCertificateType(["qct_esign"])},
        ]
    )
    return value.dump()


def _new_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def _builder(
    subject: x509.Name,
    issuer: x509.Name,
    key: rsa.RSAPrivateKey,
    issuer_key: rsa.RSAPrivateKey,
    not_before: dt.datetime,
    years: int,
) -> x509.CertificateBuilder:
    return (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(not_before)
        .not_valid_after(not_before + dt.timedelta(days=365 * years))
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer_key.public_key()), critical=False)
    )


def _crl_distribution(service_url: str, crl: str) -> x509.CRLDistributionPoints:
    """Where the issuer's CRL is: ``<service_url>/crl/<crl>``."""
    url = x509.UniformResourceIdentifier(f"{service_url}/crl/{crl}")
    return x509.CRLDistributionPoints(
        [x509.DistributionPoint(full_name=[url], relative_name=None, reasons=None, crl_issuer=None)]
    )


def _leaf_extensions(b: x509.CertificateBuilder, service_url: str, *, ca_crl: str) -> x509.CertificateBuilder:
    return b.add_extension(_crl_distribution(service_url, ca_crl), critical=False).add_extension(
        x509.BasicConstraints(ca=False, path_length=None), critical=True
    )


def _ocsp_aia(service_url: str) -> x509.AuthorityInformationAccess:
    return x509.AuthorityInformationAccess(
        [
            x509.AccessDescription(
                x509.AuthorityInformationAccessOID.OCSP, x509.UniformResourceIdentifier(f"{service_url}/ocsp")
            ),
            x509.AccessDescription(
                x509.AuthorityInformationAccessOID.CA_ISSUERS,
                x509.UniformResourceIdentifier(f"{service_url}/ca.pem"),
            ),
        ]
    )


def _key_usage(*, signing: bool = False, ca: bool = False) -> x509.KeyUsage:
    """Signers (the TSA and OCSP responder too): digitalSignature and nonRepudiation; CAs:
    keyCertSign and cRLSign. No key or data encipherment, no key agreement, for anyone."""
    never = dict.fromkeys(
        ("key_encipherment", "data_encipherment", "key_agreement", "encipher_only", "decipher_only"), False
    )
    return x509.KeyUsage(digital_signature=signing, content_commitment=signing, key_cert_sign=ca, crl_sign=ca, **never)


def _write_p12(
    path: Path,
    name: str,
    key: rsa.RSAPrivateKey,
    cert: x509.Certificate,
    cas: list[x509.Certificate],
    pw: str,
) -> None:
    enc = (
        serialization.PrivateFormat.PKCS12.encryption_builder()
        .kdf_rounds(20000)
        .key_cert_algorithm(pkcs12.PBES.PBESv2SHA256AndAES256CBC)
        .hmac_hash(hashes.SHA256())
        .build(pw.encode())
    )
    path.write_bytes(pkcs12.serialize_key_and_certificates(name.encode(), key, cert, cas, enc))
    path.chmod(0o600)


def build_crl(
    issuer: x509.Certificate,
    issuer_key: rsa.RSAPrivateKey,
    revoked: Mapping[int, dt.datetime],
    now: dt.datetime | None = None,
    days: int = 7,
) -> x509.CertificateRevocationList:
    """A CRL of ``issuer`` listing ``revoked`` (serial → time), valid ``days`` from ``now``."""
    now = now or _now()
    b = (
        x509.CertificateRevocationListBuilder()
        .issuer_name(issuer.subject)
        .last_update(now - dt.timedelta(minutes=1))
        .next_update(now + dt.timedelta(days=days))
        .add_extension(x509.CRLNumber(int(now.timestamp())), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer_key.public_key()), critical=False)
    )
    for serial, when in revoked.items():
        b = b.add_revoked_certificate(
            x509.RevokedCertificateBuilder()
            .serial_number(serial)
            .revocation_date(when)
            .add_extension(x509.CRLReason(x509.ReasonFlags.key_compromise), critical=False)
            .build()
        )
    return b.sign(issuer_key, hashes.SHA256())


def init_pki(directory: str | os.PathLike[str], *, service_url: str = DEFAULT_SERVICE_URL) -> TestPki:
    """Create a fresh test PKI in ``directory`` (created if needed) and return it loaded.

    Raises :class:`PkiError` if the directory already holds a PKI (``pki.json``).
    """
    d = Path(directory)
    if (d / "pki.json").exists():
        raise PkiError(f"{d} already holds a test PKI (pki.json exists); choose an empty directory")
    try:
        for sub in ("keys", "signers", "crl"):
            (d / sub).mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise PkiError(f"cannot create the test PKI directory {d}: {exc.strerror}") from exc
    pw = pki_password()
    now = _now()
    nb = now - dt.timedelta(days=1)

    root_key = _new_key()
    root_name = _name("TEST msedocs Root CA", org="TEST msedocs (not valid for real use)", country="BY")
    root = (
        _builder(root_name, root_name, root_key, root_key, nb, 20)
        .add_extension(x509.BasicConstraints(ca=True, path_length=1), critical=True)
        .add_extension(_key_usage(ca=True), critical=True)
        .sign(root_key, hashes.SHA256())
    )

    ca_key = _new_key()
    ca_name = _name(
        "TEST msedocs Qualified-style Issuing CA", org="TEST msedocs (not valid for real use)", country="BY"
    )
    ca = (
        _builder(ca_name, root_name, ca_key, root_key, nb, 15)
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(_key_usage(ca=True), critical=True)
        .add_extension(
            x509.CertificatePolicies([x509.PolicyInformation(x509.CertificatePoliciesOID.ANY_POLICY, None)]),
            critical=False,
        )
        .add_extension(_crl_distribution(service_url, "root.crl"), critical=False)
        .sign(root_key, hashes.SHA256())
    )

    org = "TEST msedocs (not valid for real use)"

    tsa_key = _new_key()
    tsa = (
        _leaf_extensions(
            _builder(
                _name("TEST msedocs Timestamp Authority", org=org, country="BY"),
                ca_name,
                tsa_key,
                ca_key,
                nb,
                12,
            ),
            service_url,
            ca_crl="ca.crl",
        )
        .add_extension(_key_usage(signing=True), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.TIME_STAMPING]), critical=True)
        .add_extension(_ocsp_aia(service_url), critical=False)
        .sign(ca_key, hashes.SHA256())
    )

    ocsp_key = _new_key()
    ocsp = (
        _builder(_name("TEST msedocs OCSP Responder", org=org, country="BY"), ca_name, ocsp_key, ca_key, nb, 12)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(_key_usage(signing=True), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.OCSP_SIGNING]), critical=False)
        .add_extension(x509.OCSPNoCheck(), critical=False)
        .sign(ca_key, hashes.SHA256())
    )

    policies = x509.CertificatePolicies(
        [
            x509.PolicyInformation(OID_QCP_N_QSCD, None),
            x509.PolicyInformation(
                OID_TEST_POLICY, [x509.UserNotice(None, "TEST certificate, not valid for real use")]
            ),
        ]
    )
    qc = x509.UnrecognizedExtension(OID_QC_STATEMENTS, _qc_statements_der())
    signers: dict[str, x509.Certificate] = {}
    signer_keys: dict[str, rsa.RSAPrivateKey] = {}
    for role, title in ROLE_TITLES.items():
        key = _new_key()
        if role in ("bureau_head",):
            subject = x509.Name(
                [
                    x509.NameAttribute(NameOID.COUNTRY_NAME, "RU"),
                    x509.NameAttribute(NameOID.ORGANIZATION_NAME, "TEST ФКУ «ГБ МСЭ» (not valid for real use)"),
                    x509.NameAttribute(NameOID.TITLE, title),
                    x509.NameAttribute(OID_SNILS, TEST_SNILS, **_NUMERIC),
                    x509.NameAttribute(OID_OGRN, TEST_OGRN, **_NUMERIC),
                    x509.NameAttribute(OID_INN, TEST_INN, **_NUMERIC),
                    x509.NameAttribute(NameOID.SURNAME, _NAMES[role].split()[0]),
                    x509.NameAttribute(NameOID.GIVEN_NAME, " ".join(_NAMES[role].split()[1:])),
                    x509.NameAttribute(NameOID.COMMON_NAME, f"TEST {_NAMES[role]}"),
                ]
            )
        else:
            subject = _name(
                f"TEST {_NAMES[role]}",
                org="TEST МРЭК (not valid for real use)",
                country="BY",
                extra=[x509.NameAttribute(NameOID.TITLE, title)],
            )
        cert = (
            _leaf_extensions(_builder(subject, ca_name, key, ca_key, nb, 3), service_url, ca_crl="ca.crl")
            .add_extension(_key_usage(signing=True), critical=True)
            .add_extension(policies, critical=False)
            .add_extension(qc, critical=False)
            .add_extension(_ocsp_aia(service_url), critical=False)
            .sign(ca_key, hashes.SHA256())
        )
        signers[role] = cert
        signer_keys[role] = key

    revoked = {signers["revoked"].serial_number: now - dt.timedelta(hours=1)}

    pem = serialization.Encoding.PEM
    (d / "root-ca.pem").write_bytes(root.public_bytes(pem))
    (d / "ca.pem").write_bytes(ca.public_bytes(pem))
    (d / "tsa.pem").write_bytes(tsa.public_bytes(pem))
    (d / "ocsp.pem").write_bytes(ocsp.public_bytes(pem))
    (d / "chain.pem").write_bytes(ca.public_bytes(pem) + root.public_bytes(pem))
    _write_p12(d / "keys" / "root.p12", "root", root_key, root, [], pw)
    _write_p12(d / "keys" / "ca.p12", "ca", ca_key, ca, [root], pw)
    _write_p12(d / "keys" / "tsa.p12", "tsa", tsa_key, tsa, [ca, root], pw)
    _write_p12(d / "keys" / "ocsp.p12", "ocsp", ocsp_key, ocsp, [ca, root], pw)
    for role, cert in signers.items():
        (d / "signers" / f"{role}.pem").write_bytes(cert.public_bytes(pem))
        _write_p12(d / "keys" / f"{role}.p12", role, signer_keys[role], cert, [ca, root], pw)
    der = serialization.Encoding.DER
    (d / "crl" / "root.crl").write_bytes(build_crl(root, root_key, {}, now).public_bytes(der))
    (d / "crl" / "ca.crl").write_bytes(build_crl(ca, ca_key, revoked, now).public_bytes(der))

    manifest = {
        "created": now.isoformat(),
        "service_url": service_url,
        "key_algorithm": "RSA-2048",
        "password": "MSEDOCS_PKI_PASSWORD or MSEDOCS_PKI_PASSWORD_FILE, default " + DEFAULT_TEST_PASSWORD,
        "roles": {
            role: {"title": ROLE_TITLES[role], "serial": f"{cert.serial_number:x}"} for role, cert in signers.items()
        },
        "revoked": {f"{s:x}": when.isoformat() for s, when in revoked.items()},
        "note": "TEST PKI generated by msedocs; never valid for real use",
        "id": str(uuid.uuid4()),
    }
    (d / "pki.json").write_text(json.dumps(manifest, ensure_ascii=False, indent=2), encoding="utf-8")
    return load_pki(d)


def _load_pem(path: Path) -> x509.Certificate:
    try:
        return x509.load_pem_x509_certificate(path.read_bytes())
    except (OSError, ValueError) as exc:
        raise PkiError(f"cannot load certificate {path}: {exc}") from exc


def pki_key(pki: TestPki, name: str, password: str | None = None) -> Signer:
    """One of the test PKI's own keys (``tsa``, ``ocsp``, ``ca``…), loaded once per process
    (:func:`signing.keys.load_pkcs12`); ``password`` by default :func:`pki_password`."""
    from .keys import load_pkcs12

    pw = password if password is not None else pki_password()
    return load_pkcs12(pki.key_path(name), pw, role=f"pki:{name}", title=name)


def load_pki(directory: str | os.PathLike[str]) -> TestPki:
    """Load a test PKI written by :func:`init_pki` (certificates only; keys load on first use)."""
    d = Path(directory)
    try:
        manifest = json.loads((d / "pki.json").read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise PkiError(f"{d} is not a test PKI (no pki.json); create one with `msedocs pki init {d}`") from exc
    except (OSError, ValueError) as exc:
        raise PkiError(f"cannot read {d / 'pki.json'}: {exc}") from exc
    roles = manifest.get("roles", {})
    return TestPki(
        dir=d,
        root=_load_pem(d / "root-ca.pem"),
        ca=_load_pem(d / "ca.pem"),
        tsa=_load_pem(d / "tsa.pem"),
        ocsp=_load_pem(d / "ocsp.pem"),
        signers={role: _load_pem(d / "signers" / f"{role}.pem") for role in roles},
        titles={role: info["title"] for role, info in roles.items()},
        revoked={int(s, 16): dt.datetime.fromisoformat(t) for s, t in manifest.get("revoked", {}).items()},
        service_url=manifest.get("service_url", DEFAULT_SERVICE_URL),
    )
