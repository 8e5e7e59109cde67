"""What verification returns: a :class:`VerificationReport` per document, a :class:`SignatureReport`
per signature, the validation policy's findings (:class:`PolicyOutcome`).

Every signature gets an ETSI EN 319 102-1 style indication (TOTAL_PASSED, INDETERMINATE,
TOTAL_FAILED) and sub-indication (HASH_FAILURE, SIG_CRYPTO_FAILURE, FORMAT_FAILURE,
NO_CERTIFICATE_CHAIN_FOUND, REVOKED_NO_POE, REVOKED, OUT_OF_BOUNDS_NO_POE,
CRYPTO_CONSTRAINTS_FAILURE_NO_POE, SIG_CONSTRAINTS_FAILURE…), the signer, role, claimed
signing time, timestamp time, the level reached and qualified-style flags. Plain data:
importing this module costs nothing (the CLI prints a report with it).
"""

from __future__ import annotations

import datetime as dt
import enum
import json
from dataclasses import asdict, dataclass, field
from typing import Any

__all__ = ["Indication", "PolicyOutcome", "QualifiedFlags", "SignatureReport", "VerificationReport"]


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
