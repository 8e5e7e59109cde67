"""Verification of XAdES, PAdES and detached CAdES signatures, with a report per signature.

Every signature gets an ETSI EN 319 102-1 style indication (TOTAL_PASSED, INDETERMINATE,
TOTAL_FAILED) and sub-indication (HASH_FAILURE, SIG_CRYPTO_FAILURE, FORMAT_FAILURE,
NO_CERTIFICATE_CHAIN_FOUND, REVOKED_NO_POE, REVOKED, OUT_OF_BOUNDS_NO_POE,
CRYPTO_CONSTRAINTS_FAILURE_NO_POE, SIG_CONSTRAINTS_FAILURE…), the signer, role, claimed
signing time, timestamp time, the level reached and qualified-style flags.

How trust is decided (a simplified EN 319 102-1 process):

1. integrity: reference digests / message digest, then the signature value;
2. the signer's certificate is validated now, against the trust roots, with the
   revocation data embedded in the signature (B-LT) and, for the test PKI, fresh CRLs
   from the in-process authority. Nothing is fetched from the network;
3. if that fails because the certificate is expired or revoked and a valid signature
   timestamp proves the signature existed at time T, it is validated again at T
   (past signature validation): expired later → passed; revoked after T → passed;
   revoked before T → TOTAL_FAILED/REVOKED.

For XML, signatures must be children of the document element, every ``Id`` must be
unique, and the only references allowed are the whole document (``URI=""`` with the
XPath Filter 2.0 ``subtract /descendant::ds:Signature`` or enveloped-signature transform)
and this signature's own SignedProperties: moved or duplicated signed elements
(signature wrapping) fail. SHA-1 and MD5 are refused.
"""

from __future__ import annotations

import base64
import datetime as dt
import enum
import hashlib
import json
import os
import stat
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from io import BytesIO
from pathlib import Path
from typing import Any

from asn1crypto import cms
from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature
from cryptography.x509.oid import NameOID
from lxml import etree
from pyhanko.sign.ades import qualified_asn1
from pyhanko.sign.ades.report import AdESIndeterminate
from pyhanko.sign.validation import generic_cms
from pyhanko.sign.validation.errors import SignatureValidationError
from pyhanko.sign.validation.settings import KeyUsageConstraints
from pyhanko_certvalidator import ValidationContext

from . import _ats, _xml
from ._async import run_sync
from ._cms import claimed_roles
from ._xml import DS, EXC_C14N, FILTER2, SIGNED_PROPS_TYPE, XADES, ds, xades
from .declaration import Declaration
from .declaration import merge as merge_declarations
from .errors import ConfigurationError, SigningFailure, UnsupportedDocumentError
from .keys import hash_for
from .policy import ValidationPolicy, load_policy
from .profile import Level
from .services import RevocationAuthority, local_authority

__all__ = [
    "MAX_INPUT_BYTES",
    "Indication",
    "PolicyOutcome",
    "QualifiedFlags",
    "SignatureReport",
    "VerificationReport",
    "verify_detached",
    "verify_file",
    "verify_pdf",
    "verify_xml",
]

ENVELOPED = "http://www.w3.org/2000/09/xmldsig#enveloped-signature"
_INCLUSIVE_C14N = "http://www.w3.org/TR/2001/REC-xml-c14n-20010315"  # the default when a reference names none
C14N_ALGS = {
    EXC_C14N: (True, False),
    "http://www.w3.org/2001/10/xml-exc-c14n#WithComments": (True, True),
    "http://www.w3.org/TR/2001/REC-xml-c14n-20010315": (False, False),
    "http://www.w3.org/TR/2001/REC-xml-c14n-20010315#WithComments": (False, True),
}


class Indication(enum.StrEnum):
    TOTAL_PASSED = "TOTAL_PASSED"
    INDETERMINATE = "INDETERMINATE"
    TOTAL_FAILED = "TOTAL_FAILED"


@dataclass(frozen=True)
class QualifiedFlags:
    """Qualified-signature-style markers of the signer's certificate."""

    qc_compliance: bool = False
    """qcStatement QcCompliance (0.4.0.1862.1.1)."""
    qc_sscd: bool = False
    """qcStatement QcSSCD: key on a qualified device (0.4.0.1862.1.4)."""
    qc_type_esign: bool = False
    """qcStatement QcType esign (0.4.0.1862.1.6.1)."""
    policy_qcp_n_qscd: bool = False
    """Certificate policy QCP-n-qscd (0.4.0.194112.1.2)."""
    non_repudiation: bool = False
    """keyUsage nonRepudiation (contentCommitment)."""
    test: bool = False
    """The subject says TEST: never valid for real use."""


@dataclass
class SignatureReport:
    """The outcome for one signature."""

    format: str
    """``XAdES``, ``PAdES`` or ``CAdES``."""
    id: str
    """The signature's Id (XML), field name (PDF) or ``signer-N`` (CMS)."""
    indication: Indication
    sub_indication: str | None = None
    message: str = ""
    """Why, in words."""
    signer_subject: str | None = None
    signer_serial: str | None = None
    role: str | None = None
    """Claimed SignerRole."""
    signing_time: dt.datetime | None = None
    """Claimed signing time (SigningTime / signingTime / /M); not proof."""
    timestamp_time: dt.datetime | None = None
    """Time in a valid signature timestamp: proof that the signature existed then."""
    archive_time: dt.datetime | None = None
    """B-LTA: time of the earliest valid archive timestamp over the signature and its validation data
    (a PDF document timestamp, a XAdES ArchiveTimeStamp, a CAdES archive-time-stamp-v3)."""
    level: str | None = None
    """Level reached: B-B, B-T, B-LT or B-LTA (None if not even B-B)."""
    qualified: QualifiedFlags = field(default_factory=QualifiedFlags)
    covers: str | None = None
    """What is signed: for XML the element(s), for PDF the revision and byte ranges."""
    signer_role: str | None = None
    """The signing role the document's signature-set declaration gives this signer's certificate."""
    certificate_sha256: str | None = None
    """SHA-256 of the signer's certificate (hex)."""
    modification_level: str | None = None
    """PDF only: how much the document changed after this signature (pyHanko's ModificationLevel:
    NONE, LTA_UPDATES, FORM_FILLING, ANNOTATIONS, OTHER)."""

    @property
    def passed(self) -> bool:
        return self.indication is Indication.TOTAL_PASSED


@dataclass
class PolicyOutcome:
    """What the validation policy found beyond the signatures themselves."""

    name: str
    declared_level: str | None = None
    """The level the signatures declare (:mod:`signing.declaration`); None if none declares one."""
    declared_signers: list[str] | None = None
    """The signing roles the signatures declare; None if nothing is declared."""
    required_level: str | None = None
    required_signers: list[str] = field(default_factory=list)
    missing_signers: list[str] = field(default_factory=list)
    """Required signers with no signature in the document."""
    level_shortfalls: list[str] = field(default_factory=list)
    """``<signature id>: B-B < B-T`` for each signature below the required level."""
    unsigned_content: list[str] = field(default_factory=list)
    """Content inside a signature that no reference covers (XML), by path."""
    pdf_modification: dict[str, Any] | None = None
    """PDF: ``level`` after the last signature, ``after_last_signature`` (any later revision),
    ``changes`` not allowed after it."""
    notes: list[str] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)
    """Why the policy is not met, in words."""

    @property
    def passed(self) -> bool:
        return not self.failures


@dataclass
class VerificationReport:
    """The outcome for one document: a report per signature."""

    path: str | None
    format: str
    signatures: list[SignatureReport] = field(default_factory=list)
    policy: PolicyOutcome | None = None
    """The validation policy's findings (missing signers, level, unsigned content, PDF changes)."""

    @property
    def passed(self) -> bool:
        """True only if there is at least one signature, every one passed, and the policy is met."""
        return (
            bool(self.signatures)
            and all(s.passed for s in self.signatures)
            and (self.policy is None or self.policy.passed)
        )

    def to_dict(self) -> dict[str, Any]:
        def conv(v: Any) -> Any:
            if isinstance(v, dt.datetime):
                return v.isoformat()
            if isinstance(v, enum.Enum):
                return v.value
            if isinstance(v, dict):
                return {k: conv(x) for k, x in v.items()}
            if isinstance(v, list):
                return [conv(x) for x in v]
            return v

        return {
            "path": self.path,
            "format": self.format,
            "passed": self.passed,
            "signatures": [conv(asdict(s)) for s in self.signatures],
            "policy": None if self.policy is None else {**conv(asdict(self.policy)), "passed": self.policy.passed},
        }

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), ensure_ascii=False, indent=2)


