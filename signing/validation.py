"""What the verification of every signature format shares: the options, trust, timestamps, the steps.

How trust is decided (a simplified EN 319 102-1 process), for XAdES, PAdES and CAdES alike:

1. integrity: reference digests / message digest, then the signature value (per format);
2. the signer's certificate is validated now, against the trust roots, with the
   revocation data embedded in the signature (B-LT) and, for the test PKI, fresh CRLs
   from the in-process authority. Nothing is fetched from the network;
3. if that fails because the certificate is expired or revoked and a valid signature
   timestamp proves the signature existed at time T, it is validated again at T
   (past signature validation): expired later → passed; revoked after T → passed;
   revoked before T → TOTAL_FAILED/REVOKED.

A format's verification raises :class:`Fail` where a signature stops being checked; the
steps below (:func:`read_declaration`, :func:`signature_timestamp`, :func:`assess_signer`,
:func:`archive_timestamp`, :func:`reach_lta`) are the ones every format takes the same way.
"""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypedDict

from asn1crypto import cms
from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding
from cryptography.x509.oid import NameOID
from pyhanko.sign.ades import qualified_asn1
from pyhanko.sign.ades.report import AdESIndeterminate
from pyhanko.sign.validation import generic_cms
from pyhanko.sign.validation.errors import SignatureValidationError
from pyhanko.sign.validation.settings import KeyUsageConstraints
from pyhanko_certvalidator import ValidationContext

from .declaration import Declaration
from .errors import SigningFailure, UnsupportedDocumentError
from .policy import Findings, ValidationPolicy, load_policy
from .profile import Level
from .report import Indication, QualifiedFlags, SignatureReport
from .services import RevocationAuthority, local_authority

__all__ = [
    "Fail",
    "VerifyArgs",
    "Revinfo",
    "Trust",
    "VerifyOptions",
    "TrustOutcome",
    "ValidationData",
    "archive_timestamp",
    "assess_signer",
    "asn1_cert",
    "check_timestamp",
    "load_trust",
    "qualified_flags",
    "reach_lta",
    "read_declaration",
    "signature_timestamp",
    "subject_of",
    "subject_str",
]


@dataclass(frozen=True)
class VerifyOptions:
    """How to verify: one object that every signature format's ``verify`` takes."""

    pki_dir: str | os.PathLike[str] | None = None
    """A test PKI directory: its ``root-ca.pem`` is trusted, and its in-process authority gives
    fresh CRLs (nothing is fetched from the network)."""
    trust_roots: Sequence[str | os.PathLike[str]] = ()
    """PEM files of further trust roots (kept as a tuple)."""
    policy: ValidationPolicy | str | os.PathLike[str] | None = None
    """A :class:`~signing.policy.ValidationPolicy`, ``"default"``, ``"basic"`` or a TOML file;
    None: ``default`` (the signers and level the document declares)."""
    required_level: Level | str | None = None
    """Raises the policy's minimum level (``--require-level``)."""
    path: str | None = None
    """The name the report gives the document (``report.path``)."""
    detached_content: bytes | None = None
    """What a detached signature (a ``.p7s``) signs: needed by the formats whose ``detached`` is true."""

    def __post_init__(self) -> None:
        object.__setattr__(self, "trust_roots", tuple(self.trust_roots))

    def validation_policy(self) -> ValidationPolicy:
        """The policy with ``required_level`` applied; ``ConfigurationError`` if it cannot be loaded."""
        return load_policy(self.policy).with_min_level(self.required_level)

    def trust(self) -> Trust:
        """The trust roots and revocation authority; ``UnsupportedDocumentError`` if unreadable."""
        return load_trust(self.pki_dir, self.trust_roots)


class VerifyArgs(TypedDict, total=False):
    """The keyword arguments of ``verify_xml``, ``verify_pdf`` and ``verify_detached``: the
    fields of :class:`VerifyOptions` they take, with the same meaning."""

    pki_dir: str | os.PathLike[str] | None
    trust_roots: Sequence[str | os.PathLike[str]]
    required_level: Level | str | None
    path: str | None
    policy: ValidationPolicy | str | os.PathLike[str] | None


class Fail(SigningFailure):
    """A signature fails here: its indication, sub-indication and why (caught per signature)."""

    def __init__(self, indication: Indication, sub: str, message: str) -> None:
        super().__init__(message)
        self.indication, self.sub, self.message = indication, sub, message

    def apply(self, rep: SignatureReport) -> None:
        rep.indication, rep.sub_indication, rep.message = self.indication, self.sub, self.message


