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
from dataclasses import dataclass, fields, replace
from pathlib import Path
from typing import Any

from .errors import ConfigurationError
from .profile import Level

__all__ = ["BASIC", "DEFAULT", "NAMED_POLICIES", "ValidationPolicy", "load_policy"]


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
