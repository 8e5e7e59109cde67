"""Signing for msedocs: XAdES, PAdES and detached CAdES at B-B, B-T and B-LT; a test PKI; verification.

Imports :mod:`msedocs.errors` (its errors derive from :class:`msedocs.MsedocsError`) and nothing
else of ``msedocs``, nor ``generators``. Typical use::

    from signing import load_profile, sign_xml, sign_pdf, sign_detached, verify_file

    profile = load_profile()                       # test PKI under .msedocs/pki unless configured
    signers = profile.signers_for(["chairman", "member1", "member2"])
    signed_xml = sign_xml(xml_bytes, signers, profile)
    signed_pdf = sign_pdf(pdf_bytes, signers, profile, visible_stamp=True)
    p7s = sign_detached(docx_bytes, signers, profile)   # write as <file>.p7s
    report = verify_file("out/form.xml", pki_dir=".msedocs/pki")

Each format is also a plug-in found by media type (:mod:`signing.formats`)::

    fmt = format_for("application/pdf")
    report = fmt.verify(fmt.sign(pdf_bytes, signers, profile), VerifyOptions(pki_dir=".msedocs/pki"))
"""

import importlib
from typing import TYPE_CHECKING, Any

from .errors import (
    ConfigurationError,
    KeyLoadError,
    PkiError,
    RevocationError,
    SigningFailure,
    TimestampError,
    UnsupportedDocumentError,
)

# Everything else loads on first use (PEP 562): pyHanko and friends take most of a second to
# import, and ``msedocs --help`` should not pay for that.
_LAZY = {
    "SignatureFormat": ".formats",
    "format_for": ".formats",
    "sign_detached": ".cades",
    "split_detached": ".cades",
    "Signer": ".keys",
    "clear_key_cache": ".keys",
    "load_pkcs11": ".keys",
    "load_pkcs12": ".keys",
    "DEFAULT_STAMP_FONT": ".pades",
    "sign_pdf": ".pades",
    "ROLE_TITLES": ".pki",
    "TestPki": ".pki",
    "init_pki": ".pki",
    "load_pki": ".pki",
    "Level": ".profile",
    "SignerRef": ".profile",
    "SigningProfile": ".profile",
    "load_profile": ".profile",
    "pki_profile": ".profile",
    "local_authority": ".services",
    "serve": ".services",
    "ValidationPolicy": ".policy",
    "load_policy": ".policy",
    "MAX_INPUT_BYTES": ".verify",
    "PolicyOutcome": ".report",
    "Indication": ".report",
    "QualifiedFlags": ".report",
    "SignatureReport": ".report",
    "VerificationReport": ".report",
    "VerifyOptions": ".validation",
    "verify_detached": ".verify",
    "verify_file": ".verify",
    "verify_pdf": ".verify",
    "verify_xml": ".verify",
    "sign_xml": ".xades",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'signing' has no attribute {name!r}")
    value = getattr(importlib.import_module(module, __name__), name)
    globals()[name] = value
    return value


if TYPE_CHECKING:
    from .cades import sign_detached, split_detached
    from .formats import SignatureFormat, format_for
    from .keys import Signer, clear_key_cache, load_pkcs11, load_pkcs12
    from .pades import DEFAULT_STAMP_FONT, sign_pdf
    from .pki import ROLE_TITLES, TestPki, init_pki, load_pki
    from .policy import ValidationPolicy, load_policy
    from .profile import Level, SignerRef, SigningProfile, load_profile, pki_profile
    from .report import Indication, PolicyOutcome, QualifiedFlags, SignatureReport, VerificationReport
    from .services import local_authority, serve
    from .validation import VerifyOptions
    from .verify import MAX_INPUT_BYTES, verify_detached, verify_file, verify_pdf, verify_xml
    from .xades import sign_xml

__all__ = [
    "DEFAULT_STAMP_FONT",
    "MAX_INPUT_BYTES",
    "ROLE_TITLES",
    "ConfigurationError",
    "Indication",
    "KeyLoadError",
    "Level",
    "PkiError",
    "PolicyOutcome",
    "QualifiedFlags",
    "RevocationError",
    "SignatureFormat",
    "SignatureReport",
    "Signer",
    "SignerRef",
    "SigningFailure",
    "SigningProfile",
    "TestPki",
    "TimestampError",
    "UnsupportedDocumentError",
    "ValidationPolicy",
    "VerificationReport",
    "VerifyOptions",
    "clear_key_cache",
    "format_for",
    "init_pki",
    "load_pkcs11",
    "load_pkcs12",
    "load_pki",
    "load_policy",
    "load_profile",
    "local_authority",
    "pki_profile",
    "serve",
    "sign_detached",
    "sign_pdf",
    "sign_xml",
    "split_detached",
    "verify_detached",
    "verify_file",
    "verify_pdf",
    "verify_xml",
]