# ---------------------------------------------------------------- trust


@dataclass
class Trust:
    roots: list[asn1_x509.Certificate]
    authority: RevocationAuthority | None = None


def load_trust(pki_dir: str | os.PathLike[str] | None, trust_roots: Sequence[str | os.PathLike[str]] = ()) -> Trust:
    paths = [Path(p) for p in trust_roots]
    authority = None
    if pki_dir is not None:
        d = Path(pki_dir)
        if not (d / "root-ca.pem").is_file():
            raise UnsupportedDocumentError(f"{d} is not a test PKI directory (no root-ca.pem)")
        paths.append(d / "root-ca.pem")
        if (d / "pki.json").is_file():
            authority = local_authority(d)
    roots: list[asn1_x509.Certificate] = []
    for p in paths:
        try:
            for c in x509.load_pem_x509_certificates(p.read_bytes()):
                roots.append(asn1_cert(c))
        except (OSError, ValueError) as exc:
            raise UnsupportedDocumentError(f"cannot read trust root {p}: {exc}") from exc
    return Trust(roots=roots, authority=authority)


def asn1_cert(c: x509.Certificate) -> asn1_x509.Certificate:
    return asn1_x509.Certificate.load(c.public_bytes(Encoding.DER))


@dataclass
class Revinfo:
    """Validation data: certificates, CRLs and OCSP responses (DER)."""

    certs: list[asn1_x509.Certificate] = field(default_factory=list)
    crls: list[bytes] = field(default_factory=list)
    ocsps: list[bytes] = field(default_factory=list)

    @property
    def has_revinfo(self) -> bool:
        return bool(self.crls or self.ocsps)


@dataclass
class ValidationData:
    """What a signature's certificate and timestamps are validated with: the trust roots (and
    the test PKI's authority, for fresh CRLs), the certificates the signature carries and the
    validation data embedded in it (B-LT)."""

    trust: Trust
    certs: Sequence[asn1_x509.Certificate]
    embedded: Revinfo

    def context(self, *, live: bool, moment: dt.datetime | None = None) -> ValidationContext:
        """A certvalidator context: ``live`` adds the authority's fresh CRLs; ``moment`` validates
        at that time (past signature validation) with the revocation data as of then."""
        crls = list(self.embedded.crls)
        ocsps = list(self.embedded.ocsps)
        if live and self.trust.authority is not None:
            crls += [self.trust.authority.crl("ca"), self.trust.authority.crl("root")]
        return ValidationContext(
            trust_roots=self.trust.roots,
            other_certs=[*self.certs, *self.embedded.certs],
            crls=crls,
            ocsps=ocsps,
            moment=moment,
            allow_fetching=False,
            revocation_mode="hard-fail" if (crls or ocsps) else "soft-fail",
            retroactive_revinfo=moment is not None,
            weak_hash_algos={"sha1", "md5"},
        )

    async def check_cert(
        self, cert: asn1_x509.Certificate, *, live: bool, moment: dt.datetime | None = None
    ) -> generic_cms.CertvalidatorOperationResult[Any]:
        """``cert`` validated for signing (nonRepudiation) in :meth:`context`."""
        vc = self.context(live=live, moment=moment)
        return await generic_cms.validate_cert_usage(
            cert, vc, _NON_REPUDIATION, paths=vc.path_builder.async_build_paths_lazy(cert)
        )


_NON_REPUDIATION = KeyUsageConstraints(key_usage={"non_repudiation"})


@dataclass
class TrustOutcome:
    """What the signer's certificate says of the signature."""

    indication: Indication
    sub: str | None
    message: str
    lt_ok: bool
    """The embedded validation data alone suffices: a B-T signature is B-LT."""

    def apply(self, rep: SignatureReport) -> None:
        rep.indication, rep.sub_indication, rep.message = self.indication, self.sub, self.message
        if self.lt_ok and rep.level == Level.B_T.value:
            rep.level = Level.B_LT.value


