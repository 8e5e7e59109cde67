"""The signature-set declaration every signature carries: who signs the document, at which level.

A document cannot say on its own which signatures it should carry: strip one of three
``ds:Signature``s, cut a PDF back to an earlier revision or drop a SignerInfo from a
``.p7s`` and what is left is still a set of good signatures. So each signature made here
declares, in its *signed* attributes, the whole set it was made with: the level and, per
signer, the signing role, the role's title and the SHA-256 of the signer's certificate.
Removing a signature cannot remove the declaration the others carry, and the verifier's
policy (:mod:`signing.policy`) fails the document when a declared signer is missing or a
signature is below the declared level.

It is written as an ETSI signature policy identifier, the place EN 319 122-1 (CAdES,
PAdES) and EN 319 132-1 (XAdES) give to "the rules this signature is to be validated
under": the policy OID below, the SHA-256 of the declaration (canonical JSON) as the policy
hash, and the declaration itself as a policy qualifier (a UTF8String of that JSON in CMS,
an ``ss:SignatureSet`` element in XAdES). Signatures made elsewhere carry none; the policy
then says so and only asks every signature present to pass.
"""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from asn1crypto import cms, core
from lxml import etree

from ._xml import ds, xades

if TYPE_CHECKING:
    from .keys import Signer

__all__ = ["POLICY_OID", "QUALIFIER_OID", "SIGNATURE_SET_NS", "Declaration", "DeclaredSigner"]

POLICY_OID = "2.25.152913065123320544057585008414916527354"
"""Signature policy "msedocs signature set, version 1" (a UUID OID, ITU-T X.667)."""
QUALIFIER_OID = "2.25.81750326741858005516933837938093842468"
"""Policy qualifier holding the declaration (canonical JSON, UTF8String)."""
SIGNATURE_SET_NS = "urn:msedocs:signing:signature-set:1"
"""Namespace of the ``SignatureSet`` element in XAdES's ``SigPolicyQualifier``."""

_SHA256_URI = "http://www.w3.org/2001/04/xmlenc#sha256"
_MAX_SIGNERS = 64


@dataclass(frozen=True)
class DeclaredSigner:
    role: str
    """Signing role (``chairman``, ``member1`` …)."""
    title: str
    """The role's title, as the signature claims it."""
    cert_sha256: str
    """SHA-256 of the signer's certificate (DER), hex."""


