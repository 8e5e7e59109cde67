"""Validation policies: what a document must show besides good signatures (as EU DSS has them).

A :class:`ValidationPolicy` says which signers must be present, the minimum level, whether
content inside a signature that no reference covers is tolerated, and how much a PDF may
change after a signature. The defaults follow the document's own signature-set
declaration (:mod:`signing.declaration`): every declared signer present, every signature
at the declared level, nothing unsigned inside a signature beyond the XAdES unsigned
properties of the levels, and after the last PDF signature nothing but validation data
(DSS) and document timestamps.

Named policies: ``default`` (the above) and ``basic`` (only every signature present must
pass: the declaration is reported, not enforced). A TOML file gives the fields of a
``[policy]`` table::

    [policy]
    name = "commission"
    required_signers = ["chairman", "member1"]   # roles or titles; default: as declared
    min_level = "B-T"                             # default: the declared level
    use_declaration = true
    allow_unsigned_content = false
    allow_changes_after_last_signature = false
"""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any

from .declaration import Declaration
from .declaration import merge as merge_declarations
from .errors import ConfigurationError
from .profile import Level
from .report import Indication, PolicyOutcome, SignatureReport, VerificationReport

__all__ = ["BASIC", "DEFAULT", "NAMED_POLICIES", "Findings", "ValidationPolicy", "apply_policy", "load_policy"]


@dataclass(frozen=True)
class ValidationPolicy:
    """What a document must satisfy besides every signature passing."""

    name: str = "default"
    required_signers: tuple[str, ...] | None = None
    """Signing roles (``chairman``) or role titles that must have signed; None: as declared."""
    min_level: Level | None = None
    """Minimum level of every signature; None: the level the document declares."""
    use_declaration: bool = True
    """Enforce the document's signature-set declaration (signers, level)."""
    allow_unsigned_content: bool = False
    """Tolerate content inside a signature that no reference covers (beyond XAdES unsigned properties)."""
    allow_changes_after_last_signature: bool = False
    """Tolerate PDF changes after the last signature beyond validation data and document timestamps."""

    def with_min_level(self, level: Level | str | None) -> ValidationPolicy:
        return self if level is None else replace(self, min_level=Level.parse(level))


DEFAULT = ValidationPolicy()
BASIC = ValidationPolicy(
    name="basic", use_declaration=False, allow_unsigned_content=True, allow_changes_after_last_signature=True
)
NAMED_POLICIES = {"default": DEFAULT, "basic": BASIC}

_MAX_POLICY_BYTES = 64 * 1024


def load_policy(spec: ValidationPolicy | str | os.PathLike[str] | None) -> ValidationPolicy:
    """A policy by object, name (``default``, ``basic``) or TOML file; ``ConfigurationError`` if bad."""
    if spec is None:
        return DEFAULT
    if isinstance(spec, ValidationPolicy):
        return spec
    text = os.fspath(spec)
    if text in NAMED_POLICIES:
        return NAMED_POLICIES[text]
    path = Path(text)
    if path.suffix.lower() != ".toml":
        raise ConfigurationError(f"policy {text!r} is neither {' nor '.join(NAMED_POLICIES)} nor a .toml file")
    try:
        st = path.stat()
        if not path.is_file():
            raise ConfigurationError(f"policy file {path}: not a regular file")
        if st.st_size > _MAX_POLICY_BYTES:
            raise ConfigurationError(f"policy file {path}: larger than {_MAX_POLICY_BYTES} bytes")
        doc = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigurationError(f"policy file {path}: cannot read ({exc.strerror})") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigurationError(f"policy file {path}: not valid TOML ({exc})") from None
    table = doc.get("policy")
    if not isinstance(table, dict):
        raise ConfigurationError(f"policy file {path}: no [policy] table")
    return _from_table(table, str(path))


def _from_table(t: dict[str, Any], where: str) -> ValidationPolicy:
    known = {f.name for f in fields(ValidationPolicy)}
    unknown = sorted(set(t) - known)
    if unknown:
        raise ConfigurationError(f"policy file {where}: unknown keys {unknown} (known: {sorted(known)})")
    kw: dict[str, Any] = {"name": Path(where).stem}
    if "name" in t:
        if not isinstance(t["name"], str) or not t["name"].strip():
            raise ConfigurationError(f"policy file {where}: name must be a non-empty string")
        kw["name"] = t["name"].strip()
    if "required_signers" in t:
        rs = t["required_signers"]
        if not isinstance(rs, list) or not all(isinstance(r, str) and r.strip() for r in rs):
            raise ConfigurationError(f"policy file {where}: required_signers must be a list of role names")
        kw["required_signers"] = tuple(r.strip() for r in rs)
    if "min_level" in t:
        try:
            kw["min_level"] = Level.parse(t["min_level"]) if isinstance(t["min_level"], str) else None
        except ConfigurationError:
            kw["min_level"] = None
        if kw["min_level"] is None:
            raise ConfigurationError(f"policy file {where}: min_level must be one of B-B, B-T, B-LT, B-LTA")
    for key in ("use_declaration", "allow_unsigned_content", "allow_changes_after_last_signature"):
        if key in t:
            if not isinstance(t[key], bool):
                raise ConfigurationError(f"policy file {where}: {key} must be true or false")
            kw[key] = t[key]
    return ValidationPolicy(**kw)


# ---------------------------------------------------------------- applying it


@dataclass
class Findings:
    """What the verification of one document collects for the policy."""

    declarations: list[Declaration] = field(default_factory=list)
    unsigned: dict[str, list[str]] = field(default_factory=dict)
    """Signature id → paths of content inside it that no reference covers."""
    pdf: dict[str, Any] | None = None


def _constraint_failure(rep: SignatureReport, message: str) -> None:
    if rep.indication is Indication.TOTAL_PASSED:
        rep.indication, rep.sub_indication, rep.message = Indication.INDETERMINATE, "SIG_CONSTRAINTS_FAILURE", message


def apply_policy(report: VerificationReport, policy: ValidationPolicy, findings: Findings) -> None:
    """Check the policy over the signature reports; mark what falls short; set ``report.policy``."""
    out = PolicyOutcome(name=policy.name)
    declared = merge_declarations(findings.declarations)
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
        paths = findings.unsigned.get(s.id, [])
        out.unsigned_content.extend(paths)
        if paths and not policy.allow_unsigned_content:
            _constraint_failure(s, f"unsigned content inside the signature: {', '.join(paths)}")
    if out.unsigned_content and not policy.allow_unsigned_content:
        out.failures.append("unsigned content inside a signature: " + ", ".join(out.unsigned_content))

    # PDF changes after the last signature
    if findings.pdf is not None:
        out.pdf_modification = findings.pdf
        if findings.pdf["changes"]:
            msg = "changed after the last signature: " + ", ".join(findings.pdf["changes"])
            if policy.allow_changes_after_last_signature:
                out.notes.append(msg)
            else:
                out.failures.append(msg)
    report.policy = out
