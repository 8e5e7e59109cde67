"""CAdES verification (ETSI EN 319 122-1): the SignerInfos of a CMS SignedData.

:func:`verify_signer_info` checks one SignerInfo over content whose digest the caller gives:
a detached ``.p7s`` here (:func:`verify_cades`), and each PAdES signature
(:mod:`signing.pades_verify`), whose CMS is the same CAdES. Integrity by pyHanko, then the
signature timestamp, the signer's certificate, and any archive-time-stamp-v3
(:mod:`signing._ats`) as every format takes them (:mod:`signing.validation`).
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Callable

from asn1crypto import cms
from asn1crypto import x509 as asn1_x509
from pyhanko.sign.validation import generic_cms
from pyhanko.sign.validation.errors import SignatureValidationError

from . import _ats
from ._async import run_sync
from ._cms import claimed_roles
from .declaration import Declaration
from .errors import UnsupportedDocumentError
from .policy import Findings, apply_policy
from .profile import Level
from .report import Indication, SignatureReport, VerificationReport
from .validation import (
    Fail,
    Revinfo,
    ValidationData,
    VerifyOptions,
    archive_timestamp,
    assess_signer,
    qualified_flags,
    reach_lta,
    read_declaration,
    signature_timestamp,
    subject_of,
)

__all__ = ["verify_cades", "verify_signer_info"]


def _signed_data_revinfo(sd: cms.SignedData) -> Revinfo:
    out = Revinfo()
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


async def verify_signer_info(
    sd: cms.SignedData,
    si: cms.SignerInfo,
    actual_digest: Callable[[str], bytes],
    outside: ValidationData,
    rep: SignatureReport,
    findings: Findings,
) -> None:
    """Check one SignerInfo of ``sd`` over the content whose digest ``actual_digest`` gives
    (by algorithm name), with the trust and the validation data from outside the CMS in
    ``outside`` (a PDF's DSS); the outcome goes into ``rep``."""
    try:
        md_alg = si["digest_algorithm"]["algorithm"].native
        if md_alg in ("sha1", "md5"):
            raise Fail(Indication.INDETERMINATE, "CRYPTO_CONSTRAINTS_FAILURE_NO_POE", f"weak digest {md_alg} refused")
        cert = _signer_cert(sd, si)
        if cert is None:
            raise Fail(Indication.INDETERMINATE, "NO_SIGNING_CERTIFICATE_FOUND", "signer certificate not in the CMS")
        rep.signer_subject = subject_of(cert)
        rep.signer_serial = f"{cert.serial_number:X}"
        rep.certificate_sha256 = hashlib.sha256(cert.dump()).hexdigest()
        rep.qualified = qualified_flags(cert)
        roles = claimed_roles(si)
        rep.role = rep.role or (roles[0] if roles else None)
        rep.signing_time = rep.signing_time or generic_cms.extract_self_reported_ts(si)
        try:
            generic_cms._check_signing_certificate(cert, si["signed_attrs"])
        except SignatureValidationError as exc:
            raise Fail(Indication.INDETERMINATE, "NO_SIGNING_CERTIFICATE_FOUND", str(exc.failure_message)) from exc
        try:
            intact, valid = generic_cms.validate_sig_integrity(si, cert, "data", actual_digest(md_alg))
        except SignatureValidationError as exc:
            indic = exc.ades_subindication
            sub = str(getattr(indic, "name", indic)) if indic else "SIG_CRYPTO_FAILURE"
            ind = Indication.INDETERMINATE if "CONSTRAINTS" in sub else Indication.TOTAL_FAILED
            raise Fail(ind, sub, str(exc.failure_message)) from exc
        if not intact:
            raise Fail(Indication.TOTAL_FAILED, "HASH_FAILURE", "message digest does not match the content")
        if not valid:
            raise Fail(Indication.TOTAL_FAILED, "SIG_CRYPTO_FAILURE", "the signature value does not verify")
        rep.level = Level.B_B.value
        read_declaration(findings, lambda: Declaration.from_signer_info(si))
        emb = _signed_data_revinfo(sd)
        emb.certs += outside.embedded.certs
        emb.crls += outside.embedded.crls
        emb.ocsps += outside.embedded.ocsps
        vdata = ValidationData(outside.trust, emb.certs, emb)
        poe = None
        token = _cms_ts(si)
        if token is not None:
            sig_bytes = si["signature"].native

            def imprint(algo: str) -> bytes:
                return hashlib.new(algo, sig_bytes).digest()

            poe = await signature_timestamp(rep, token, imprint, vdata)
        (await assess_signer(cert, vdata, poe)).apply(rep)
        for token_der in _ats.archive_timestamps(si):
            reach_lta(rep, await _check_archive_timestamp(token_der, sd, si, actual_digest, vdata))
    except Fail as f:
        f.apply(rep)


async def _check_archive_timestamp(
    token_der: bytes,
    sd: cms.SignedData,
    si: cms.SignerInfo,
    content_hash: Callable[[str], bytes],
    vdata: ValidationData,
) -> dt.datetime | None:
    """A CAdES archive-time-stamp-v3: its time if valid and trusted; a mismatch fails the signature."""
    try:
        token = cms.ContentInfo.load(token_der)
        checked = _ats.check_index(token, sd, si, content_hash)
    except (ValueError, KeyError, TypeError, IndexError) as exc:
        raise Fail(Indication.TOTAL_FAILED, "FORMAT_FAILURE", f"archive timestamp unreadable: {exc}") from exc
    if isinstance(checked, str):
        raise Fail(Indication.TOTAL_FAILED, "HASH_FAILURE", checked)
    data = checked[1]
    mismatch = "the archive timestamp does not match the signature and its validation data"
    return await archive_timestamp(token_der, lambda algo: hashlib.new(algo, data).digest(), vdata, mismatch)


def verify_cades(p7s: bytes, options: VerifyOptions) -> VerificationReport:
    """Verify every SignerInfo of a detached CMS (``.p7s``, DER or PEM) over
    ``options.detached_content``, then the validation policy of ``options``."""
    pol = options.validation_policy()
    data = options.detached_content
    if data is None:
        raise UnsupportedDocumentError(
            "a detached CAdES signature is verified with the content it signs (VerifyOptions.detached_content)"
        )
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
    outside = ValidationData(options.trust(), [], Revinfo())
    findings = Findings()
    digests: dict[str, bytes] = {}

    def actual(alg: str) -> bytes:
        if alg not in digests:
            digests[alg] = hashlib.new(alg, data).digest()
        return digests[alg]

    report = VerificationReport(path=options.path, format="CAdES")

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
                await verify_signer_info(sd, si, actual, outside, rep, findings)
            report.signatures.append(rep)

    run_sync(run())
    apply_policy(report, pol, findings)
    return report