@dataclass(frozen=True)
class Declaration:
    """The level and the signers a set of signatures was made with."""

    level: str
    signers: tuple[DeclaredSigner, ...]

    @classmethod
    def for_signers(cls, signers: Sequence[Signer], level: str) -> Declaration:
        return cls(
            level=level,
            signers=tuple(
                DeclaredSigner(s.role, s.title, hashlib.sha256(s.certificate_der).hexdigest()) for s in signers
            ),
        )

    def to_json(self) -> bytes:
        doc = {
            "level": self.level,
            "signers": [{"role": s.role, "title": s.title, "cert_sha256": s.cert_sha256} for s in self.signers],
        }
        return json.dumps(doc, ensure_ascii=False, sort_keys=True, separators=(",", ":")).encode()

    @classmethod
    def from_json(cls, data: bytes | str) -> Declaration:
        """Parse a declaration; ``ValueError`` if it is not one."""
        try:
            doc = json.loads(data)
            level = doc["level"]
            raw = doc["signers"]
            if not isinstance(level, str) or not isinstance(raw, list) or len(raw) > _MAX_SIGNERS:
                raise ValueError("bad shape")
            signers = []
            for s in raw:
                role, title, digest = s["role"], s["title"], s["cert_sha256"]
                if not all(isinstance(v, str) for v in (role, title, digest)):
                    raise ValueError("bad signer")
                signers.append(DeclaredSigner(role, title, digest.lower()))
        except (json.JSONDecodeError, KeyError, TypeError) as exc:
            raise ValueError(f"not a signature-set declaration: {exc}") from exc
        return cls(level=level, signers=tuple(signers))

    @property
    def digest(self) -> bytes:
        return hashlib.sha256(self.to_json()).digest()

    # ------------------------------------------------------------ CMS

    def cms_policy(self) -> cms.CMSAttribute:
        """The value of a CMS ``signature-policy-identifier`` attribute carrying this declaration."""
        from pyhanko.sign.ades.cades_asn1 import SignaturePolicyIdentifier

        return SignaturePolicyIdentifier(
            name="signature_policy_id",
            value={
                "sig_policy_id": POLICY_OID,
                "sig_policy_hash": {"digest_algorithm": {"algorithm": "sha256"}, "digest": self.digest},
                "sig_policy_qualifiers": [
                    {
                        "sig_policy_qualifier_id": QUALIFIER_OID,
                        "sig_qualifier": core.UTF8String(self.to_json().decode()),
                    }
                ],
            },
        )

    @classmethod
    def from_signer_info(cls, si: cms.SignerInfo) -> Declaration | None:
        """The declaration in a SignerInfo's signed attributes, None if it has none.

        ``ValueError`` if it names our policy but the declaration is missing or does not
        match the signed policy hash.
        """
        from pyhanko.sign.ades.cades_asn1 import SignaturePolicyIdentifier

        for attr in si["signed_attrs"] or ():
            if attr["type"].dotted != "1.2.840.113549.1.9.16.2.15":  # id-aa-ets-sigPolicyId
                continue
            for value in attr["values"]:
                spi = SignaturePolicyIdentifier.load(value.dump())
                if spi.name != "signature_policy_id" or spi.chosen["sig_policy_id"].dotted != POLICY_OID:
                    continue
                pid = spi.chosen
                texts = [
                    q["sig_qualifier"].parse(core.UTF8String).native
                    for q in pid["sig_policy_qualifiers"] or ()
                    if q["sig_policy_qualifier_id"].dotted == QUALIFIER_OID
                ]
                if len(texts) != 1:
                    raise ValueError("the signature-set policy carries no declaration")
                decl = cls.from_json(texts[0])
                h = pid["sig_policy_hash"]
                if h["digest_algorithm"]["algorithm"].native != "sha256" or h["digest"].native != decl.digest:
                    raise ValueError("the signature-set declaration does not match its signed hash")
                return decl
        return None

    # ------------------------------------------------------------ XAdES

    def xades_policy(self) -> etree._Element:
        """A ``xades:SignaturePolicyIdentifier`` carrying this declaration."""
        spi = etree.Element(xades("SignaturePolicyIdentifier"))
        pid = etree.SubElement(spi, xades("SignaturePolicyId"))
        sp_id = etree.SubElement(pid, xades("SigPolicyId"))
        ident = etree.SubElement(sp_id, xades("Identifier"), Qualifier="OIDAsURN")
        ident.text = f"urn:oid:{POLICY_OID}"
        etree.SubElement(sp_id, xades("Description")).text = "msedocs signature set 1: the signers and level declared"
        h = etree.SubElement(pid, xades("SigPolicyHash"))
        etree.SubElement(h, ds("DigestMethod"), Algorithm=_SHA256_URI)
        etree.SubElement(h, ds("DigestValue")).text = base64.b64encode(self.digest).decode()
        quals = etree.SubElement(pid, xades("SigPolicyQualifiers"))
        q = etree.SubElement(quals, xades("SigPolicyQualifier"))
        q_ns = {"ss": SIGNATURE_SET_NS}
        sset = etree.SubElement(q, f"{{{SIGNATURE_SET_NS}}}SignatureSet", level=self.level, nsmap=q_ns)
        for s in self.signers:
            etree.SubElement(
                sset, f"{{{SIGNATURE_SET_NS}}}Signer", role=s.role, title=s.title, certSha256=s.cert_sha256
            )
        return spi

    @classmethod
    def from_signed_properties(cls, sp: etree._Element) -> Declaration | None:
        """The declaration in a ``xades:SignedProperties``, None if it has none (``ValueError`` if broken)."""
        for spi in sp.iter(xades("SignaturePolicyId")):
            ident = spi.findtext(f"{xades('SigPolicyId')}/{xades('Identifier')}")
            if (ident or "").strip() not in (f"urn:oid:{POLICY_OID}", POLICY_OID):
                continue
            sets = spi.findall(
                f"{xades('SigPolicyQualifiers')}/{xades('SigPolicyQualifier')}/{{{SIGNATURE_SET_NS}}}SignatureSet"
            )
            if len(sets) != 1:
                raise ValueError("the signature-set policy carries no declaration")
            sset = sets[0]
            signers = []
            for el in sset.findall(f"{{{SIGNATURE_SET_NS}}}Signer"):
                role, title, digest = el.get("role"), el.get("title"), el.get("certSha256")
                if role is None or title is None or digest is None:
                    raise ValueError("a declared signer lacks role, title or certSha256")
                signers.append(DeclaredSigner(role, title, digest.lower()))
            decl = cls(level=sset.get("level") or "", signers=tuple(signers))
            alg = spi.find(f"{xades('SigPolicyHash')}/{ds('DigestMethod')}")
            value = spi.findtext(f"{xades('SigPolicyHash')}/{ds('DigestValue')}") or ""
            try:
                given = base64.b64decode("".join(value.split()), validate=True)
            except ValueError:
                given = b""
            if alg is None or alg.get("Algorithm") != _SHA256_URI or given != decl.digest:
                raise ValueError("the signature-set declaration does not match its signed hash")
            return decl
        return None


def merge(declarations: Iterable[Declaration]) -> Declaration | None:
    """One declaration from several (signatures added in several rounds): every signer, the highest level."""
    from .errors import ConfigurationError
    from .profile import Level

    decls = list(declarations)
    if not decls:
        return None
    signers: dict[str, DeclaredSigner] = {}
    for d in decls:
        for s in d.signers:
            signers.setdefault(s.cert_sha256, s)
    levels = []
    for d in decls:
        try:
            levels.append(Level.parse(d.level))
        except ConfigurationError:  # an unknown level is reported by the policy, not here
            continue
    level = max(levels).value if levels else decls[0].level
    return Declaration(level=level, signers=tuple(signers.values()))
