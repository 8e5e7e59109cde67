"""Verification of XAdES, PAdES and detached CAdES signatures, with a report per signature.

The entry points: :func:`verify_file` (what ``msedocs verify`` runs) finds the format of a
file through the registry (:mod:`signing.formats`), and :func:`verify_xml`,
:func:`verify_pdf`, :func:`verify_detached` verify bytes of a known format. Each format's
verification lives beside its signer (:mod:`signing.xades_verify`,
:mod:`signing.pades_verify`, :mod:`signing.cades_verify`); what they share — the options,
trust, timestamps, the steps every signature takes — in :mod:`signing.validation`, the
report types in :mod:`signing.report`, the validation policy in :mod:`signing.policy`.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Unpack

from .cades_verify import verify_cades
from .errors import UnsupportedDocumentError
from .files import open_regular
from .formats import format_for, recognize
from .pades_verify import verify_pades
from .policy import ValidationPolicy, load_policy
from .profile import Level
from .report import Indication, PolicyOutcome, QualifiedFlags, SignatureReport, VerificationReport
from .validation import VerifyArgs, VerifyOptions
from .xades_verify import verify_xades

__all__ = [
    "MAX_INPUT_BYTES",
    "Indication",
    "PolicyOutcome",
    "QualifiedFlags",
    "SignatureReport",
    "VerificationReport",
    "VerifyOptions",
    "verify_detached",
    "verify_file",
    "verify_pdf",
    "verify_xml",
]

#: The media type of a detached signature beside a file (``<file>.p7s``).
DETACHED_SIGNATURE = "application/pkcs7-signature"


def verify_xml(xml: bytes, **options: Unpack[VerifyArgs]) -> VerificationReport:
    """Verify every ds:Signature that is a child of the document element (and flag any other),
    then the validation ``policy`` (default: as the signatures declare; ``required_level``
    raises its minimum level). Keywords: ``pki_dir``, ``trust_roots``, ``required_level``,
    ``path``, ``policy``, as in :class:`~signing.validation.VerifyOptions`."""
    return verify_xades(xml, VerifyOptions(**options))


def verify_pdf(pdf: bytes, **options: Unpack[VerifyArgs]) -> VerificationReport:
    """Verify every signature field of a PDF (PAdES), including coverage and later changes,
    then the policy. Keywords as for :func:`verify_xml`."""
    return verify_pades(pdf, VerifyOptions(**options))


def verify_detached(data: bytes, p7s: bytes, **options: Unpack[VerifyArgs]) -> VerificationReport:
    """Verify every SignerInfo of a detached CMS (``.p7s``, DER or PEM) over ``data``, then
    the policy. Keywords as for :func:`verify_xml`."""
    return verify_cades(p7s, VerifyOptions(**options, detached_content=data))


# ---------------------------------------------------------------- files


MAX_INPUT_BYTES = 256 * 1024 * 1024
"""The largest document (and ``.p7s``) ``verify_file`` reads: 256 MiB."""


def read_input(path: Path, what: str = "", limit: int = MAX_INPUT_BYTES) -> bytes:
    """The bytes of a regular file of at most ``limit`` bytes; anything else is refused at once.

    Opened without blocking (a FIFO does not hang us), checked with fstat on the open file
    (no race between check and read), and read no further than the limit.
    """
    name = f"{what}{path}"
    refused = "folders, devices, FIFOs and sockets are refused"
    f, size = open_regular(
        path,
        lambda why: UnsupportedDocumentError(f"cannot read {name}: {why}"),
        lambda: UnsupportedDocumentError(f"{name}: not a regular file ({refused})"),
    )
    with f:
        if size > limit:
            raise UnsupportedDocumentError(f"{name}: {size} bytes, over the limit of {limit} bytes")
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
    :data:`MAX_INPUT_BYTES`. The format is the registered one that recognizes the file's
    content (:func:`signing.formats.recognize`); a ``.p7s`` goes to the detached format.
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
    options = VerifyOptions(pki_dir=pki_dir, trust_roots=roots, policy=pol, path=str(p))
    if p.suffix.lower() == ".p7s":
        content_path, sig_path = p.with_suffix(""), p
        if not content_path.exists() and content_path.with_suffix("").is_file():  # <file>.<role>.p7s
            content_path = content_path.with_suffix("")
    else:
        content_path, sig_path = p, Path(str(p) + ".p7s")
    data = read_input(content_path)
    fmt = recognize(data)
    if (fmt is None or p.suffix.lower() == ".p7s") and (sig_path.exists() or sig_path.is_symlink()):
        p7s = read_input(sig_path)
        return format_for(DETACHED_SIGNATURE).verify(p7s, replace(options, detached_content=data))
    if fmt is not None:
        return fmt.verify(data, options)
    raise UnsupportedDocumentError(f"{p}: not XML or PDF, and no {sig_path.name} next to it")