# ---------------------------------------------------------------- trust


@dataclass
class _Trust:
    roots: list[asn1_x509.Certificate]
    authority: RevocationAuthority | None = None


def _load_trust(pki_dir: str | os.PathLike[str] | None, trust_roots: Sequence[str | os.PathLike[str]] = ()) -> _Trust:
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
                roots.append(_asn1(c))
        except (OSError, ValueError) as exc:
            raise UnsupportedDocumentError(f"cannot read trust root {p}: {exc}") from exc
    return _Trust(roots=roots, authority=authority)


def _asn1(c: x509.Certificate) -> asn1_x509.Certificate:
    from cryptography.hazmat.primitives.serialization import Encoding

    return asn1_x509.Certificate.load(c.public_bytes(Encoding.DER))


@dataclass
class _Revinfo:
    certs: list[asn1_x509.Certificate] = field(default_factory=list)
    crls: list[bytes] = field(default_factory=list)
    ocsps: list[bytes] = field(default_factory=list)

    @property
    def has_revinfo(self) -> bool:
        return bool(self.crls or self.ocsps)


def _vc(
    trust: _Trust,
    certs: Iterable[asn1_x509.Certificate],
    revinfo: _Revinfo,
    *,
    live: bool,
    moment: dt.datetime | None = None,
) -> ValidationContext:
    crls = list(revinfo.crls)
    ocsps = list(revinfo.ocsps)
    if live and trust.authority is not None:
        crls += [trust.authority.crl("ca"), trust.authority.crl("root")]
    return ValidationContext(
        trust_roots=trust.roots,
        other_certs=[*certs, *revinfo.certs],
        crls=crls,
        ocsps=ocsps,
        moment=moment,
        allow_fetching=False,
        revocation_mode="hard-fail" if (crls or ocsps) else "soft-fail",
        retroactive_revinfo=moment is not None,
        weak_hash_algos={"sha1", "md5"},
    )


_NON_REPUDIATION = KeyUsageConstraints(key_usage={"non_repudiation"})


async def _check_cert(
    cert: asn1_x509.Certificate, vc: ValidationContext
) -> generic_cms.CertvalidatorOperationResult[Any]:
    return await generic_cms.validate_cert_usage(
        cert, vc, _NON_REPUDIATION, paths=vc.path_builder.async_build_paths_lazy(cert)
    )


@dataclass
class _TrustOutcome:
    indication: Indication
    sub: str | None
    message: str
    lt_ok: bool


