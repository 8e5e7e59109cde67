"""The signing stage: every document of a package signed with its form's signers.

XML gets parallel enveloped XAdES signatures (one per signer), PDF sequential PAdES
signatures, DOCX a detached CAdES ``<file>.p7s`` with one SignerInfo per signer, all at
the profile's level (B-B, B-T, B-LT). The form's XML is signed before it is embedded
into its PDF, so the attachment is the signed XML.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from generators.common import FONTS_DIR, RenderedDocument

from .errors import InputError, SigningError

if TYPE_CHECKING:  # the forms and the case model load with the pipeline, not with `msedocs render`'s options
    from signing import SigningProfile

    from .forms import DocumentSpec, FormSpec
    from .model import Case

#: A form's signature line → the signing roles behind it. The commission's members sign
#: in the order of the test PKI's member roles; a deployment maps roles to keys in its profile.
MEMBER_ROLES = ("member1", "member2")


@dataclass(frozen=True)
class SigningOptions:
    """What ``render --sign`` asks for."""

    level: str | None = None
    """B-B, B-T or B-LT; default: the profile's."""
    pki_dir: Path | None = None
    """A test PKI folder; default: the configured profile, else the test PKI under .msedocs/pki."""
    config: Path | None = None
    """A TOML signing configuration."""
    cades_per_signer: bool = False
    """Besides a DOCX's combined ``.p7s``, one ``<file>.<role>.p7s`` per signer."""


#: What an unsigned run refuses: signing options without ``--sign``.
SIGN_ONLY = "--level, --pki and --cades-per-signer apply only with --sign"


def options_for(
    sign: bool, level: str | None = None, pki_dir: Path | None = None, cades_per_signer: bool = False
) -> SigningOptions | None:
    """The signing options a command's flags ask for, or None when it does not sign (and then
    gives none of them: :data:`SIGN_ONLY`)."""
    if not sign:
        if level or pki_dir or cades_per_signer:
            raise InputError(SIGN_ONLY)
        return None
    return SigningOptions(level=level, pki_dir=pki_dir, cades_per_signer=cades_per_signer)


def load(options: SigningOptions, *, keys: bool = False) -> SigningProfile:
    """The signing profile the options name; with ``keys``, every configured signer's key loaded
    too (a key file that is missing or will not open is found now, not at the first signature)."""
    import signing

    try:
        if options.pki_dir is not None:
            profile = signing.pki_profile(options.pki_dir)
        else:
            profile = signing.load_profile(options.config)
        if options.level:
            profile = profile.with_level(options.level)
        if options.cades_per_signer:
            from dataclasses import replace

            profile = replace(profile, cades_per_signer=True)
    except signing.ConfigurationError as exc:
        raise InputError(f"signing configuration: {exc}") from None
    except signing.PkiError as exc:  # the --pki folder given cannot hold a test PKI: the user's to fix
        raise InputError(f"--pki: {exc}") from None
    except signing.SigningFailure as exc:
        raise SigningError(f"signing: {exc}") from None
    if keys:  # a configured key that will not open is the configuration's fault: the user's to fix
        try:
            for role in profile.signers:
                profile.signer(role)
        except signing.SigningFailure as exc:
            raise InputError(f"signing configuration: {exc}") from None
    return profile


def register_roles(spec: DocumentSpec) -> list[str]:
    """The signing roles of a register (a journal, the session protocol): each signature line's
    role, every member role for the members' line."""
    roles: list[str] = []
    for signer in spec.signers:
        roles.extend(MEMBER_ROLES if signer.role == "member" else (signer.role,))
    return roles


def register_signer(spec: DocumentSpec, profile: SigningProfile) -> FormSigner:
    """The signer of a register (journal, protocol) with its declared signers."""
    return FormSigner(profile, register_roles(spec))