async def assess_signer(cert: asn1_x509.Certificate, vdata: ValidationData, poe: dt.datetime | None) -> TrustOutcome:
    """Validate the signer certificate now; fall back to the POE time of a valid timestamp."""
    embedded = vdata.embedded
    if not vdata.trust.roots:
        return TrustOutcome(Indication.INDETERMINATE, "NO_CERTIFICATE_CHAIN_FOUND", "no trust roots given", False)
    lt_ok = False
    if embedded.has_revinfo:
        res = await vdata.check_cert(cert, live=False)
        if res.error_subindic is None:
            return TrustOutcome(Indication.TOTAL_PASSED, None, "certificate valid (embedded validation data)", True)
    res = await vdata.check_cert(cert, live=True)
    if res.error_subindic is None:
        note = "" if (embedded.has_revinfo or vdata.trust.authority) else " (revocation not checked: no data)"
        return TrustOutcome(Indication.TOTAL_PASSED, None, "certificate valid" + note, lt_ok)
    sub = res.error_subindic
    if sub is AdESIndeterminate.REVOKED_NO_POE and res.revo_details is not None:
        revoked_at = res.revo_details.revocation_date
        if poe is not None and poe >= revoked_at:
            return TrustOutcome(
                Indication.TOTAL_FAILED,
                "REVOKED",
                f"certificate revoked {revoked_at:%Y-%m-%d %H:%M} before the timestamp",
                False,
            )
        if poe is not None and poe < revoked_at:
            again = await vdata.check_cert(cert, live=True, moment=poe)
            if again.error_subindic is None:
                return TrustOutcome(
                    Indication.TOTAL_PASSED,
                    None,
                    f"timestamp proves signing before revocation ({revoked_at:%Y-%m-%d})",
                    False,
                )
        return TrustOutcome(
            Indication.INDETERMINATE,
            "REVOKED_NO_POE",
            f"certificate revoked {revoked_at:%Y-%m-%d %H:%M} UTC",
            False,
        )
    if (
        sub
        in (
            AdESIndeterminate.OUT_OF_BOUNDS_NO_POE,
            AdESIndeterminate.OUT_OF_BOUNDS_NOT_REVOKED,
            AdESIndeterminate.TRY_LATER,
            AdESIndeterminate.REVOCATION_OUT_OF_BOUNDS_NO_POE,
        )
        and poe is not None
    ):
        again = await vdata.check_cert(cert, live=True, moment=poe)
        if again.error_subindic is None:
            if embedded.has_revinfo:  # B-LT: the embedded validation data suffices at the POE time
                at_poe = await vdata.check_cert(cert, live=False, moment=poe)
                lt_ok = at_poe.error_subindic is None
            return TrustOutcome(
                Indication.TOTAL_PASSED,
                None,
                f"certificate valid at the timestamp time {poe:%Y-%m-%d}",
                lt_ok,
            )
    messages = {
        AdESIndeterminate.NO_CERTIFICATE_CHAIN_FOUND: "no chain to a trusted root",
        AdESIndeterminate.OUT_OF_BOUNDS_NO_POE: "certificate expired or not yet valid, no earlier POE",
        AdESIndeterminate.OUT_OF_BOUNDS_NOT_REVOKED: "certificate expired (not revoked), no earlier POE",
        AdESIndeterminate.CHAIN_CONSTRAINTS_FAILURE: "certificate not allowed for signing (key usage)",
        AdESIndeterminate.TRY_LATER: "revocation data missing or stale",
        AdESIndeterminate.REVOKED_CA_NO_POE: "an issuing CA is revoked",
    }
    return TrustOutcome(
        Indication.INDETERMINATE, sub.name, messages.get(sub, sub.name.lower().replace("_", " ")), False
    )


def qualified_flags(cert: asn1_x509.Certificate) -> QualifiedFlags:
    """The qualified-style markers of a certificate (qcStatements, policy, key usage, TEST)."""
    qcs = {s["statement_id"].native: s for s in qualified_asn1.get_qc_statements(cert)}
    esign = False
    if "qc_type" in qcs:
        try:
            esign = "qct_esign" in (qcs["qc_type"]["statement_info"].native or [])
        except (ValueError, TypeError, AttributeError):
            esign = False
    policies = cert.certificate_policies_value
    policy_ids = {p["policy_identifier"].dotted for p in policies} if policies else set()
    ku = cert.key_usage_value
    subject = cert.subject.human_friendly
    return QualifiedFlags(
        qc_compliance="qc_compliance" in qcs,
        qc_sscd="qc_sscd" in qcs,
        qc_type_esign=esign,
        policy_qcp_n_qscd="0.4.0.194112.1.2" in policy_ids,
        non_repudiation=bool(ku and "non_repudiation" in ku.native),
        test="TEST" in subject,
    )


def subject_of(cert: asn1_x509.Certificate) -> str:
    return subject_str(x509.load_der_x509_certificate(cert.dump()))