async def _assess_signer(
    cert: asn1_x509.Certificate,
    certs: Sequence[asn1_x509.Certificate],
    embedded: _Revinfo,
    trust: _Trust,
    poe: dt.datetime | None,
) -> _TrustOutcome:
    """Validate the signer certificate now; fall back to the POE time of a valid timestamp."""
    if not trust.roots:
        return _TrustOutcome(Indication.INDETERMINATE, "NO_CERTIFICATE_CHAIN_FOUND", "no trust roots given", False)
    lt_ok = False
    if embedded.has_revinfo:
        res = await _check_cert(cert, _vc(trust, certs, embedded, live=False))
        if res.error_subindic is None:
            return _TrustOutcome(Indication.TOTAL_PASSED, None, "certificate valid (embedded validation data)", True)
    res = await _check_cert(cert, _vc(trust, certs, embedded, live=True))
    if res.error_subindic is None:
        note = "" if (embedded.has_revinfo or trust.authority) else " (revocation not checked: no data)"
        return _TrustOutcome(Indication.TOTAL_PASSED, None, "certificate valid" + note, lt_ok)
    sub = res.error_subindic
    if sub is AdESIndeterminate.REVOKED_NO_POE and res.revo_details is not None:
        revoked_at = res.revo_details.revocation_date
        if poe is not None and poe >= revoked_at:
            return _TrustOutcome(
                Indication.TOTAL_FAILED,
                "REVOKED",
                f"certificate revoked {revoked_at:%Y-%m-%d %H:%M} before the timestamp",
                False,
            )
        if poe is not None and poe < revoked_at:
            again = await _check_cert(cert, _vc(trust, certs, embedded, live=True, moment=poe))
            if again.error_subindic is None:
                return _TrustOutcome(
                    Indication.TOTAL_PASSED,
                    None,
                    f"timestamp proves signing before revocation ({revoked_at:%Y-%m-%d})",
                    False,
                )
        return _TrustOutcome(
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
        again = await _check_cert(cert, _vc(trust, certs, embedded, live=True, moment=poe))
        if again.error_subindic is None:
            if embedded.has_revinfo:  # B-LT: the embedded validation data suffices at the POE time
                at_poe = await _check_cert(cert, _vc(trust, certs, embedded, live=False, moment=poe))
                lt_ok = at_poe.error_subindic is None
            return _TrustOutcome(
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
    return _TrustOutcome(
        Indication.INDETERMINATE, sub.name, messages.get(sub, sub.name.lower().replace("_", " ")), False
    )


def _qualified(cert: asn1_x509.Certificate) -> QualifiedFlags:
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


def _subject(cert: asn1_x509.Certificate) -> str:
    return _subject_str(x509.load_der_x509_certificate(cert.dump()))


_NAME_OVERRIDES = {
    NameOID.TITLE: "T",
    NameOID.GIVEN_NAME: "GN",
    NameOID.SURNAME: "SN",
    x509.ObjectIdentifier("1.2.643.100.3"): "SNILS",
    x509.ObjectIdentifier("1.2.643.100.1"): "OGRN",
    x509.ObjectIdentifier("1.2.643.100.5"): "OGRNIP",
    x509.ObjectIdentifier("1.2.643.3.131.1.1"): "INN",
}


def _subject_str(cert: x509.Certificate) -> str:
    """RFC 4514 subject with readable names for title and the Russian identifiers (SNILS, OGRN, INN)."""
    return cert.subject.rfc4514_string(_NAME_OVERRIDES)


@dataclass
class _Ctx:
    """What the verification of one document collects for the policy."""

    declarations: list[Declaration] = field(default_factory=list)
    unsigned: dict[str, list[str]] = field(default_factory=dict)
    """Signature id → paths of content inside it that no reference covers."""
    pdf: dict[str, Any] | None = None


def _constraint_failure(rep: SignatureReport, message: str) -> None:
    if rep.indication is Indication.TOTAL_PASSED:
        rep.indication, rep.sub_indication, rep.message = Indication.INDETERMINATE, "SIG_CONSTRAINTS_FAILURE", message


def _apply_policy(report: VerificationReport, policy: ValidationPolicy, ctx: _Ctx) -> None:
    """Check the policy over the signature reports; mark what falls short; set ``report.policy``."""
    out = PolicyOutcome(name=policy.name)
    declared = merge_declarations(ctx.declarations)
    by_cert = {d.cert_sha256: d for d in declared.signers} if declared else {}
    for s in report.signatures:
        d = by_cert.get(s.certificate_sha256 or "")
        if d is not None:
            s.signer_role = d.role
    if declared is not None:
        out.declared_level = declared.level
        out.declared_signers = [d.role for d in declared.signers]
        if not policy.use_declaration:
            out.notes.append(f"the signature-set declaration is reported, not enforced (policy {policy.name})")
    else:
        out.notes.append("no signer requirement declared: every signature present must pass")

    # level
    candidates: list[tuple[Level, str]] = []
    if policy.min_level is not None:
        candidates.append((policy.min_level, f"by policy {policy.name}"))
    if policy.use_declaration and declared is not None:
        try:
            candidates.append((Level.parse(declared.level), "as declared"))
        except ConfigurationError:
            out.failures.append(f"the declared level {declared.level!r} is not one of B-B, B-T, B-LT, B-LTA")
    required, source = max(candidates, key=lambda c: c[0].rank) if candidates else (None, "")
    if required is not None:
        out.required_level = required.value
        for s in report.signatures:
            if s.indication is not Indication.TOTAL_PASSED:
                continue
            reached = Level.parse(s.level) if s.level else None
            if reached is None or reached < required:
                _constraint_failure(
                    s, f"level {required.value} required ({source}), signature reaches {s.level or 'none'}"
                )
                out.level_shortfalls.append(f"{s.id}: {s.level or 'none'} < {required.value}")
        if out.level_shortfalls:
            out.failures.append(f"{len(out.level_shortfalls)} signature(s) below level {required.value} ({source})")

    # signers
    if policy.required_signers is not None:
        out.required_signers = list(policy.required_signers)
        for r in policy.required_signers:
            if not any(s.signer_role == r or s.role == r for s in report.signatures):
                out.missing_signers.append(r)
                out.failures.append(f"missing signer: {r}")
    elif policy.use_declaration and declared is not None:
        out.required_signers = [d.role for d in declared.signers]
        present = {s.certificate_sha256 for s in report.signatures}
        for d in declared.signers:
            if d.cert_sha256 not in present:
                out.missing_signers.append(d.role)
                out.failures.append(f"missing signer: {d.role} ({d.title})")

    # unsigned content inside signatures
    for s in report.signatures:
        paths = ctx.unsigned.get(s.id, [])
        out.unsigned_content.extend(paths)
        if paths and not policy.allow_unsigned_content:
            _constraint_failure(s, f"unsigned content inside the signature: {', '.join(paths)}")
    if out.unsigned_content and not policy.allow_unsigned_content:
        out.failures.append("unsigned content inside a signature: " + ", ".join(out.unsigned_content))

    # PDF changes after the last signature
    if ctx.pdf is not None:
        out.pdf_modification = ctx.pdf
        if ctx.pdf["changes"]:
            msg = "changed after the last signature: " + ", ".join(ctx.pdf["changes"])
            if policy.allow_changes_after_last_signature:
                out.notes.append(msg)
            else:
                out.failures.append(msg)
    report.policy = out


def _apply_trust(report: SignatureReport, t: _TrustOutcome) -> None:
    report.indication, report.sub_indication = t.indication, t.sub
    report.message = t.message


# ---------------------------------------------------------------- timestamps


async def _check_timestamp(
    token_der: bytes,
    imprint: Callable[[str], bytes],
    trust: _Trust,
    certs: Sequence[asn1_x509.Certificate],
    emb: _Revinfo,
) -> tuple[dt.datetime | None, str | None, str]:
    """Check a signature timestamp token: (time if usable, failure sub-indication, why).

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
    vc = _vc(trust, certs, emb, live=True)
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


# ---------------------------------------------------------------- XML


def _readable_path(el: etree._Element) -> str:
    """``/Conclusion/ds:Signature[2]/ds:SignedInfo (xmlns="urn:…")``: local names, ds:/xades: prefixes,
    positions where siblings share a name, and the document's default namespace once at the end."""
    prefixes = {DS: "ds:", XADES: "xades:"}
    parts = []
    node: etree._Element | None = el
    while node is not None:
        q = etree.QName(node)
        parent = node.getparent()
        name = prefixes.get(q.namespace or "", "") + q.localname
        if parent is not None:
            same = [c for c in parent if isinstance(c.tag, str) and c.tag == node.tag]
            if len(same) > 1:
                name += f"[{same.index(node) + 1}]"
        parts.append(name)
        node = parent
    root_ns = etree.QName(el.getroottree().getroot()).namespace
    return "/" + "/".join(reversed(parts)) + (f' (xmlns="{root_ns}")' if root_ns else "")


def _xml_find1(parent: etree._Element, path: str) -> etree._Element | None:
    found = parent.findall(path)
    return found[0] if len(found) == 1 else None


def _c14n_by(node: etree._Element | etree._ElementTree, algorithm: str | None) -> bytes:
    exclusive, comments = C14N_ALGS.get(algorithm or EXC_C14N, (True, False))
    return etree.tostring(node, method="c14n", exclusive=exclusive, with_comments=comments)


class _Fail(SigningFailure):
    def __init__(self, indication: Indication, sub: str, message: str) -> None:
        super().__init__(message)
        self.indication, self.sub, self.message = indication, sub, message


def _digest_alg(method: etree._Element | None) -> str:
    uri = method.get("Algorithm") if method is not None else None
    if uri in _xml.WEAK_METHODS:
        raise _Fail(Indication.INDETERMINATE, "CRYPTO_CONSTRAINTS_FAILURE_NO_POE", f"weak digest {uri} refused")
    if uri not in _xml.DIGEST_METHODS:
        raise _Fail(Indication.TOTAL_FAILED, "FORMAT_FAILURE", f"unsupported digest method {uri}")
    return _xml.DIGEST_METHODS[uri]


def _verify_raw(cert: x509.Certificate, sig: bytes, data: bytes, kind: str, digest: str) -> bool:
    key = cert.public_key()
    h = hash_for(digest)
    try:
        if kind == "rsa" and isinstance(key, rsa.RSAPublicKey):
            key.verify(sig, data, padding.PKCS1v15(), h)
            return True
        if kind == "ec" and isinstance(key, ec.EllipticCurvePublicKey):
            n = len(sig) // 2
            der = encode_dss_signature(int.from_bytes(sig[:n], "big"), int.from_bytes(sig[n:], "big"))
            key.verify(der, data, ec.ECDSA(h))
            return True
    except InvalidSignature:
        return False
    return False


def _b64(el: etree._Element | None) -> bytes:
    if el is None or not (el.text or "").strip():
        raise _Fail(Indication.TOTAL_FAILED, "FORMAT_FAILURE", "missing base64 value")
    try:
        return base64.b64decode("".join((el.text or "").split()), validate=True)
    except ValueError as exc:
        raise _Fail(Indication.TOTAL_FAILED, "FORMAT_FAILURE", "bad base64 value") from exc


def _xml_structure_problems(tree: etree._ElementTree) -> str | None:
    """Signature wrapping checks that do not depend on one signature.

    Every ds:Signature must be a child of the document element (content hidden inside a
    nested ds:Signature would be cut out by the XPath filter), and no Id that a reference
    points to, or that sits inside a signature, may occur twice. Ids of the document body
    are left alone: the whole-document reference already covers them.
    """
    root = tree.getroot()
    for sig in root.iter(ds("Signature")):
        if sig.getparent() is not root:
            return f"ds:Signature at {_readable_path(sig)} is not a child of the document element"
    watched = {uri[1:] for ref in root.iter(ds("Reference")) if (uri := ref.get("URI") or "").startswith("#")}
    for sig in root.iter(ds("Signature")):
        watched.update(v for el in sig.iter() if isinstance(el.tag, str) and (v := el.get("Id")) is not None)
    seen: dict[str, str] = {}
    for el in root.iter():
        if not isinstance(el.tag, str):
            continue
        for attr in ("Id", "ID", "id"):
            v = el.get(attr)
            if v is None or v not in watched:
                continue
            if v in seen:
                return f"duplicate Id {v!r} at {_readable_path(el)} and {seen[v]} (signature wrapping?)"
            seen[v] = _readable_path(el)
    return None


#: What XAdES B-T and B-LT put in UnsignedSignatureProperties; nothing else may be unsigned.
_UNSIGNED_ALLOWED = {
    xades("SignatureTimeStamp"),
    xades("CertificateValues"),
    xades("RevocationValues"),
    f"{{{_xml.XADES141}}}TimeStampValidationData",
    f"{{{_xml.XADES141}}}ArchiveTimeStamp",
}


def _unsigned_in_signature(sig: etree._Element, qp: etree._Element) -> list[str]:
    """Paths of content inside ``sig`` that no reference covers and XAdES does not need.

    Allowed: SignedInfo, SignatureValue, KeyInfo with X509Data/X509Certificate, one
    ds:Object holding QualifyingProperties with SignedProperties (signed) and
    UnsignedProperties/UnsignedSignatureProperties holding the timestamp and validation data.
    """
    found: list[str] = []

    def text_in(el: etree._Element) -> None:
        if (el.text or "").strip() or any((c.tail or "").strip() for c in el):
            found.append(f"text in {_readable_path(el).split(' (xmlns=')[0]}")

    def only(el: etree._Element, allowed: set[str]) -> list[etree._Element]:
        text_in(el)
        kept = []
        for c in el:
            if not isinstance(c.tag, str):
                continue
            if c.tag in allowed:
                kept.append(c)
            else:
                found.append(_readable_path(c).split(" (xmlns=")[0])
        return kept

    qp_object = qp.getparent()
    for child in only(sig, {ds("SignedInfo"), ds("SignatureValue"), ds("KeyInfo"), ds("Object")}):
        if child.tag == ds("KeyInfo"):
            for x509_data in only(child, {ds("X509Data")}):
                only(x509_data, {ds("X509Certificate")})
        elif child.tag == ds("Object"):
            if child is not qp_object:
                found.append(_readable_path(child).split(" (xmlns=")[0])
                continue
            only(child, {xades("QualifyingProperties")})
    for up in only(qp, {xades("SignedProperties"), xades("UnsignedProperties")}):
        if up.tag == xades("UnsignedProperties"):
            for usp in only(up, {xades("UnsignedSignatureProperties")}):
                only(usp, _UNSIGNED_ALLOWED)
    return found


async def _verify_one_xml(
    tree: etree._ElementTree,
    sig: etree._Element,
    trust: _Trust,
    structure_problem: str | None,
    ctx: _Ctx,
) -> SignatureReport:
    rep = SignatureReport(format="XAdES", id=sig.get("Id") or tree.getpath(sig), indication=Indication.TOTAL_FAILED)
    try:
        if structure_problem:
            raise _Fail(Indication.TOTAL_FAILED, "FORMAT_FAILURE", structure_problem)
        signed_info = _xml_find1(sig, ds("SignedInfo"))
        sig_value_el = _xml_find1(sig, ds("SignatureValue"))
        if signed_info is None or sig_value_el is None:
            raise _Fail(Indication.TOTAL_FAILED, "FORMAT_FAILURE", "SignedInfo or SignatureValue missing or repeated")
        c14n_el = _xml_find1(signed_info, ds("CanonicalizationMethod"))
        c14n_alg = c14n_el.get("Algorithm") if c14n_el is not None else None
        if c14n_alg not in C14N_ALGS:
            raise _Fail(Indication.TOTAL_FAILED, "FORMAT_FAILURE", f"unsupported canonicalisation {c14n_alg}")
        sm = _xml_find1(signed_info, ds("SignatureMethod"))
        sm_uri = sm.get("Algorithm") if sm is not None else None
        if sm_uri in _xml.WEAK_METHODS:
            raise _Fail(
                Indication.INDETERMINATE,
                "CRYPTO_CONSTRAINTS_FAILURE_NO_POE",
                f"weak signature method {sm_uri} refused",
            )
        if sm_uri not in _xml.SIG_METHODS:
            raise _Fail(Indication.TOTAL_FAILED, "FORMAT_FAILURE", f"unsupported signature method {sm_uri}")
        kind, sig_digest = _xml.SIG_METHODS[sm_uri]

        qp = _xml_find1(sig, f"{ds('Object')}/{xades('QualifyingProperties')}")
        sp = _xml_find1(qp, xades("SignedProperties")) if qp is not None else None
        if sp is None:
            raise _Fail(Indication.TOTAL_FAILED, "FORMAT_FAILURE", "no xades:SignedProperties in this signature")
        assert qp is not None
        ctx.unsigned[rep.id] = _unsigned_in_signature(sig, qp)
        if sig.get("Id") is None or qp.get("Target") != f"#{sig.get('Id')}":
            raise _Fail(
                Indication.TOTAL_FAILED, "FORMAT_FAILURE", "QualifyingProperties Target does not name this signature"
            )

        refs = signed_info.findall(ds("Reference"))
        doc_ref = props_ref = None
        key_info_refs: list[tuple[etree._Element, etree._Element]] = []
        key_info = _xml_find1(sig, ds("KeyInfo"))
        for ref in refs:
            uri = ref.get("URI")
            if uri == "" and doc_ref is None:
                doc_ref = ref
            elif uri is not None and uri.startswith("#") and ref.get("Type") == SIGNED_PROPS_TYPE and props_ref is None:
                props_ref = ref
            elif uri is not None and uri.startswith("#") and key_info is not None and key_info.get("Id") == uri[1:]:
                key_info_refs.append((ref, key_info))  # signxml's XAdES also signs this signature's KeyInfo
            else:
                raise _Fail(Indication.TOTAL_FAILED, "FORMAT_FAILURE", f"unexpected reference URI={uri!r}")
        if doc_ref is None or props_ref is None:
            raise _Fail(
                Indication.TOTAL_FAILED,
                "FORMAT_FAILURE",
                "expected a whole-document and a SignedProperties reference",
            )
        if props_ref.get("URI") != f"#{sp.get('Id')}":
            raise _Fail(
                Indication.TOTAL_FAILED,
                "FORMAT_FAILURE",
                "the SignedProperties reference does not point into this signature",
            )

        # reference 1: the document
        transforms = [t.get("Algorithm") for t in doc_ref.findall(f"{ds('Transforms')}/{ds('Transform')}")]
        if transforms[:1] == [FILTER2]:
            xp = doc_ref.find(f"{ds('Transforms')}/{ds('Transform')}/{{{FILTER2}}}XPath")
            expr = (xp.text or "").strip() if xp is not None else ""
            if (
                xp is None
                or xp.get("Filter") != "subtract"
                or expr not in ("/descendant::ds:Signature", "//ds:Signature")
            ):
                raise _Fail(
                    Indication.TOTAL_FAILED,
                    "FORMAT_FAILURE",
                    "unsupported XPath filter in the document reference",
                )
            if xp.nsmap.get("ds") != DS:
                raise _Fail(
                    Indication.TOTAL_FAILED,
                    "FORMAT_FAILURE",
                    "XPath filter prefix ds is not bound to XMLDSig",
                )
            doc_bytes = _xml.document_without_signatures(tree)
            covers_how = "whole document, every ds:Signature excluded"
        elif transforms[:1] == [ENVELOPED]:
            import copy

            doc = copy.deepcopy(tree)
            own = [s for s in doc.getroot().iter(ds("Signature")) if s.get("Id") == sig.get("Id")]
            for s in own[:1]:
                _xml.remove_keeping_tail(s)
            doc_bytes = _c14n_by(doc, transforms[1] if len(transforms) > 1 else None)  # type: ignore[arg-type]
            covers_how = "whole document, this ds:Signature excluded"
        else:
            raise _Fail(Indication.TOTAL_FAILED, "FORMAT_FAILURE", f"unsupported transforms {transforms}")
        if len(transforms) != 2 or transforms[1] not in C14N_ALGS:
            raise _Fail(Indication.TOTAL_FAILED, "FORMAT_FAILURE", f"unsupported transforms {transforms}")
        if transforms[0] == FILTER2 and transforms[1] != EXC_C14N:
            doc_bytes = _c14n_by(_filtered(tree), transforms[1])
        d_alg = _digest_alg(doc_ref.find(ds("DigestMethod")))
        root = tree.getroot()
        rep.covers = f"{_readable_path(root)}: {covers_how}; and {_readable_path(sp).split(' (xmlns=')[0]}"
        if hashlib.new(d_alg, doc_bytes).digest() != _b64(doc_ref.find(ds("DigestValue"))):
            raise _Fail(
                Indication.TOTAL_FAILED,
                "HASH_FAILURE",
                f"digest of {_readable_path(root)} does not match (content changed)",
            )

        # reference 2: the signed properties
        p_transforms = [t.get("Algorithm") for t in props_ref.findall(f"{ds('Transforms')}/{ds('Transform')}")]
        if len(p_transforms) > 1 or (p_transforms and p_transforms[0] not in C14N_ALGS):
            raise _Fail(
                Indication.TOTAL_FAILED,
                "FORMAT_FAILURE",
                f"unsupported SignedProperties transforms {p_transforms}",
            )
        p_alg = _digest_alg(props_ref.find(ds("DigestMethod")))
        sp_bytes = _c14n_by(sp, p_transforms[0] if p_transforms else _INCLUSIVE_C14N)
        if hashlib.new(p_alg, sp_bytes).digest() != _b64(props_ref.find(ds("DigestValue"))):
            raise _Fail(Indication.TOTAL_FAILED, "HASH_FAILURE", "digest of xades:SignedProperties does not match")
        ref_outputs: dict[int, bytes] = {id(doc_ref): doc_bytes, id(props_ref): sp_bytes}

        for ref, target in key_info_refs:
            k_transforms = [t.get("Algorithm") for t in ref.findall(f"{ds('Transforms')}/{ds('Transform')}")]
            if len(k_transforms) > 1 or (k_transforms and k_transforms[0] not in C14N_ALGS):
                raise _Fail(Indication.TOTAL_FAILED, "FORMAT_FAILURE", f"unsupported KeyInfo transforms {k_transforms}")
            k_bytes = _c14n_by(target, k_transforms[0] if k_transforms else _INCLUSIVE_C14N)
            ref_outputs[id(ref)] = k_bytes
            if hashlib.new(_digest_alg(ref.find(ds("DigestMethod"))), k_bytes).digest() != _b64(
                ref.find(ds("DigestValue"))
            ):
                raise _Fail(Indication.TOTAL_FAILED, "HASH_FAILURE", "digest of ds:KeyInfo does not match")

        # signed properties: time, role, signing certificate
        st = sp.findtext(f"{xades('SignedSignatureProperties')}/{xades('SigningTime')}")
        if st:
            try:
                rep.signing_time = dt.datetime.fromisoformat(st.strip().replace("Z", "+00:00"))
            except ValueError:
                pass
        role = sp.findtext(f".//{xades('ClaimedRole')}")
        rep.role = role.strip() if role else None
        cert_els = sig.findall(f"{ds('KeyInfo')}/{ds('X509Data')}/{ds('X509Certificate')}")
        key_certs = [x509.load_der_x509_certificate(_b64(c)) for c in cert_els]
        if not key_certs:
            raise _Fail(Indication.INDETERMINATE, "NO_SIGNING_CERTIFICATE_FOUND", "no X509Certificate in KeyInfo")
        sc = sp.find(f".//{xades('SigningCertificateV2')}/{xades('Cert')}")
        if sc is None:
            sc = sp.find(f".//{xades('SigningCertificate')}/{xades('Cert')}")
        signer_cert = None
        if sc is not None:
            cd_alg = _digest_alg(sc.find(f"{xades('CertDigest')}/{ds('DigestMethod')}"))
            want = _b64(sc.find(f"{xades('CertDigest')}/{ds('DigestValue')}"))
            for c in key_certs:
                if hashlib.new(cd_alg, _asn1(c).dump()).digest() == want:
                    signer_cert = c
                    break

        # signature value
        candidate = signer_cert or key_certs[0]
        sv = _b64(sig_value_el)
        if not _verify_raw(candidate, sv, _c14n_by(signed_info, c14n_alg), kind, sig_digest):
            raise _Fail(
                Indication.TOTAL_FAILED,
                "SIG_CRYPTO_FAILURE",
                "the signature value does not verify with the certificate",
            )
        if signer_cert is None:
            raise _Fail(
                Indication.INDETERMINATE,
                "NO_SIGNING_CERTIFICATE_FOUND",
                "no certificate in KeyInfo matches SigningCertificateV2",
            )
        cert_asn1 = _asn1(signer_cert)
        rep.certificate_sha256 = hashlib.sha256(cert_asn1.dump()).hexdigest()
        try:
            declaration = Declaration.from_signed_properties(sp)
        except ValueError as exc:
            raise _Fail(Indication.TOTAL_FAILED, "FORMAT_FAILURE", str(exc)) from exc
        if declaration is not None:
            ctx.declarations.append(declaration)
        rep.signer_subject = _subject_str(signer_cert)
        rep.signer_serial = f"{signer_cert.serial_number:X}"
        rep.qualified = _qualified(cert_asn1)
        rep.level = Level.B_B.value if rep.signing_time else None

        # unsigned properties: timestamp and validation data
        usp = (
            qp.find(f"{xades('UnsignedProperties')}/{xades('UnsignedSignatureProperties')}") if qp is not None else None
        )
        emb = _Revinfo()
        all_certs = [_asn1(c) for c in key_certs]
        poe = None
        ts_note = ""
        if usp is not None:
            tsvd = f"{{{_xml.XADES141}}}TimeStampValidationData/"
            for where in ("", tsvd):  # the signer's validation data, then (B-LTA) the TSA's
                for el in usp.findall(f"{where}{xades('CertificateValues')}/{xades('EncapsulatedX509Certificate')}"):
                    emb.certs.append(asn1_x509.Certificate.load(_b64(el)))
                for el in usp.findall(
                    f"{where}{xades('RevocationValues')}/{xades('CRLValues')}/{xades('EncapsulatedCRLValue')}"
                ):
                    emb.crls.append(_b64(el))
                for el in usp.findall(
                    f"{where}{xades('RevocationValues')}/{xades('OCSPValues')}/{xades('EncapsulatedOCSPValue')}"
                ):
                    emb.ocsps.append(_b64(el))
            ts_el = usp.find(xades("SignatureTimeStamp"))
            if ts_el is not None:
                ts_c14n = ts_el.find(ds("CanonicalizationMethod"))
                sv_bytes = _c14n_by(sig_value_el, ts_c14n.get("Algorithm") if ts_c14n is not None else None)

                def imprint(algo: str, data: bytes = sv_bytes) -> bytes:
                    return hashlib.new(algo, data).digest()

                poe, ts_fail, ts_note = await _check_timestamp(
                    _b64(ts_el.find(xades("EncapsulatedTimeStamp"))), imprint, trust, all_certs, emb
                )
                if ts_fail is not None:
                    raise _Fail(Indication.TOTAL_FAILED, ts_fail, ts_note)
                if poe is not None:
                    rep.timestamp_time = poe
                    rep.level = Level.B_T.value
        outcome = await _assess_signer(cert_asn1, all_certs, emb, trust, poe)
        _apply_trust(rep, outcome)
        if outcome.lt_ok and rep.level == Level.B_T.value:
            rep.level = Level.B_LT.value
        if usp is not None:
            outputs = [ref_outputs[id(r)] for r in refs]
            for ats in usp.findall(f"{{{_xml.XADES141}}}ArchiveTimeStamp"):
                when = await _check_archive_timestamp(sig, ats, outputs, trust, all_certs, emb)
                if when is not None and rep.level == Level.B_LT.value:
                    rep.level, rep.archive_time = Level.B_LTA.value, when
    except _Fail as f:
        rep.indication, rep.sub_indication, rep.message = f.indication, f.sub, f.message
    return rep


async def _check_archive_timestamp(
    sig: etree._Element,
    ats: etree._Element,
    reference_outputs: list[bytes],
    trust: _Trust,
    certs: Sequence[asn1_x509.Certificate],
    emb: _Revinfo,
) -> dt.datetime | None:
    """A ``xadesv141:ArchiveTimeStamp``: its time if it is valid and from a trusted TSA. One that
    does not match what it covers (anything changed in the signature or its unsigned properties
    before it) fails the signature."""
    c14n_el = _xml_find1(ats, ds("CanonicalizationMethod"))
    alg = c14n_el.get("Algorithm") if c14n_el is not None else _INCLUSIVE_C14N
    if alg not in C14N_ALGS:
        raise _Fail(Indication.TOTAL_FAILED, "FORMAT_FAILURE", f"archive timestamp: unsupported canonicalisation {alg}")
    if ats.find(ds("Include")) is not None or ats.find(xades("ReferenceInfo")) is not None:
        raise _Fail(Indication.TOTAL_FAILED, "FORMAT_FAILURE", "archive timestamp: Include/ReferenceInfo unsupported")
    data = _xml.archive_timestamp_input(sig, ats, reference_outputs, alg or _INCLUSIVE_C14N)

    def imprint(algo: str) -> bytes:
        return hashlib.new(algo, data).digest()

    when, fail, note = await _check_timestamp(
        _b64(ats.find(xades("EncapsulatedTimeStamp"))), imprint, trust, certs, emb
    )
    if fail is not None:
        if fail == "HASH_FAILURE":
            note = "the archive timestamp does not match the signature and its validation data (changed after it)"
        raise _Fail(Indication.TOTAL_FAILED, fail, note)
    return when


def _filtered(tree: etree._ElementTree) -> etree._ElementTree:
    import copy

    doc = copy.deepcopy(tree)
    for s in list(doc.getroot().iter(ds("Signature"))):
        _xml.remove_keeping_tail(s)
    return doc


def verify_xml(
    xml: bytes,
    *,
    pki_dir: str | os.PathLike[str] | None = None,
    trust_roots: Sequence[str | os.PathLike[str]] = (),
    required_level: Level | str | None = None,
    path: str | None = None,
    policy: ValidationPolicy | str | os.PathLike[str] | None = None,
) -> VerificationReport:
    """Verify every ds:Signature that is a child of the document element (and flag any other),
    then the validation ``policy`` (default: as the signatures declare; ``required_level``
    raises its minimum level)."""
    pol = load_policy(policy).with_min_level(required_level)
    tree = _xml.parse_xml(xml)
    trust = _load_trust(pki_dir, trust_roots)
    problem = _xml_structure_problems(tree)
    sigs = list(tree.getroot().iter(ds("Signature")))
    ctx = _Ctx()

    async def run() -> list[SignatureReport]:
        return [await _verify_one_xml(tree, s, trust, problem, ctx) for s in sigs]

    report = VerificationReport(path=path, format="XML")
    report.signatures = run_sync(run())
    _apply_policy(report, pol, ctx)
    return report


# ---------------------------------------------------------------- CMS (CAdES, PAdES)


def _signed_data_revinfo(sd: cms.SignedData) -> _Revinfo:
    out = _Revinfo()
    for c in sd["certificates"] or ():
        if c.name == "certificate":
            out.certs.append(c.chosen)
    for r in sd["crls"] or ():
        if r.name == "crl":
            out.crls.append(r.chosen.dump())
        elif r.name == "other" and r.chosen["other_rev_info_format"].native == "ocsp_response":
            out.ocsps.append(r.chosen["other_rev_info"].dump())
    return out


def _cms_ts(signer_info: cms.SignerInfo) -> bytes | None:
    for attr in signer_info["unsigned_attrs"] or ():
        if attr["type"].native == "signature_time_stamp_token":
            return bytes(attr["values"][0].dump())
    return None


def _signer_cert(sd: cms.SignedData, si: cms.SignerInfo) -> asn1_x509.Certificate | None:
    sid = si["sid"]
    for c in sd["certificates"] or ():
        if c.name != "certificate":
            continue
        cert = c.chosen
        if sid.name == "issuer_and_serial_number":
            if cert.issuer == sid.chosen["issuer"] and cert.serial_number == sid.chosen["serial_number"].native:
                return cert
        elif sid.name == "subject_key_identifier" and cert.key_identifier == sid.chosen.native:
            return cert
    return None


async def _verify_signer_info(
    sd: cms.SignedData,
    si: cms.SignerInfo,
    actual_digest: Callable[[str], bytes],
    trust: _Trust,
    extra: _Revinfo,
    rep: SignatureReport,
    ctx: _Ctx,
) -> None:
    try:
        md_alg = si["digest_algorithm"]["algorithm"].native
        if md_alg in ("sha1", "md5"):
            raise _Fail(Indication.INDETERMINATE, "CRYPTO_CONSTRAINTS_FAILURE_NO_POE", f"weak digest {md_alg} refused")
        cert = _signer_cert(sd, si)
        if cert is None:
            raise _Fail(Indication.INDETERMINATE, "NO_SIGNING_CERTIFICATE_FOUND", "signer certificate not in the CMS")
        rep.signer_subject = _subject(cert)
        rep.signer_serial = f"{cert.serial_number:X}"
        rep.certificate_sha256 = hashlib.sha256(cert.dump()).hexdigest()
        rep.qualified = _qualified(cert)
        roles = claimed_roles(si)
        rep.role = rep.role or (roles[0] if roles else None)
        rep.signing_time = rep.signing_time or generic_cms.extract_self_reported_ts(si)
        try:
            generic_cms._check_signing_certificate(cert, si["signed_attrs"])
        except SignatureValidationError as exc:
            raise _Fail(Indication.INDETERMINATE, "NO_SIGNING_CERTIFICATE_FOUND", str(exc.failure_message)) from exc
        try:
            intact, valid = generic_cms.validate_sig_integrity(si, cert, "data", actual_digest(md_alg))
        except SignatureValidationError as exc:
            indic = exc.ades_subindication
            sub = str(getattr(indic, "name", indic)) if indic else "SIG_CRYPTO_FAILURE"
            ind = Indication.INDETERMINATE if "CONSTRAINTS" in sub else Indication.TOTAL_FAILED
            raise _Fail(ind, sub, str(exc.failure_message)) from exc
        if not intact:
            raise _Fail(Indication.TOTAL_FAILED, "HASH_FAILURE", "message digest does not match the content")
        if not valid:
            raise _Fail(Indication.TOTAL_FAILED, "SIG_CRYPTO_FAILURE", "the signature value does not verify")
        rep.level = Level.B_B.value
        try:
            declaration = Declaration.from_signer_info(si)
        except ValueError as exc:
            raise _Fail(Indication.TOTAL_FAILED, "FORMAT_FAILURE", str(exc)) from exc
        if declaration is not None:
            ctx.declarations.append(declaration)
        emb = _signed_data_revinfo(sd)
        emb.certs += extra.certs
        emb.crls += extra.crls
        emb.ocsps += extra.ocsps
        poe = None
        token = _cms_ts(si)
        if token is not None:
            sig_bytes = si["signature"].native

            def imprint(algo: str) -> bytes:
                return hashlib.new(algo, sig_bytes).digest()

            poe, ts_fail, note = await _check_timestamp(token, imprint, trust, emb.certs, emb)
            if ts_fail is not None:
                raise _Fail(Indication.TOTAL_FAILED, ts_fail, note)
            if poe is not None:
                rep.timestamp_time = poe
                rep.level = Level.B_T.value
        outcome = await _assess_signer(cert, emb.certs, emb, trust, poe)
        _apply_trust(rep, outcome)
        if outcome.lt_ok and rep.level == Level.B_T.value:
            rep.level = Level.B_LT.value
        for token_der in _ats.archive_timestamps(si):
            when = await _check_cms_archive_timestamp(token_der, sd, si, actual_digest, trust, emb)
            if when is not None and rep.level == Level.B_LT.value:
                rep.level, rep.archive_time = Level.B_LTA.value, when
    except _Fail as f:
        rep.indication, rep.sub_indication, rep.message = f.indication, f.sub, f.message


async def _check_cms_archive_timestamp(
    token_der: bytes,
    sd: cms.SignedData,
    si: cms.SignerInfo,
    content_hash: Callable[[str], bytes],
    trust: _Trust,
    emb: _Revinfo,
) -> dt.datetime | None:
    """A CAdES archive-time-stamp-v3: its time if valid and trusted; a mismatch fails the signature."""
    try:
        token = cms.ContentInfo.load(token_der)
        checked = _ats.check_index(token, sd, si, content_hash)
    except (ValueError, KeyError, TypeError, IndexError) as exc:
        raise _Fail(Indication.TOTAL_FAILED, "FORMAT_FAILURE", f"archive timestamp unreadable: {exc}") from exc
    if isinstance(checked, str):
        raise _Fail(Indication.TOTAL_FAILED, "HASH_FAILURE", checked)
    data = checked[1]
    when, fail, note = await _check_timestamp(
        token_der, lambda algo: hashlib.new(algo, data).digest(), trust, emb.certs, emb
    )
    if fail is not None:
        if fail == "HASH_FAILURE":
            note = "the archive timestamp does not match the signature and its validation data"
        raise _Fail(Indication.TOTAL_FAILED, fail, note)
    return when


def verify_detached(
    data: bytes,
    p7s: bytes,
    *,
    pki_dir: str | os.PathLike[str] | None = None,
    trust_roots: Sequence[str | os.PathLike[str]] = (),
    required_level: Level | str | None = None,
    path: str | None = None,
    policy: ValidationPolicy | str | os.PathLike[str] | None = None,
) -> VerificationReport:
    """Verify every SignerInfo of a detached CMS (``.p7s``, DER or PEM) over ``data``, then the policy."""
    pol = load_policy(policy).with_min_level(required_level)
    try:
        if p7s.lstrip().startswith(b"-----BEGIN"):
            from asn1crypto import pem

            _, _, p7s = pem.unarmor(p7s)
        ci = cms.ContentInfo.load(p7s)
        if ci["content_type"].native != "signed_data":
            raise ValueError("not SignedData")
        sd = ci["content"]
        signer_infos = list(sd["signer_infos"])
    except (ValueError, TypeError, KeyError) as exc:
        raise UnsupportedDocumentError(f"not a CMS SignedData signature: {exc}") from exc
    trust = _load_trust(pki_dir, trust_roots)
    ctx = _Ctx()
    digests: dict[str, bytes] = {}

    def actual(alg: str) -> bytes:
        if alg not in digests:
            digests[alg] = hashlib.new(alg, data).digest()
        return digests[alg]

    report = VerificationReport(path=path, format="CAdES")

    async def run() -> None:
        for i, si in enumerate(signer_infos, 1):
            rep = SignatureReport(format="CAdES", id=f"signer-{i}", indication=Indication.TOTAL_FAILED)
            rep.covers = f"detached content, {len(data)} bytes, sha256 {actual('sha256').hex()}"
            if sd["encap_content_info"]["content"].native is not None:
                rep.sub_indication, rep.message = (
                    "FORMAT_FAILURE",
                    "content is encapsulated, expected detached",
                )
            else:
                await _verify_signer_info(sd, si, actual, trust, _Revinfo(), rep, ctx)
            report.signatures.append(rep)

    run_sync(run())
    _apply_policy(report, pol, ctx)
    return report


def verify_pdf(
    pdf: bytes,
    *,
    pki_dir: str | os.PathLike[str] | None = None,
    trust_roots: Sequence[str | os.PathLike[str]] = (),
    required_level: Level | str | None = None,
    path: str | None = None,
    policy: ValidationPolicy | str | os.PathLike[str] | None = None,
) -> VerificationReport:
    """Verify every signature field of a PDF (PAdES), including coverage and later changes, then the policy."""
    pol = load_policy(policy).with_min_level(required_level)
    from pyhanko.pdf_utils.reader import PdfFileReader
    from pyhanko.sign.diff_analysis import ModificationLevel, SuspiciousModification
    from pyhanko.sign.validation.dss import DocumentSecurityStore

    try:
        reader = PdfFileReader(BytesIO(pdf), strict=False)
        sigs = list(reader.embedded_regular_signatures)
    except Exception as exc:
        raise UnsupportedDocumentError(f"not a readable PDF: {exc}") from exc
    trust = _load_trust(pki_dir, trust_roots)
    ctx = _Ctx()
    dss_info = _Revinfo()
    try:
        dss = DocumentSecurityStore.read_dss(reader)
        dss_info.certs = list(dss.load_certs())
        dss_info.ocsps = [bytes(b) for b in getattr(dss, "_ocsps_seen", {})]
        dss_info.crls = [bytes(b) for b in getattr(dss, "_crls_seen", {})]
    except Exception:  # no DSS
        pass
    total = reader.xrefs.total_revisions
    report = VerificationReport(path=path, format="PDF")

    archives: list[dict[str, Any]] = []

    async def check_archives() -> None:
        """Document timestamps (PAdES B-LTA): each must cover its revision and match it."""
        for ts in reader.embedded_timestamp_signatures:
            entry: dict[str, Any] = {"field": ts.field_name, "revision": ts.signed_revision, "time": None}
            archives.append(entry)
            try:
                ts.compute_integrity_info()
                cov = ts.coverage
                if cov is None or cov.name == "UNCLEAR":
                    entry["problem"] = "FORMAT_FAILURE: the byte ranges do not cover the revision"
                    continue
                digest = ts.compute_digest()
                token = cms.ContentInfo({"content_type": "signed_data", "content": ts.signed_data}).dump()

                def whole(alg: str, d: bytes = digest) -> bytes:
                    return d

                when, fail, note = await _check_timestamp(token, whole, trust, [], dss_info)
            except Exception as exc:
                entry["problem"] = f"FORMAT_FAILURE: cannot process the document timestamp: {exc}"
                continue
            if fail is not None:
                entry["problem"] = f"{fail}: {note}"
            elif when is None:
                entry["note"] = note
            else:
                entry["time"] = when
                # the validation data it protects: a DSS in the revision it covers
                entry["covers_dss"] = "/DSS" in reader.get_historical_root(ts.signed_revision)

    def archive_for(revision: int) -> dt.datetime | None:
        times = [a["time"] for a in archives if a["time"] and a.get("covers_dss") and a["revision"] > revision]
        return min(times) if times else None

    async def run() -> None:
        await check_archives()
        for emb in sigs:
            rep = SignatureReport(format="PAdES", id=emb.field_name, indication=Indication.TOTAL_FAILED)
            report.signatures.append(rep)
            try:
                reason = emb.sig_object.get("/Reason")
                rep.role = str(reason) if reason else None
                rep.signing_time = emb.self_reported_timestamp
                subfilter = str(emb.sig_object.get("/SubFilter"))
                br = list(emb.sig_object["/ByteRange"])
                emb.compute_integrity_info()
                cov = emb.coverage
                rep.covers = (
                    f"revision {emb.signed_revision + 1}"
                    + (f" of {total}" if total else "")
                    + (f", byte ranges {br}, coverage {cov.name if cov else 'unknown'}")
                )
                if subfilter != "/ETSI.CAdES.detached":
                    rep.message = f"SubFilter {subfilter} is not PAdES"
                if cov is None or cov.name == "UNCLEAR":
                    rep.sub_indication, rep.message = (
                        "FORMAT_FAILURE",
                        "the byte ranges do not cover the revision",
                    )
                    continue
                diff = emb.diff_result
                if isinstance(diff, SuspiciousModification):
                    rep.modification_level = ModificationLevel.OTHER.name
                elif diff is not None:
                    rep.modification_level = diff.modification_level.name
                if isinstance(diff, SuspiciousModification) or (
                    diff is not None and getattr(diff, "modification_level", None) == ModificationLevel.OTHER
                ):
                    rep.sub_indication = "FORMAT_FAILURE"
                    rep.message = "the document was changed after signing beyond adding signatures or validation data"
                    continue
                digest = emb.compute_digest()

                def actual(alg: str, d: bytes = digest) -> bytes:
                    return d

                await _verify_signer_info(emb.signed_data, emb.signer_info, actual, trust, dss_info, rep, ctx)
                archived = archive_for(emb.signed_revision)
                if rep.level == Level.B_LT.value and archived is not None:
                    rep.level, rep.archive_time = Level.B_LTA.value, archived
            except _Fail as f:
                rep.indication, rep.sub_indication, rep.message = f.indication, f.sub, f.message
            except Exception as exc:
                rep.sub_indication, rep.message = "FORMAT_FAILURE", f"cannot process the signature: {exc}"

    run_sync(run())
    if sigs:
        last = max(sigs, key=lambda e: e.signed_revision)
        changes = _pdf_changes_after(reader, last.signed_revision)
        last_rep = next(r for r in report.signatures if r.id == last.field_name)
        if changes:
            last_rep.modification_level = ModificationLevel.OTHER.name
        for a in archives:  # a broken document timestamp is a change nobody can vouch for
            if "problem" in a:
                changes.append(f"document timestamp {a['field']}: {a['problem']}")
        ctx.pdf = {
            "level": last_rep.modification_level,
            "after_last_signature": last.signed_revision < reader.xrefs.total_revisions - 1,
            "changes": changes,
            "archive_timestamps": [
                {k: (v.isoformat() if isinstance(v, dt.datetime) else v) for k, v in a.items()} for a in archives
            ],
        }
    _apply_policy(report, pol, ctx)
    return report


def _pdf_changes_after(reader: Any, revision: int) -> list[str]:
    """What the revisions after ``revision`` change beyond what PAdES allows after a signature.

    Allowed: the DSS (its dictionary, VRI entries and the streams they list), the catalog's
    /DSS, /AcroForm and /Metadata entries, the XMP metadata stream (pyHanko refreshes it with
    each update), document timestamps with their fields, and cross-reference streams.
    pyHanko's difference analysis counts an /Info change as an LTA update; here it is not.
    """
    from pyhanko.pdf_utils import generic

    total = reader.xrefs.total_revisions
    if revision >= total - 1:
        return []
    root_ref = reader.root_ref
    root = reader.root
    allowed: set[tuple[int, int]] = set()

    def collect(obj: Any, depth: int = 0) -> None:
        if depth > 6:
            return
        if isinstance(obj, generic.IndirectObject):
            allowed.add((obj.idnum, obj.generation))
            collect(obj.get_object(), depth + 1)
        elif isinstance(obj, generic.DictionaryObject):
            for k in obj:
                collect(obj.raw_get(k), depth + 1)
        elif isinstance(obj, generic.ArrayObject):
            for i in range(len(obj)):
                collect(obj.raw_get(i), depth + 1)

    for entry in ("/DSS", "/Metadata"):
        if entry in root:
            collect(root.raw_get(entry))
    acroform = root.raw_get("/AcroForm") if "/AcroForm" in root else None
    if isinstance(acroform, generic.IndirectObject):
        allowed.add((acroform.idnum, acroform.generation))
    info_ref = reader.trailer.raw_get("/Info") if "/Info" in reader.trailer else None
    changes: list[str] = []
    for rev in range(revision + 1, total):
        for ref in reader.xrefs.explicit_refs_in_revision(rev):
            key = (ref.idnum, ref.generation)
            if key in allowed:
                continue
            obj = reader.get_object(ref, revision=rev)
            if isinstance(obj, generic.StreamObject) and obj.get("/Type") == "/XRef":
                continue
            if key == (root_ref.idnum, root_ref.generation):
                before = reader.get_historical_root(rev - 1)
                after = reader.get_historical_root(rev)
                keys = {k for k in set(before) | set(after) if k not in ("/DSS", "/AcroForm", "/Metadata")}
                diff = sorted(k for k in keys if k in before and k in after and before.raw_get(k) != after.raw_get(k))
                diff += sorted(k for k in keys if (k in before) != (k in after))
                if diff:
                    changes.append("catalog " + " ".join(diff))
                continue
            if isinstance(obj, generic.DictionaryObject):
                if _is_doc_timestamp(obj):
                    continue
                if obj.get("/Type") == "/Page" and rev > 0:
                    before_page = reader.get_object(ref, revision=rev - 1)
                    if _only_timestamp_widgets_added(before_page, obj):
                        continue
            if isinstance(info_ref, generic.IndirectObject) and key == (info_ref.idnum, info_ref.generation):
                label = "/Info"
            else:
                kind_name = obj.get("/Type") if isinstance(obj, generic.DictionaryObject) else None
                label = f"object {ref.idnum}" + (f" {kind_name}" if kind_name else "")
            if label not in changes:
                changes.append(label)
    return changes


def _is_doc_timestamp(obj: Any) -> bool:
    """A document timestamp's signature dictionary, or a signature field/widget holding one."""
    from pyhanko.pdf_utils import generic

    if obj.get("/Type") == "/DocTimeStamp":
        return True
    if obj.get("/FT") != "/Sig" or "/V" not in obj:
        return False
    value = obj.raw_get("/V")
    value = value.get_object() if isinstance(value, generic.IndirectObject) else value
    return isinstance(value, generic.DictionaryObject) and value.get("/Type") == "/DocTimeStamp"


def _only_timestamp_widgets_added(before: Any, after: Any) -> bool:
    """A page changed only by gaining document-timestamp widgets in /Annots (what adding one does)."""
    from pyhanko.pdf_utils import generic

    if not isinstance(before, generic.DictionaryObject):
        return False
    keys = (set(before) | set(after)) - {"/Annots"}
    if any(k not in before or k not in after or before.raw_get(k) != after.raw_get(k) for k in keys):
        return False

    def annots(page: Any) -> list[Any]:
        arr = page.get("/Annots") if "/Annots" in page else []
        return [arr.raw_get(i) for i in range(len(arr))] if isinstance(arr, generic.ArrayObject) else []

    old, new = annots(before), annots(after)
    if new[: len(old)] != old:
        return False
    return all(isinstance(a, generic.IndirectObject) and _is_doc_timestamp(a.get_object()) for a in new[len(old) :])


# ---------------------------------------------------------------- files


def detect_format(data: bytes) -> str:
    """``pdf``, ``xml`` or ``other`` by content."""
    head = data[:1024].lstrip(b"\xef\xbb\xbf \t\r\n")
    if head.startswith(b"%PDF-"):
        return "pdf"
    if head.startswith(b"<"):
        return "xml"
    return "other"


MAX_INPUT_BYTES = 256 * 1024 * 1024
"""The largest document (and ``.p7s``) ``verify_file`` reads: 256 MiB."""


def read_input(path: Path, what: str = "", limit: int = MAX_INPUT_BYTES) -> bytes:
    """The bytes of a regular file of at most ``limit`` bytes; anything else is refused at once.

    Opened without blocking (a FIFO does not hang us), checked with fstat on the open file
    (no race between check and read), and read no further than the limit.
    """
    name = f"{what}{path}"
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOCTTY", 0))
    except OSError as exc:
        raise UnsupportedDocumentError(f"cannot read {name}: {exc.strerror}") from None
    st = os.fstat(fd)
    if not stat.S_ISREG(st.st_mode):
        os.close(fd)
        raise UnsupportedDocumentError(f"{name}: not a regular file (folders, devices, FIFOs and sockets are refused)")
    with os.fdopen(fd, "rb") as f:
        if st.st_size > limit:
            raise UnsupportedDocumentError(f"{name}: {st.st_size} bytes, over the limit of {limit} bytes")
        data = f.read(limit + 1)
    if len(data) > limit:
        raise UnsupportedDocumentError(f"{name}: over the limit of {limit} bytes")
    return data


def verify_file(
    path: str | os.PathLike[str],
    pki_dir: str | os.PathLike[str] | None = None,
    *,
    trust_roots: Sequence[str | os.PathLike[str]] = (),
    required_level: Level | str | None = None,
    env: Mapping[str, str] = os.environ,
    policy: ValidationPolicy | str | os.PathLike[str] | None = None,
) -> VerificationReport:
    """Verify an XML or PDF file, or any file with its ``<file>.p7s`` (or the ``.p7s`` itself).

    Trust roots: ``pki_dir``'s root (and its in-process revocation data), else
    ``trust_roots``, else ``MSEDOCS_SIGN_TRUST_ROOTS``, else the test PKI in
    ``./.msedocs/pki`` if there is one. ``policy``: a :class:`~signing.policy.ValidationPolicy`,
    ``"default"``, ``"basic"`` or a TOML file. Files must be regular files of at most
    :data:`MAX_INPUT_BYTES`.
    """
    pol = load_policy(policy).with_min_level(required_level)
    p = Path(path)
    roots = list(trust_roots)
    if pki_dir is None and not roots:
        env_roots = env.get("MSEDOCS_SIGN_TRUST_ROOTS")
        if env_roots:
            roots = [r for r in env_roots.split(os.pathsep) if r]
        elif (Path.cwd() / ".msedocs" / "pki" / "pki.json").is_file():
            pki_dir = Path.cwd() / ".msedocs" / "pki"
    if p.suffix.lower() == ".p7s":
        content_path, sig_path = p.with_suffix(""), p
        if not content_path.exists() and content_path.with_suffix("").is_file():  # <file>.<role>.p7s
            content_path = content_path.with_suffix("")
    else:
        content_path, sig_path = p, Path(str(p) + ".p7s")
    data = read_input(content_path)
    kind = detect_format(data)
    if (kind == "other" or p.suffix.lower() == ".p7s") and (sig_path.exists() or sig_path.is_symlink()):
        p7s = read_input(sig_path)
        return verify_detached(data, p7s, pki_dir=pki_dir, trust_roots=roots, policy=pol, path=str(p))
    if kind == "pdf":
        return verify_pdf(data, pki_dir=pki_dir, trust_roots=roots, policy=pol, path=str(p))
    if kind == "xml":
        return verify_xml(data, pki_dir=pki_dir, trust_roots=roots, policy=pol, path=str(p))
    raise UnsupportedDocumentError(f"{p}: not XML or PDF, and no {sig_path.name} next to it")