def roles_for(spec: FormSpec, case: Case, profile: SigningProfile) -> list[str]:
    """The signing roles of a form for a case: each signature line's role, every member."""
    roles: list[str] = []
    for signer in spec.signers:
        if signer.role == "member":
            count = len(signer.names(case))
            roles.extend(MEMBER_ROLES[: max(count, 0)])
        else:
            roles.append(signer.role)
    available = [r for r in roles if r in profile.signers]
    if not available:  # an unsigned register still leaves the pipeline signed by the head
        from .model.enums import Jurisdiction

        head = "bureau_head" if case.jurisdiction == Jurisdiction.RU else "chairman"
        available = [head] if head in profile.signers else []
    if not available:
        raise SigningError(f"{spec.id}: no signer configured for roles {', '.join(roles) or '(none)'}")
    return available


#: The visible stamp is set in the forms' own bundled font, not a system one.
STAMP_FONT = FONTS_DIR / "LiberationSerif-Regular.ttf"


class FormSigner:
    """Signs one document's formats with given roles; what the renderers call between formats."""

    def __init__(self, profile: SigningProfile, roles: list[str], visible_stamp: bool = False) -> None:
        missing = [r for r in roles if r not in profile.signers]
        if missing or not roles:
            raise SigningError(f"no signer configured for role(s) {', '.join(missing) or '(none)'}")
        self.profile = profile
        self.roles = roles
        self.visible_stamp = visible_stamp

    @classmethod
    def for_form(cls, profile: SigningProfile, spec: FormSpec, case: Case) -> FormSigner:
        """A form's signers for a case (Russian forms carry the visible stamp of Russian practice)."""
        return cls(profile, roles_for(spec, case, profile), visible_stamp=spec.visible_stamp)

    def _signers(self) -> list[Any]:
        return self.profile.signers_for(self.roles)

    def xml(self, content: bytes) -> bytes:
        return self._call("sign_xml", content)

    def pdf(self, content: bytes) -> bytes:
        return self._call("sign_pdf", content, visible_stamp=self.visible_stamp, stamp_font=STAMP_FONT)

    def detached(self, content: bytes) -> bytes:
        return self._call("sign_detached", content)

    def detached_documents(self, form_id: str, content: bytes) -> list[RenderedDocument]:
        """The DOCX's ``<form>.docx.p7s`` and, if the profile asks, one ``<form>.docx.<role>.p7s`` per signer."""
        import signing

        p7s = self.detached(content)
        entry = self.manifest_entry("CAdES")
        out = [RenderedDocument.of(form_id, "p7s", p7s, entry, f"{form_id}.docx.p7s")]
        if getattr(self.profile, "cades_per_signer", False):
            try:
                parts = signing.split_detached(p7s)
            except signing.SigningFailure as exc:
                raise SigningError(f"split_detached: {exc}") from None
            for role, part in zip(self.roles, parts, strict=True):
                single = {**entry, "roles": [role]}
                out.append(RenderedDocument.of(form_id, "p7s", part, single, f"{form_id}.docx.{role}.p7s"))
        return out

    def _call(self, name: str, content: bytes, **kwargs: Any) -> bytes:
        import signing

        try:
            result: bytes = getattr(signing, name)(content, self._signers(), self.profile, **kwargs)
            return result
        except signing.SigningFailure as exc:
            raise SigningError(f"{name}: {exc}") from None

    @property
    def level(self) -> str:
        return str(self.profile.level.value)

    def manifest_entry(self, form: str) -> dict[str, Any]:
        """What the manifest records of a signed file."""
        return {"form": form, "level": self.level, "roles": self.roles, "test_pki": self.profile.is_test}


def sign_rendered(signer: FormSigner | None, form_id: str, fmt: str, content: bytes) -> list[RenderedDocument]:
    """A rendered register (journal, protocol) as delivered: signed PDF, signed XML, DOCX + .p7s."""
    if signer is None:
        return [RenderedDocument.of(form_id, fmt, content)]
    if fmt == "pdf":
        return [RenderedDocument.of(form_id, "pdf", signer.pdf(content), signer.manifest_entry("PAdES"))]
    if fmt == "xml":
        return [RenderedDocument.of(form_id, "xml", content, signer.manifest_entry("XAdES"))]
    return [RenderedDocument.of(form_id, "docx", content), *signer.detached_documents(form_id, content)]
