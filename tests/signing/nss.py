"""poppler's pdfsig with a throwaway NSS database: the test decides which roots it trusts.

pdfsig checks each signer's certificate with NSS (``CERT_PKIXVerifyCert``, usage email
signer) against the database given by ``-nssdir``, at the current time, and asks the OCSP
responder named in the certificate's AIA (soft failure; ``-no-ocsp`` turns that off). It
does not read the PDF's DSS, so embedded OCSP responses and CRLs of B-LT play no part.

poppler 22.12 (Debian 12) reads ``PORT_GetError()`` without looking at the result of the
verification, so a verification that succeeded after an OCSP request failed (or, with
``-no-ocsp``, after NSS looked up an absent extension) prints "Unknown issue with
Certificate or corrupted data." instead of "Certificate is Trusted.". Later poppler checks
the result first. With a responder that answers, both print the truth.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from .helpers import need, run

#: pdfsig's verdicts (poppler utils/pdfsig.cc, getReadableSigState / getReadableCertState)
SIGNATURE_VALID = "Signature is Valid."
CERT_TRUSTED = "Certificate is Trusted."
CERT_UNTRUSTED_ISSUER = "Certificate issuer isn't Trusted."
CERT_REVOKED = "Certificate has been Revoked."


def _certutil(*args: str | Path) -> str:
    r = run("certutil", *args)
    assert r.returncode == 0, f"certutil {' '.join(map(str, args))} failed ({r.returncode}): {r.stderr}{r.stdout}"
    return r.stdout


def nss_db(directory: Path, trusted_roots: Sequence[Path] = ()) -> str:
    """A new NSS database in ``directory`` that trusts exactly ``trusted_roots`` (PEM) as CAs.

    Returns the ``sql:DIR`` spec for ``pdfsig -nssdir``. Intermediate CAs are deliberately
    not imported: pdfsig must find them in the signature, and the trust must come from a root.
    """
    need("certutil")
    directory.mkdir(parents=True, exist_ok=False)
    db = f"sql:{directory}"
    _certutil("-N", "-d", db, "--empty-password")
    for i, root in enumerate(trusted_roots):
        _certutil("-A", "-n", f"trusted-root-{i}", "-t", "CT,C,C", "-i", root, "-d", db)
    listing = _certutil("-L", "-d", db)
    assert listing.count("CT,C,C") == len(trusted_roots), listing
    return db


@dataclass
class PdfsigSignature:
    """One ``Signature #n:`` block of pdfsig's output."""

    fields: dict[str, str] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)  # lines without "key: value", e.g. "Total document signed"

    @property
    def signature(self) -> str:
        return self.fields.get("Signature Validation", "")

    @property
    def certificate(self) -> str:
        return self.fields.get("Certificate Validation", "")

    @property
    def signer(self) -> str:
        return self.fields.get("Signer Certificate Common Name", "")


@dataclass
class PdfsigReport:
    out: str
    signatures: list[PdfsigSignature]


def pdfsig(path: Path, nssdir: str, *options: str) -> PdfsigReport:
    """Run ``pdfsig -nssdir NSSDIR [options] PATH`` and split its output per signature."""
    need("pdfsig")
    r = run("pdfsig", "-nssdir", nssdir, *options, path)
    out = r.stdout
    assert r.returncode == 0, f"pdfsig exited {r.returncode}: {r.stderr}{out}"
    sigs: list[PdfsigSignature] = []
    for line in out.splitlines():
        if re.fullmatch(r"Signature #\d+:", line):
            sigs.append(PdfsigSignature())
        elif sigs and line.startswith("  - "):
            key, sep, value = line[4:].partition(": ")
            if sep:
                sigs[-1].fields[key] = value
            else:
                sigs[-1].notes.append(key)
    return PdfsigReport(out, sigs)