_NAME_OVERRIDES = {
    NameOID.TITLE: "T",
    NameOID.GIVEN_NAME: "GN",
    NameOID.SURNAME: "SN",
    x509.ObjectIdentifier("1.2.643.100.3"): "SNILS",
    x509.ObjectIdentifier("1.2.643.100.1"): "OGRN",
    x509.ObjectIdentifier("1.2.643.100.5"): "OGRNIP",
    x509.ObjectIdentifier("1.2.643.3.131.1.1"): "INN",
}


def subject_str(cert: x509.Certificate) -> str:
    """RFC 4514 subject with readable names for title and the Russian identifiers (SNILS, OGRN, INN)."""
    return cert.subject.rfc4514_string(_NAME_OVERRIDES)


# ---------------------------------------------------------------- timestamps


async def check_timestamp(
    token_der: bytes, imprint: Callable[[str], bytes], vdata: ValidationData
) -> tuple[dt.datetime | None, str | None, str]:
    """Check a timestamp token: (time if usable, failure sub-indication, why).

    A token that does not match the signature (HASH_FAILURE) or whose signature is broken
    (SIG_CRYPTO_FAILURE) fails the signature; an unreadable token is a FORMAT_FAILURE; a
    token from an untrusted TSA is ignored (no proof of existence, sub-indication None).
    """
    try:
        token = cms.ContentInfo.load(token_der)
        sd = token["content"]
        tst_info = sd["encap_content_info"]["content"].parsed
        algo = tst_info["message_imprint"]["hash_algorithm"]["algorithm"].native
    except (ValueError, KeyError, TypeError) as exc:
        return None, "FORMAT_FAILURE", f"timestamp token unreadable: {exc}"
    if algo in ("sha1", "md5"):
        return None, None, f"timestamp imprint uses {algo}: ignored"
    vc = vdata.context(live=True)
    try:
        status = await generic_cms.validate_tst_signed_data(sd, vc, imprint)
    except (SignatureValidationError, ValueError) as exc:
        return None, "SIG_CRYPTO_FAILURE", f"timestamp invalid: {exc}"
    if not status.get("intact"):
        return None, "HASH_FAILURE", "the signature timestamp does not match the signature value"
    if not status.get("valid"):
        return None, "SIG_CRYPTO_FAILURE", "the signature timestamp's own signature is invalid"
    if status.get("trust_problem_indic") is not None:
        return None, None, f"timestamp ignored: TSA not trusted ({status['trust_problem_indic'].name})"
    return status["timestamp"], None, "ok"


# ---------------------------------------------------------------- the steps every format takes


def read_declaration(findings: Findings, read: Callable[[], Declaration | None]) -> None:
    """The signature-set declaration of a signature, kept for the policy; a malformed one is a
    FORMAT_FAILURE of that signature (``read`` raises ``ValueError``)."""
    try:
        declaration = read()
    except ValueError as exc:
        raise Fail(Indication.TOTAL_FAILED, "FORMAT_FAILURE", str(exc)) from exc
    if declaration is not None:
        findings.declarations.append(declaration)


async def signature_timestamp(
    rep: SignatureReport, token_der: bytes, imprint: Callable[[str], bytes], vdata: ValidationData
) -> dt.datetime | None:
    """A signature timestamp: its time (proof of existence, level B-T) if valid and trusted;
    a broken or mismatching one fails the signature."""
    poe, fail, note = await check_timestamp(token_der, imprint, vdata)
    if fail is not None:
        raise Fail(Indication.TOTAL_FAILED, fail, note)
    if poe is not None:
        rep.timestamp_time = poe
        rep.level = Level.B_T.value
    return poe


async def archive_timestamp(
    token_der: bytes, imprint: Callable[[str], bytes], vdata: ValidationData, mismatch: str
) -> dt.datetime | None:
    """An archive timestamp's time if it is valid and from a trusted TSA; one that does not
    match what it covers fails the signature with ``mismatch`` as the reason."""
    when, fail, note = await check_timestamp(token_der, imprint, vdata)
    if fail is not None:
        raise Fail(Indication.TOTAL_FAILED, fail, mismatch if fail == "HASH_FAILURE" else note)
    return when


def reach_lta(rep: SignatureReport, archived: dt.datetime | None) -> None:
    """A B-LT signature under a valid archive timestamp is B-LTA."""
    if archived is not None and rep.level == Level.B_LT.value:
        rep.level, rep.archive_time = Level.B_LTA.value, archived
