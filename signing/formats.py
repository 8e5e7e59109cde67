"""Signature formats as plug-ins: one object per format (sign, verify), found by media type.

A format is anything of the shape :class:`SignatureFormat`. The built-in ones are
:class:`Format` objects that their own modules register when they are imported::

    application/xml, text/xml      XAdES, enveloped          signing.xades  (verify: signing.xades_verify)
    application/pdf                PAdES                     signing.pades  (verify: signing.pades_verify)
    application/pkcs7-signature    CAdES, detached (.p7s)    signing.cades  (verify: signing.cades_verify)

The media type is that of what ``sign`` returns and ``verify`` reads: a signed XML or PDF, or
for a detached format the ``.p7s`` beside a file of any type (a DOCX), whose bytes go in
:attr:`~signing.validation.VerifyOptions.detached_content`::

    from signing.formats import format_for
    from signing.validation import VerifyOptions

    pdf_format = format_for("application/pdf")
    signed = pdf_format.sign(pdf, signers, profile, visible_stamp=True)
    report = pdf_format.verify(signed, VerifyOptions(pki_dir=".msedocs/pki"))

    p7s = format_for("application/pkcs7-signature").sign(docx, signers, profile)

An unknown media type is an :class:`~signing.errors.UnsupportedDocumentError` that names it.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from .errors import ConfigurationError, UnsupportedDocumentError

if TYPE_CHECKING:
    from .keys import Signer
    from .profile import SigningProfile
    from .report import VerificationReport
    from .validation import VerifyOptions

__all__ = ["Format", "SignatureFormat", "document_head", "format_for", "recognize", "register", "registered"]


class SignatureFormat(Protocol):
    """A signature format: what it is called, the media types it serves, how it signs and verifies."""

    @property
    def name(self) -> str:
        """The signature form: ``XAdES``, ``PAdES``, ``CAdES``."""
        ...

    @property
    def media_types(self) -> tuple[str, ...]:
        """Media types of what ``sign`` returns and ``verify`` reads, the usual one first."""
        ...

    @property
    def detached(self) -> bool:
        """The signature is a file of its own (``.p7s``) beside the content it signs."""
        ...

    def recognizes(self, data: bytes) -> bool:
        """Whether ``data`` looks like this format's signed document (or, detached, its signature)."""
        ...

    def sign(self, content: bytes, signers: Sequence[Signer], profile: SigningProfile, **options: Any) -> bytes:
        """Sign ``content`` once per signer at ``profile.level``: the signed document, or for a
        detached format the signature. ``options`` are the format's own (``visible_stamp``,
        ``declare`` …); an unknown one is a ``TypeError``."""
        ...

    def verify(self, content: bytes, options: VerifyOptions) -> VerificationReport:
        """Verify every signature in ``content`` (for a detached format: the signature, over
        ``options.detached_content``) and the validation policy."""
        ...


@dataclass(frozen=True)
class Format:
    """A :class:`SignatureFormat` made of its parts: how the built-in formats are declared."""

    name: str
    media_types: tuple[str, ...]
    signer: Callable[..., bytes]
    """``signer(content, signers, profile, **options)``: ``sign_xml``, ``sign_pdf``, ``sign_detached``."""
    verifier: Callable[[bytes, VerifyOptions], VerificationReport]
    magic: tuple[bytes, ...]
    """How the bytes start (after a byte order mark and white space, :func:`document_head`)."""
    detached: bool = False

    def recognizes(self, data: bytes) -> bool:
        return document_head(data).startswith(self.magic)

    def sign(self, content: bytes, signers: Sequence[Signer], profile: SigningProfile, **options: Any) -> bytes:
        return self.signer(content, signers, profile, **options)

    def verify(self, content: bytes, options: VerifyOptions) -> VerificationReport:
        return self.verifier(content, options)


def document_head(data: bytes) -> bytes:
    """The first KiB of ``data`` without a leading UTF-8 byte order mark and white space."""
    return data[:1024].lstrip(b"\xef\xbb\xbf \t\r\n")


_REGISTRY: dict[str, SignatureFormat] = {}
#: The modules that register the built-in formats, imported on the first look-up (they load
#: pyHanko, which ``import signing`` does not).
_BUILT_IN = (".xades", ".pades", ".cades")


def _key(media_type: str) -> str:
    return media_type.split(";", 1)[0].strip().lower()


def register(fmt: SignatureFormat, *, replace: bool = False) -> SignatureFormat:
    """Make ``fmt`` the format of each of its media types; ``replace`` to take one over from another
    format (else ``ConfigurationError``). Returns ``fmt``."""
    for media_type in fmt.media_types:
        other = _REGISTRY.get(_key(media_type))
        if other is not None and other is not fmt and not replace:
            raise ConfigurationError(f"media type {media_type} is already registered for {other.name}")
    for media_type in fmt.media_types:
        _REGISTRY[_key(media_type)] = fmt
    return fmt


def _load_built_in() -> None:
    for module in _BUILT_IN:
        importlib.import_module(module, __package__)


def registered() -> dict[str, SignatureFormat]:
    """Media type → format, for every registered format."""
    _load_built_in()
    return dict(_REGISTRY)


def format_for(media_type: str) -> SignatureFormat:
    """The format registered for ``media_type`` (parameters such as ``; charset=`` are ignored)."""
    _load_built_in()
    fmt = _REGISTRY.get(_key(media_type))
    if fmt is None:
        raise UnsupportedDocumentError(
            f"no signature format for media type {media_type!r} (known: {', '.join(sorted(_REGISTRY))})"
        )
    return fmt


def recognize(data: bytes) -> SignatureFormat | None:
    """The format whose signed document ``data`` is, by its first bytes (detached formats are
    not asked: their content can be anything); None if none recognizes it."""
    for fmt in dict.fromkeys(registered().values()):
        if not fmt.detached and fmt.recognizes(data):
            return fmt
    return None
